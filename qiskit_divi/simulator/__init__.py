"""The local simulator: a parallel, seeded, optionally noisy Aer engine and its Qiskit backend."""

from .backend import ParallelSimulatorBackend
from .engine import SampleResult, SimulationEngine
from .job import ParallelSimulatorJob

__all__ = ["ParallelSimulatorBackend", "ParallelSimulatorJob", "SampleResult", "SimulationEngine"]
