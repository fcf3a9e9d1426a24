"""Divi's documented ``CircuitRunner`` API, as its Backends Guide shows it.

``ConnectionError`` here is the guide's: qiskit-divi's connection failure, a subclass of
the builtin ``ConnectionError``, so ``except ConnectionError`` catches it either way.
``JobStatus`` here is the guide's too: :class:`~qiskit_divi.QoroJobStatus`,
named apart from Qiskit's ``JobStatus`` everywhere else.
"""

from ..exceptions import JobFailedError, QoroConnectionError
from ..exceptions import QoroConnectionError as ConnectionError
from ..qoro.protocol import JobType
from ..qoro.protocol import QoroJobStatus as JobStatus
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
