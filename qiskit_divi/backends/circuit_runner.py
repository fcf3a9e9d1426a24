"""The documented Divi interface every execution backend implements."""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from ..circuits import CircuitLike
from ..exceptions import InvalidInputError, InvalidTypeError
from ..options import positive_int

ParameterSets = Mapping[str, Sequence[float]]
"""Rows of parameter values by label: each row lists a value for each of the circuit's
``parameters``, in that (Qiskit's sorted) order."""


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


def checked_parameter_sets(circuit: object, sets: object) -> dict[str, list[float]]:
    """Check a parametric submission: a circuit with parameters and a non-empty mapping
    of row label -> one finite value per parameter (in ``circuit.parameters`` order)."""
    if not isinstance(circuit, QuantumCircuit):
        raise InvalidTypeError(f"expected a QuantumCircuit with parameters, got {circuit!r}")
    if not circuit.parameters:
        raise InvalidInputError(
            f"circuit {circuit.name!r} has no parameters; use submit_circuits for it"
        )
    if not isinstance(sets, Mapping) or not sets:
        raise InvalidInputError("parameter_sets must be a non-empty mapping of label -> values")
    width = circuit.num_parameters
    rows = {}
    for label, values in sets.items():
        if not isinstance(label, str) or not label:
            raise InvalidTypeError(
                f"parameter set labels must be non-empty strings, got {label!r}"
            )
        listed = isinstance(values, Sequence | np.ndarray) and not isinstance(values, str)
        row = list(np.ravel(values)) if listed else []
        if len(row) != width or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            for v in row
        ):
            names = ", ".join(p.name for p in circuit.parameters)
            raise InvalidInputError(
                f"parameter set {label!r} must list {width} finite values, one for each of "
                f"{names} in that order; got {values!r}"
            )
        rows[label] = [float(v) for v in row]
    return rows
