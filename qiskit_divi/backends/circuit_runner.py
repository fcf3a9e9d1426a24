"""The documented Divi interface every execution backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from ..circuits import CircuitLike
from ..options import positive_int


class CircuitRunner(ABC):
    """Runs labelled circuits somewhere: locally (ParallelSimulator) or on Qoro's cloud.

    Args:
        shots: measurements per circuit; a positive integer.
    """

    def __init__(self, shots: int = 1000) -> None:
        self.shots = shots

    @property
    def shots(self) -> int:
        """Measurements per circuit."""
        return self._shots

    @shots.setter
    def shots(self, value: int) -> None:
        self._shots = positive_int("shots", value)

    @abstractmethod
    def submit_circuits(
        self, circuits: Mapping[str, CircuitLike], *args: Any, **kwargs: Any
    ) -> Any:
        """Run (or submit) ``circuits``, a mapping of label -> OpenQASM 2 text or circuit."""
