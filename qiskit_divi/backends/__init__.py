"""Divi's documented ``CircuitRunner`` API, as its Backends Guide shows it.

``ConnectionError`` here is the guide's: qiskit-divi's connection failure, a subclass of
the builtin ``ConnectionError``, so ``except ConnectionError`` catches it either way.
"""

from ..exceptions import JobFailedError, QoroConnectionError
from ..exceptions import QoroConnectionError as ConnectionError
from ..qoro.protocol import JobStatus, JobType
from .circuit_runner import CircuitRunner
from .parallel_simulator import ParallelSimulator
from .qoro_service import QoroService

__all__ = [
    "CircuitRunner",
    "ConnectionError",
    "JobFailedError",
    "JobStatus",
    "JobType",
    "ParallelSimulator",
    "QoroConnectionError",
    "QoroService",
]
