"""qiskit-divi: Divi's parallel simulator and Qoro Quantum's cloud as Qiskit backends."""

from .exceptions import DiviError
from .qoro.protocol import JobStatus, JobType
from .simulator import ParallelSimulatorBackend
from .version import __version__

__all__ = [
    "DiviError",
    "JobStatus",
    "JobType",
    "ParallelSimulatorBackend",
    "__version__",
]
