"""Divi's documented ``CircuitRunner`` API, as its Backends Guide shows it."""

from ..exceptions import JobFailedError, QoroConnectionError
from ..qoro.protocol import JobStatus, JobType
from .circuit_runner import CircuitRunner
from .parallel_simulator import ParallelSimulator
from .qoro_service import QoroService

__all__ = [
    "CircuitRunner",
    "JobFailedError",
    "JobStatus",
    "JobType",
    "ParallelSimulator",
    "QoroConnectionError",
    "QoroService",
]
