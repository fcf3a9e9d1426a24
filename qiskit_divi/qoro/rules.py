"""The rules every Qoro run keeps, whichever face submitted it: what is checked before
anything is sent, how circuits are labelled and results matched to them, how a
histogram's shots are laid out, and how Pauli labels are written on the wire."""

from __future__ import annotations

import hashlib
import re
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


#: A label :func:`submission_label` writes: the circuit's index in its job, then its name.
_LABEL = re.compile(r"(\d+)_(.*)", re.DOTALL)


def submission_label(index: int, circuit: QuantumCircuit) -> str:
    """The label the ``index``-th circuit of a ``backend.run`` job travels under:
    ``<index>_<name>``, unique within the job, readable on the service's side, and
    enough to restore submission order and names for a job known only by its id."""
    return f"{index}_{circuit.name}"


def submission_order(labels: Sequence[str]) -> list[tuple[str, str]]:
    """Each label of a job whose circuits are not known here, with the name of the
    circuit it stands for: in submission order when the labels are those of
    :func:`submission_label`, else in the order given, each label its own name."""
    parsed = [match for match in map(_LABEL.fullmatch, labels) if match]
    if sorted(int(match[1]) for match in parsed) == list(range(len(labels))):
        return [(match[0], match[2]) for match in sorted(parsed, key=lambda m: int(m[1]))]
    return [(label, label) for label in labels]


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


def counted(job_id: str, label: str, result: CircuitResult, shots: int, width: int) -> Outcomes:
    """``result``, circuit ``label``'s, as the histogram of ``shots`` outcomes of ``width``
    bits it must be: the service runs every shot asked, and its outcomes have a bit per
    classical bit the circuit's OpenQASM 2 text declares (see
    :class:`~qiskit_divi.circuits.QasmLayout`).

    Raises:
        CorruptResultError: it is expectation values, or another number of bits or shots.
    """
    circuit = f"job {job_id}: circuit {label!r}"
    if not isinstance(result, Outcomes):
        raise CorruptResultError(f"{circuit}: expected a histogram, got expectation values")
    if len(result.values) and result.num_bits != width:
        raise CorruptResultError(
            f"{circuit} has outcomes of [{result.num_bits}] bits, expected {width}"
        )
    if result.num_shots != shots:
        raise CorruptResultError(
            f"{circuit} counts {result.num_shots} shots, but {shots} were asked"
        )
    return result
