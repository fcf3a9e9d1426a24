"""Qiskit's SamplerV2 and EstimatorV2 primitives, native on qiskit-divi's two backends."""

from .estimator import EstimatorV2
from .sampler import SamplerV2

__all__ = ["EstimatorV2", "SamplerV2"]
