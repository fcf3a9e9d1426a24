"""What one job may ask of a local server, and a circuit's size read from its text.

qasm2's parser builds every declared bit and every statement as a Python object: a
128-byte ``qreg q[4000000];`` takes seconds and a gigabyte, and nested gate definitions
multiply the gates a simulator runs with every level. So :func:`measure_program` reads a
program's registers, the nesting of its gate definitions and its gate count, definitions
expanded, from the text, in one pass that allocates nothing per bit or per expanded gate,
and refuses a program past a limit before anything parses it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from qiskit import QuantumCircuit

from ..circuits import parse_qasm
from ..exceptions import CircuitTooWideError, InvalidCircuitError, InvalidInputError
from ..qoro.codec import _MAX_BITS as MAX_OUTCOME_BITS  # the widest outcome clients decode
from ..qoro.codec import unpack_circuit
from .config import SystemConfig


@dataclass(frozen=True)
class Limits:
    """Per-job limits a server enforces; each is a ``qiskit-divi serve`` option.

    Attributes:
        max_qubits: widest circuit on a simulator system (a QPU system takes its own size).
        max_clbits: classical bits per circuit, so per outcome (at most what clients decode).
        max_gates: gates per circuit, gate definitions expanded.
        max_gate_depth: how deeply gate definitions may call other defined gates.
        max_shots: shots per circuit.
        max_outcomes: outcomes per job: shots times circuits.
        job_memory_mb: memory (address space) a job may add to its worker process, in MiB;
            checking a chunk's circuits has the same budget.
        job_seconds: wall time a job may run; checking a chunk's circuits has the same.
        body_seconds: time a client has to send a request's body (HTTP 408 past it).
    """

    max_qubits: int = 64
    max_clbits: int = 1024
    max_gates: int = 1_000_000
    max_gate_depth: int = 20
    max_shots: int = 1_000_000
    max_outcomes: int = 10_000_000
    job_memory_mb: int = 4096
    job_seconds: float = 600.0
    body_seconds: float = 60.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            kinds = (int, float) if field.name.endswith("_seconds") else (int,)
            if isinstance(value, bool) or not isinstance(value, kinds):
                kind = "a number" if float in kinds else "an integer"
                raise InvalidInputError(f"limit {field.name} must be {kind}, got {value!r}")
            if not (value > 0 and math.isfinite(value)):
                raise InvalidInputError(f"limit {field.name} must be positive, got {value!r}")
        if self.max_shots > self.max_outcomes:
            raise InvalidInputError(
                f"limit max_shots ({self.max_shots}) may not pass max_outcomes "
                f"({self.max_outcomes}): one circuit's shots are outcomes of its job"
            )
        if self.max_clbits > MAX_OUTCOME_BITS:
            raise InvalidInputError(
                f"limit max_clbits may be at most {MAX_OUTCOME_BITS} (the widest outcome "
                f"clients decode), got {self.max_clbits}"
            )


@dataclass(frozen=True)
class ProgramSize:
    """What a program declares and runs, read from its text."""

    qubits: int
    clbits: int
    gates: int  # definitions expanded, register-wide statements counted per bit
    measures: bool


# Comments, then statements: text up to a ";", "{" or "}" and that delimiter.
_COMMENT = re.compile(r"//[^\n]*")
_PIECE = re.compile(r"([^;{}]*)([;{}])")
_REGISTER = re.compile(r"(q|c)reg\s+([A-Za-z_]\w*)\s*\[\s*(\d+)\s*\]\s*$")
_GATE = re.compile(r"gate\s+([A-Za-z_]\w*)")
_NAME = re.compile(r"([A-Za-z_]\w*)\s*")
_CONDITION = re.compile(r"if\s*\([^)]*\)\s*")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_DECLARATIONS = frozenset({"OPENQASM", "include"})
_DIGITS = 9  # a register size of more digits is past any limit; int() is never asked


def measure_program(label: str, text: str, limits: Limits, width: int, system: str) -> ProgramSize:
    """A program's size, refused at the first limit it passes.

    ``width`` is the widest circuit ``system`` takes. What is not OpenQASM is let
    through at its size so far: the parser, which only runs on programs within the
    limits, names the error.

    Raises:
        CircuitTooWideError: more qubits than ``width``.
        InvalidCircuitError: past another limit (named).
    """
    scan = _Scan(label, limits, width, system)
    for body, end in _PIECE.findall(_COMMENT.sub("", text)):
        scan.piece(body.strip(), end)
    return ProgramSize(scan.qubits, scan.clbits, scan.gates, scan.measures)


class _Scan:
    """The state of one pass over a program's statements."""

    def __init__(self, label: str, limits: Limits, width: int, system: str) -> None:
        self.label, self.limits, self.width, self.system = label, limits, width, system
        self.qubits = self.clbits = self.gates = 0
        self.measures = False
        self.registers: dict[str, int] = {}
        self.cost: dict[str, int] = {}  # defined gate -> gates it expands to
        self.depth: dict[str, int] = {}  # defined gate -> nesting of its definition
        self.defining: str | None = None  # the gate whose body is being read

    def refuse(self, reason: str) -> InvalidCircuitError:
        return InvalidCircuitError(self.label, reason)

    def piece(self, statement: str, end: str) -> None:
        if end == "{":
            gate = _GATE.match(statement)
            self.defining = None if gate is None else gate.group(1)
            if self.defining is not None:
                self.cost[self.defining], self.depth[self.defining] = 0, 1
        elif end == "}":
            self.defining = None
        elif self.defining is not None:
            self.call_in_definition(statement)
        else:
            self.statement(statement)

    def call_in_definition(self, statement: str) -> None:
        gate = self.defining
        assert gate is not None
        callee = _NAME.match(statement)
        if callee is None:
            return
        name = callee.group(1)
        self.cost[gate] = self.capped(self.cost[gate] + self.cost.get(name, 1))
        self.depth[gate] = max(self.depth[gate], self.depth.get(name, 0) + 1)
        if self.depth[gate] > self.limits.max_gate_depth:
            raise self.refuse(
                f"gate definitions nest deeper than {self.limits.max_gate_depth} levels "
                f"(at gate {gate!r}; the server's max_gate_depth)"
            )
        if self.cost[gate] > self.limits.max_gates:
            raise self.refuse(
                f"gate {gate!r} expands to more than {self.limits.max_gates} gates "
                "(the server's max_gates)"
            )

    def statement(self, statement: str) -> None:
        register = _REGISTER.match(statement)
        if register is not None:
            self.declare(register.group(1), register.group(2), register.group(3))
            return
        statement = _CONDITION.sub("", statement, count=1)
        name = _NAME.match(statement)
        if name is None or name.group(1) in _DECLARATIONS:
            return
        keyword = name.group(1)
        if keyword == "opaque":
            opaque = _NAME.match(statement, name.end())
            if opaque is not None:
                self.cost[opaque.group(1)], self.depth[opaque.group(1)] = 1, 1
            return
        self.measures |= keyword == "measure"
        arguments = statement[name.end() :]
        if arguments.startswith("("):
            arguments = arguments[_closing(arguments) + 1 :]
        times = max((self.registers.get(arg, 1) for arg in _whole_registers(arguments)), default=1)
        self.gates = self.capped(self.gates + self.cost.get(keyword, 1) * times)
        if self.gates > self.limits.max_gates:
            raise self.refuse(
                f"runs more than {self.limits.max_gates} gates, definitions expanded "
                "(the server's max_gates)"
            )

    def declare(self, kind: str, name: str, digits: str) -> None:
        """Count a register; a size of more digits than any limit is never converted."""
        size = int(digits) if len(digits) <= _DIGITS else math.inf
        if kind == "q":
            if self.qubits + size > self.width:
                total = digits if size == math.inf else self.qubits + size
                raise CircuitTooWideError(
                    self.label, f"{total} qubits, but {self.system} has {self.width}"
                )
            self.qubits += int(size)
        else:
            if self.clbits + size > self.limits.max_clbits:
                total = digits if size == math.inf else self.clbits + size
                raise self.refuse(
                    f"{total} classical bits, but the server takes at most "
                    f"{self.limits.max_clbits} (its max_clbits)"
                )
            self.clbits += int(size)
        self.registers[name] = int(size)

    def capped(self, count: int) -> int:
        """Counts past the limit stop growing, so the arithmetic stays small."""
        return min(count, self.limits.max_gates + 1)


def _closing(text: str) -> int:
    """Index of the parenthesis closing the one ``text`` starts with (or its end)."""
    depth = 0
    for index, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return index
    return len(text)


def _whole_registers(arguments: str) -> list[str]:
    """Arguments naming a whole register (``q``, not ``q[0]``): the statement runs per bit."""
    parts = (part.strip() for part in arguments.replace("->", ",").split(","))
    return [part for part in parts if _IDENTIFIER.fullmatch(part)]


def system_width(system: SystemConfig, limits: Limits) -> tuple[int, str]:
    """The widest circuit a system takes, and how to name that limit in a refusal."""
    if system.num_qubits is not None:
        return system.num_qubits, repr(system.name)
    return limits.max_qubits, f"{system.name!r} (the server's max_qubits)"


def load_program(
    label: str, packed: str, limits: Limits, width: int, system: str
) -> tuple[str, QuantumCircuit]:
    """A packed circuit's OpenQASM and the circuit, parsed only once it is within the limits.

    Raises:
        InvalidCircuitError: not a packed OpenQASM 2 program, or past a limit (named).
    """
    try:
        qasm = unpack_circuit(packed)
    except ValueError as err:
        raise InvalidCircuitError(label, str(err)) from err
    measure_program(label, qasm, limits, width, system)
    return qasm, parse_qasm(label, qasm)


def check_circuits(
    circuits: Mapping[str, str],
    limits: Limits,
    width: int,
    system: str,
    observable_widths: Mapping[str, int],
) -> None:
    """Refuse a chunk's first circuit its job could not run, naming it (in a worker).

    Circuits sampled (not in ``observable_widths``) must measure; circuits of expectation
    values must be as wide as their observables. The runner loads each circuit again when
    the job runs, possibly after a restart: a ``QuantumCircuit`` does not go into the
    database, its text does.
    """
    for label, packed in circuits.items():
        circuit = load_program(label, packed, limits, width, system)[1]
        observable_width = observable_widths.get(label)
        if observable_width is None and "measure" not in circuit.count_ops():
            raise InvalidCircuitError(
                label, "measures nothing: a sampling job would count nothing"
            )
        if observable_width is not None and observable_width != circuit.num_qubits:
            raise InvalidCircuitError(
                label,
                f"{circuit.num_qubits} qubits, but the observables act on {observable_width}",
            )
