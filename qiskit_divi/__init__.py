"""qiskit-divi: Divi's parallel simulator and Qoro Quantum's cloud as Qiskit backends."""

from .exceptions import DiviError
from .primitives import EstimatorV2, SamplerV2
from .provider import DiviProvider
from .qoro.backend import QoroBackend
from .qoro.protocol import JobType, QoroJobStatus
from .qoro.protocol import QoroJobStatus as JobStatus  # the name Divi's Backends Guide uses
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
    "QoroJobStatus",
    "SamplerV2",
    "__version__",
]
