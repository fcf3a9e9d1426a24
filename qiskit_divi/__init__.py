"""qiskit-divi: Divi's parallel simulator and Qoro Quantum's cloud as Qiskit backends."""

from .exceptions import DiviError
from .primitives import EstimatorV2, SamplerV2
from .provider import DiviProvider
from .qoro.backend import QoroBackend
from .qoro.protocol import JobStatus, JobType
from .simulator import ParallelSimulatorBackend
from .version import __version__

__all__ = [
    "DiviError",
    "DiviProvider",
    "EstimatorV2",
    "JobStatus",
    "JobType",
    "ParallelSimulatorBackend",
    "QoroBackend",
    "SamplerV2",
    "__version__",
]
