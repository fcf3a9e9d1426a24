"""The local simulator: a parallel, seeded, optionally noisy Aer engine and its Qiskit backend."""

from .engine import SampleResult, SimulationEngine

__all__ = ["SampleResult", "SimulationEngine"]
