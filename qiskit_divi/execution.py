"""The execution interface every target implements: submit work, get a handle, read typed results.

The faces (``BackendV2.run``, the primitives, Divi's ``CircuitRunner`` API) turn what
their users give into work items and render what comes back; a target (the local engine
in :mod:`qiskit_divi.simulator.execution`, Qoro in :mod:`qiskit_divi.qoro.execution`)
checks every item before anything runs or is sent, runs them, and returns one typed
result per item, in item order, through a :class:`Handle`:

- sampling: per item, one :class:`~qiskit_divi.outcomes.Outcomes` per parameter set;
- estimating: per item, an :class:`Estimate`, a value per (parameter set, observable).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp

from .outcomes import Outcomes

R = TypeVar("R", covariant=True)


@dataclass(frozen=True)
class SampleWork:
    """One circuit to sample ``shots`` times for each of its parameter sets.

    ``parameter_values`` has a row per set and a column per ``circuit.parameters``
    (C order of the user's sets); ``None`` for a bound circuit, which is one set.
    ``label`` is the user's name for the item: errors name it, and Qoro sends a bound
    circuit under it. ``row_labels`` are the user's names for the parameter sets, in row
    order: Qoro sends each set under its own. ``qasm`` is the user's own OpenQASM 2 text
    of a bound circuit, which Qoro sends as given rather than exporting ``circuit``.
    (``None``: the target names the item, its sets, or exports the circuit.)
    """

    circuit: QuantumCircuit
    shots: int
    parameter_values: np.ndarray | None = None
    label: str | None = None
    row_labels: Sequence[str] | None = None
    qasm: str | None = None

    @property
    def num_sets(self) -> int:
        """How many results the item gives: one per parameter set."""
        return 1 if self.parameter_values is None else len(self.parameter_values)


@dataclass(frozen=True)
class EstimateWork:
    """Observables (each as wide as the circuit, qubit 0 rightmost) to estimate on one
    circuit for each of its parameter sets (rows, as in :class:`SampleWork`), exactly
    (``shots`` ``None``) or from ``shots`` measurements per circuit (see
    :func:`precision_shots`); ``label``, ``row_labels`` and ``qasm`` as in
    :class:`SampleWork`."""

    circuit: QuantumCircuit
    observables: Sequence[SparsePauliOp]
    parameter_values: np.ndarray
    shots: int | None = None
    label: str | None = None
    row_labels: Sequence[str] | None = None
    qasm: str | None = None


def precision_shots(precision: float) -> int | None:
    """Shots that bring a term's standard error (variance <= 1) down to ``precision``;
    ``None`` (exact values) for precision 0."""
    return math.ceil(1 / precision**2) if precision > 0 else None


@dataclass(frozen=True)
class Estimate:
    """One item's values, ``evs[set, observable]``, and the variances of those means
    (``None`` where the target reports no spread: the precision asked for stands)."""

    evs: np.ndarray
    variances: np.ndarray | None


@dataclass(frozen=True)
class Terms:
    """Distinct Pauli terms (labels, qubit 0 rightmost) of some observables, and each
    observable's coefficients: ``coefficients[o, j]`` weighs ``paulis[j]`` in observable ``o``.
    """

    paulis: list[str]
    coefficients: np.ndarray

    @classmethod
    def of(cls, observables: Sequence[SparsePauliOp]) -> Terms:
        labelled = [(op.paulis.to_labels(), op.coeffs.real) for op in observables]
        paulis = sorted({label for labels, _ in labelled for label in labels})
        column = {label: j for j, label in enumerate(paulis)}
        coefficients = np.zeros((len(observables), len(paulis)))
        for o, (labels, coeffs) in enumerate(labelled):
            for label, coefficient in zip(labels, coeffs, strict=True):
                coefficients[o, column[label]] += coefficient
        return cls(paulis, coefficients)


Sampled = list[list[Outcomes]]
"""A sampling run's results: per item, one ``Outcomes`` per parameter set (with each
shot's outcome, in shot order, when memory was asked for)."""


class Handle(Protocol, Generic[R]):
    """Submitted work: its id, its status, and its typed results once it has run."""

    def job_id(self) -> str:
        """The id of the work (for Qoro, the Qoro job ids, comma-separated)."""

    @property
    def metadata(self) -> dict[str, Any]:
        """What the target says of the run, for the metadata of a result."""

    def status(self) -> JobStatus:
        """Qiskit's status of the work."""

    def cancel(self) -> bool:
        """Stop the work if it has not finished; whether it will give no result."""

    def result(self, timeout: float | None = None) -> R:
        """Wait up to ``timeout`` seconds, then the typed results, in item order."""


class Execution(Protocol):
    """What a target does for the faces above it.

    Every method checks all of its work before anything runs or is sent.
    """

    def sample(
        self, work: Sequence[SampleWork], *, seed: int | None, memory: bool
    ) -> Handle[Sampled]:
        """Sample each item; ``memory`` keeps each shot's outcome in shot order."""

    def estimate(
        self, work: Sequence[EstimateWork], *, seed: int | None
    ) -> Handle[list[Estimate]]:
        """Estimate each item's observables."""

    def plan_sample(self, work: Sequence[SampleWork], *, seed: int | None, memory: bool) -> object:
        """What :meth:`sample` would do, checked as it checks, nothing run or sent: the
        target's plan (a ``SimulationPlan`` or a ``SubmissionPlan``)."""

    def plan_estimate(self, work: Sequence[EstimateWork], *, seed: int | None) -> object:
        """What :meth:`estimate` would do, checked as it checks, nothing run or sent."""

    def retrieve_sample(self, job_id: str, work: Sequence[SampleWork]) -> Handle[Sampled]:
        """The handle :meth:`sample` returned for this work, rebuilt from its id."""

    def retrieve_estimate(
        self, job_id: str, work: Sequence[EstimateWork]
    ) -> Handle[list[Estimate]]:
        """The handle :meth:`estimate` returned for this work, rebuilt from its id."""
