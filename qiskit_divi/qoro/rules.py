"""The rules every Qoro run keeps, whichever face submitted it: what is checked before
anything is sent, how results are matched to circuits, how a histogram's shots are laid
out, and how Pauli labels are written on the wire."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
from qiskit import QuantumCircuit

from ..exceptions import CircuitTooWideError, CorruptResultError, InvalidCircuitError
from ..outcomes import Outcomes
from .codec import CircuitResult


def check_fits(label: str, circuit: QuantumCircuit, system: str, num_qubits: int | None) -> None:
    """A circuit must be no wider than the system it goes to (``num_qubits``; ``None``:
    not known here, so the service checks)."""
    if num_qubits is not None and circuit.num_qubits > num_qubits:
        raise CircuitTooWideError(
            label, f"{circuit.num_qubits} qubits, but {system!r} has {num_qubits}"
        )


def check_sampled(
    label: str, circuit: QuantumCircuit, system: str, num_qubits: int | None
) -> None:
    """A circuit to sample must fit the system and measure something to count."""
    check_fits(label, circuit, system, num_qubits)
    if "measure" not in circuit.count_ops():
        raise InvalidCircuitError(
            label, "measures nothing, so there is nothing to count; add measurements"
        )


def matched(
    job_id: str, labels: Sequence[str], results: Mapping[str, CircuitResult]
) -> list[CircuitResult]:
    """Results in the order of ``labels``: matched by label, a missing or stray one is
    corruption."""
    known = set(labels)
    missing = [label for label in labels if label not in results]
    stray = [label for label in results if label not in known]
    if missing or stray:
        raise CorruptResultError(
            f"job {job_id}: results do not match the submitted circuits "
            f"(missing {_few(missing)}, unexpected {_few(stray)})"
        )
    return [results[label] for label in labels]


def _few(labels: list[str], shown: int = 5) -> str:
    """Labels for a message: a handful of them, and how many more."""
    if not labels:
        return "none"
    more = f" and {len(labels) - shown} more" if len(labels) > shown else ""
    return f"{labels[:shown]}{more}"


def shot_order(job_id: str, position: int) -> np.random.Generator:
    """The order a histogram's shots are laid out in (it has none): random, fixed by the
    job id and the circuit's position in the job, so a rebuilt job reads the same shots
    and equal histograms in one job are not laid out alike."""
    job_seed = int.from_bytes(hashlib.sha256(job_id.encode()).digest())
    return np.random.default_rng([job_seed, position])


def wire_term(label: str) -> str:
    """A Pauli label as the wire writes it (qubit 0 leftmost) from Qiskit's (qubit 0
    rightmost), and back: the one reversal between the two."""
    return label[::-1]


def counted(job_id: str, result: CircuitResult, shots: int, width: int) -> Outcomes:
    """``result`` as the histogram of ``shots`` outcomes of ``width`` bits it must be.

    Raises:
        CorruptResultError: it is expectation values, or another number of shots or bits.
    """
    if not isinstance(result, Outcomes):
        raise CorruptResultError(f"job {job_id}: expected a histogram, got expectation values")
    if result.num_shots != shots or (len(result.values) and result.num_bits != width):
        raise CorruptResultError(
            f"job {job_id}: expected {shots} outcomes of {width} bits, got "
            f"{result.num_shots} of {result.num_bits} bits"
        )
    return result
