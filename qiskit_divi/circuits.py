"""Circuits in and out of OpenQASM 2, with errors that name the circuit at fault.

Both the local engine and the Qoro client take circuits as OpenQASM 2 strings or
``QuantumCircuit`` objects; this is the one place that converts between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

from qiskit import QuantumCircuit, qasm2

from .exceptions import InvalidCircuitError, InvalidInputError

CircuitLike: TypeAlias = str | QuantumCircuit


def parse_qasm(label: str, qasm: str) -> QuantumCircuit:
    """Parse one OpenQASM 2 program; the circuit is named after its label."""
    try:
        # Gates ``qasm2.dumps`` writes that qelib1.inc lacks (e.g. ``rzz``) are read back
        # as the same Qiskit gates, so a dumps/loads round trip is lossless.
        circuit = qasm2.loads(
            qasm, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS
        )
    except qasm2.QASM2ParseError as err:
        raise InvalidCircuitError(label, f"invalid OpenQASM 2: {err}") from err
    circuit.name = label
    return circuit


def _wrong_kind(label: str, circuit: object) -> TypeError:
    return TypeError(
        f"circuit {label!r}: expected an OpenQASM 2 string or a QuantumCircuit, "
        f"got {type(circuit).__name__}"
    )


def to_circuit(label: str, circuit: object) -> QuantumCircuit:
    """A ``QuantumCircuit`` from either accepted form."""
    if isinstance(circuit, QuantumCircuit):
        return circuit
    if isinstance(circuit, str):
        return parse_qasm(label, circuit)
    raise _wrong_kind(label, circuit)


def to_qasm(label: str, circuit: object) -> str:
    """OpenQASM 2 text for a circuit; a string is checked by parsing it, not trusted."""
    if isinstance(circuit, str):
        parse_qasm(label, circuit)
        return circuit
    if not isinstance(circuit, QuantumCircuit):
        raise _wrong_kind(label, circuit)
    if circuit.parameters:
        names = ", ".join(sorted(p.name for p in circuit.parameters))
        raise InvalidCircuitError(label, f"unbound parameters ({names}); bind them first")
    try:
        qasm = qasm2.dumps(circuit)
    except qasm2.QASM2ExportError as err:
        culprit = _first_unexportable(circuit)
        raise InvalidCircuitError(
            label, f"{culprit} cannot be written as OpenQASM 2: {err}"
        ) from err
    opaque = [
        line.split()[1].split("(")[0] for line in qasm.splitlines() if line.startswith("opaque ")
    ]
    if opaque:
        raise InvalidCircuitError(
            label,
            f"instruction {opaque[0]!r} would be written as an opaque gate, which no "
            "OpenQASM 2 reader can run; remove or decompose it first",
        )
    return qasm


def _first_unexportable(circuit: QuantumCircuit) -> str:
    """Name the first instruction that OpenQASM 2 cannot carry, exporting each on its own."""
    for index, instruction in enumerate(circuit.data):
        probe = circuit.copy_empty_like()
        probe.append(instruction)
        try:
            qasm2.dumps(probe)
        except qasm2.QASM2ExportError:
            return f"instruction {instruction.operation.name!r} (#{index})"
    return "the circuit"


def labelled(circuits: Mapping[str, CircuitLike]) -> dict[str, CircuitLike]:
    """Check a label -> circuit mapping: a non-empty dict with string labels."""
    if not isinstance(circuits, Mapping):
        raise TypeError(
            f"circuits must be a mapping of label -> circuit, got {type(circuits).__name__}"
        )
    if not circuits:
        raise InvalidInputError("no circuits given: the mapping is empty")
    for label in circuits:
        if not isinstance(label, str):
            raise TypeError(f"circuit labels must be strings, got {label!r}")
    return dict(circuits)
