"""Circuits in and out of OpenQASM 2, with errors that name the circuit at fault.

Both the local engine and the Qoro client take circuits as OpenQASM 2 strings or
``QuantumCircuit`` objects; this is the one place that converts between the two.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

import qiskit
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import Clbit, Gate, Operation, Parameter, ParameterExpression
from qiskit.circuit.library import get_standard_gate_name_mapping

from .exceptions import InvalidCircuitError, InvalidInputError, InvalidTypeError

CircuitLike: TypeAlias = str | QuantumCircuit

#: Instructions ``qasm2.dumps`` writes by name or with a definition of its own.
_STANDARD = frozenset(get_standard_gate_name_mapping())
#: What ``qasm2.dumps`` writes first, always.
_HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
#: Gates ``qasm2.dumps`` calls as if qelib1.inc had them (Qiskit's legacy ones).
_LEGACY = frozenset(each.name for each in qasm2.LEGACY_CUSTOM_INSTRUCTIONS if each.builtin)
#: A call of one of them: a statement, in a gate body, or after a condition.
_LEGACY_CALL = re.compile(
    rf"(?:^|[{{;)]\s*)({'|'.join(sorted(_LEGACY, key=len, reverse=True))})(?=[\s(])",
    re.MULTILINE,
)
#: Standard instructions ``qasm2.dumps`` calls by a legacy name: their own, or another.
_LEGACY_NAME = {name: name for name in _LEGACY & _STANDARD} | {"c3sx": "c3sqrtx"}


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


def _wrong_kind(label: str, circuit: object) -> InvalidTypeError:
    return InvalidTypeError(
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
    """OpenQASM 2 text for a circuit that readers with only the paper's ``qelib1.inc``
    accept; a string is checked by parsing it, not trusted.

    Instructions OpenQASM 2 cannot call as gates but whose definitions can stand in
    are written as those definitions (``initialize``: resets, then a state preparation).

    Raises:
        InvalidCircuitError: the circuit has unbound parameters, or an instruction
            OpenQASM 2 cannot carry (named).
    """
    if isinstance(circuit, str):
        parse_qasm(label, circuit)
        return circuit
    if not isinstance(circuit, QuantumCircuit):
        raise _wrong_kind(label, circuit)
    if circuit.parameters:
        names = ", ".join(sorted(p.name for p in circuit.parameters))
        raise InvalidCircuitError(label, f"unbound parameters ({names}); bind them first")
    names = circuit.count_ops().keys()
    if names <= _STANDARD:
        qasm = _dumps(label, circuit)
        # Unless the exporter wrote gate definitions, the text calls exactly these names.
        if "\ngate " in qasm:
            return _with_legacy_definitions(qasm, _LEGACY_CALL.findall(qasm))
        return _with_legacy_definitions(
            qasm, [_LEGACY_NAME[name] for name in names if name in _LEGACY_NAME]
        )
    # Anything else may need rewriting, and the text is checked by reading it back.
    qasm = _dumps(label, _flattened(circuit))
    qasm = _with_legacy_definitions(qasm, _LEGACY_CALL.findall(qasm))
    try:
        qasm2.loads(qasm)
    except qasm2.QASM2ParseError as err:
        raise InvalidCircuitError(
            label, f"cannot be written as OpenQASM 2 that qelib1.inc readers accept: {err}"
        ) from err
    return qasm


@dataclass(frozen=True)
class QasmLayout:
    """Where the circuit's OpenQASM 2 text puts its classical bits: a service that runs
    the text gives outcomes of ``width`` bits, and the bit it writes for the circuit's
    classical bit ``k`` is bit ``positions[k]`` of them.

    ``qasm2.dumps`` declares each of the circuit's registers whole, in order (so a bit in
    several is declared in each, and measured into the last), then the bits in none as
    one more register.
    """

    width: int
    positions: tuple[int, ...]

    @classmethod
    def of(cls, circuit: QuantumCircuit) -> QasmLayout:
        position: dict[Clbit, int] = {}
        width = 0
        for register in circuit.cregs:
            position.update((bit, width + i) for i, bit in enumerate(register))
            width += register.size
        for bit in circuit.clbits:
            if bit not in position:
                position[bit] = width
                width += 1
        return cls(width, tuple(position[bit] for bit in circuit.clbits))


def _dumps(label: str, circuit: QuantumCircuit) -> str:
    try:
        qasm = qasm2.dumps(circuit)
    except qasm2.QASM2ExportError as err:
        culprit = _first_unexportable(circuit)
        raise InvalidCircuitError(
            label, f"{culprit} cannot be written as OpenQASM 2: {err}"
        ) from err
    opaque = re.search(r"^opaque (\w+)", qasm, re.MULTILINE) if "\nopaque " in qasm else None
    if opaque:
        raise InvalidCircuitError(
            label,
            f"instruction {opaque[1]!r} would be written as an opaque gate, which no "
            "OpenQASM 2 reader can run; remove or decompose it first",
        )
    return qasm


def _flattened(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with every instruction OpenQASM 2 cannot call as a gate replaced by
    its definition, as deep as needed (see :func:`_uncallable`)."""
    if not any(_uncallable(instruction.operation) for instruction in circuit.data):
        return circuit
    flat = circuit.copy_empty_like()
    for instruction in circuit.data:
        operation = instruction.operation
        if _uncallable(operation):
            flat.compose(
                _flattened(operation.definition),
                instruction.qubits,
                instruction.clbits,
                inplace=True,
            )
        else:
            flat.append(instruction)
    return flat


def _uncallable(operation: Operation) -> bool:
    """Whether ``operation`` has a definition to stand in for it and needs one: it is no
    gate (a ``gate`` body holds only gates), has a parameter OpenQASM 2 cannot write (a
    state preparation's complex amplitudes or label), or holds such an instruction."""
    definition = getattr(operation, "definition", None)
    if operation.name in _STANDARD or definition is None:
        return False
    return (
        not isinstance(operation, Gate)
        or any(isinstance(value, (str, complex)) for value in operation.params)
        or any(
            not isinstance(inner.operation, Gate) or _uncallable(inner.operation)
            for inner in definition.data
        )
    )


def _with_legacy_definitions(qasm: str, calls: Iterable[str]) -> str:
    """``qasm``, which ``calls`` these legacy gates, with a ``gate`` definition for each
    (and for those they call): ``qasm2.dumps`` calls Qiskit's legacy gates
    (``u``, ``p``, ``sx``, ``rzz``, ...) as if qelib1.inc had them, but the paper's
    qelib1.inc does not. Readers that know them natively, as :func:`parse_qasm`
    does, ignore a matching definition."""
    used = frozenset(calls)
    if not used:
        return qasm
    return _HEADER + _legacy_prelude(used) + qasm[len(_HEADER) :]


@functools.lru_cache(maxsize=256)
def _legacy_prelude(used: frozenset[str]) -> str:
    """The definitions of ``used`` and of the legacy gates they call, in dependency order."""
    definitions = _legacy_definitions()
    needed: set[str] = set()
    pending = list(used)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(_LEGACY_CALL.findall(definitions[name]))
    return "".join(f"{text}\n" for name, text in definitions.items() if name in needed)


@functools.cache
def _legacy_definitions() -> dict[str, str]:
    """The ``gate`` statements of Qiskit's legacy ``qelib1.inc`` (its extended include
    file, which defines each gate from the paper's and earlier ones), one line each, in
    file order."""
    path = os.path.join(os.path.dirname(qiskit.__file__), "qasm", "libs", "qelib1.inc")
    with open(path) as include:
        text = re.sub(r"//[^\n]*", "", include.read())
    return {
        match[1]: " ".join(match[0].split())
        for match in re.finditer(r"gate\s+(\w+)[^{]*\{[^}]*\}", text)
    }


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
        raise InvalidTypeError(
            f"circuits must be a mapping of label -> circuit, got {type(circuits).__name__}"
        )
    if not circuits:
        raise InvalidInputError("no circuits given: the mapping is empty")
    for label in circuits:
        if not isinstance(label, str):
            raise InvalidTypeError(f"circuit labels must be strings, got {label!r}")
    return dict(circuits)


# -- parametric templates ---------------------------------------------------------------

#: Words a template's parameter name must not be: OpenQASM 2's keywords and the
#: functions and constant its expressions may use.
_RESERVED = frozenset(
    ("OPENQASM", "include", "qreg", "creg", "gate", "opaque", "measure", "reset",
     "barrier", "if", "U", "CX", "pi", "sin", "cos", "tan", "exp", "ln", "sqrt")
)  # fmt: skip
#: A name the 2026 wire takes for a parameter: an OpenQASM 2 identifier, lower-case first.
_WIRE_NAME = re.compile(r"[a-z][A-Za-z0-9_]*")
#: Stand-ins for the parametric arguments while the circuit is exported: one per
#: argument, large and odd enough to be found, as written, exactly where it stands.
_SENTINEL_BASE = 731_000_000_000


@dataclass(frozen=True)
class QasmTemplate:
    """A parametric circuit as the 2026 Qoro wire's template: OpenQASM 2 whose gate
    arguments name the parameters (``ry(theta) q[0];``, ``rz(2.0*t0 + -0.5) q[1];``),
    and the name of each of ``circuit.parameters``, in that order (rows of values
    follow it)."""

    qasm: str
    parameter_names: tuple[str, ...]


def to_qasm_template(label: str, circuit: QuantumCircuit) -> QasmTemplate:
    """``circuit``, with unbound parameters, as a template the service fills in once per
    row of values (the 2026 Qoro wire), instead of a circuit per row.

    The service puts each row's values in place of the names, as text; so every
    parametric argument must be a standard gate's, and a linear combination of parameters
    with real coefficients (``theta``, ``2*theta - phi + 0.5``), which stays valid
    OpenQASM 2 whatever values replace the names. A parameter keeps its name where that
    is an OpenQASM 2 identifier starting lower-case that nothing else in the text uses;
    any other (``t[0]`` of a ``ParameterVector``, ``θ``) becomes ``p<index>``. A
    parameter only in the global phase, which OpenQASM 2 drops, is still named.

    Raises:
        InvalidCircuitError: the circuit has no parameters, a parametric argument the
            template cannot carry (named, with why), or cannot be exported at all.
    """
    if not isinstance(circuit, QuantumCircuit):
        raise _wrong_kind(label, circuit)
    if not circuit.parameters:
        raise InvalidCircuitError(label, "has no parameters to make a template of")
    names = _wire_names(circuit)
    stand_in = circuit.copy_empty_like()
    stand_in.global_phase = 0
    arguments: list[str] = []
    for index, instruction in enumerate(circuit.data):
        operation = instruction.operation
        params = operation.params
        if not any(isinstance(p, ParameterExpression) for p in params):
            stand_in.append(instruction)
            continue
        if operation.name not in _STANDARD:
            raise InvalidCircuitError(
                label,
                f"instruction {operation.name!r} (#{index}) takes parameters, but only a "
                "standard gate's arguments can name them in a template",
            )
        operation = operation.to_mutable()
        values = []
        for param in params:
            if isinstance(param, ParameterExpression):
                arguments.append(_linear(label, index, param, names))
                values.append(float(_SENTINEL_BASE + len(arguments)))
            else:
                values.append(param)
        operation.params = values
        stand_in.append(operation, instruction.qubits, instruction.clbits)
    qasm = to_qasm(label, stand_in)
    for k, text in enumerate(arguments, start=1):
        sentinel = re.compile(rf"(?<![\w.]){_SENTINEL_BASE + k}\.0(?![\w.])")
        if len(sentinel.findall(qasm)) != 1:
            raise InvalidCircuitError(
                label, "the OpenQASM 2 exporter rewrote a parametric gate: it cannot be a template"
            )
        qasm = sentinel.sub(text, qasm)
    return QasmTemplate(qasm, tuple(names[p] for p in circuit.parameters))


def _wire_names(circuit: QuantumCircuit) -> dict[Parameter, str]:
    """Each parameter's name in a template (see :func:`to_qasm_template`)."""
    taken = set(_RESERVED) | {register.name for register in (*circuit.qregs, *circuit.cregs)}
    names: dict[Parameter, str] = {}
    renamed = []
    for index, parameter in enumerate(circuit.parameters):
        if _WIRE_NAME.fullmatch(parameter.name) and parameter.name not in taken:
            names[parameter] = parameter.name
            taken.add(parameter.name)
        else:
            renamed.append((index, parameter))
    for index, parameter in renamed:
        name = f"p{index}"
        while name in taken:
            name += "_"
        names[parameter] = name
        taken.add(name)
    return names


def _linear(
    label: str, index: int, expression: ParameterExpression, names: dict[Parameter, str]
) -> str:
    """``expression`` as OpenQASM 2 text over the template's names; refused unless it is
    ``c0 + c1*p1 + ...`` with real ``c``."""
    if isinstance(expression, Parameter):
        return names[expression]
    terms = []
    for parameter in sorted(expression.parameters, key=lambda p: names[p]):
        slope = expression.gradient(parameter)
        if isinstance(slope, ParameterExpression):
            if slope.parameters:
                raise InvalidCircuitError(
                    label,
                    f"argument {expression} of instruction #{index} is not linear in its "
                    "parameters, which a template cannot carry",
                )
            slope = complex(slope)
        terms.append((_real(label, index, expression, slope), names[parameter]))
    offset = expression.bind(dict.fromkeys(expression.parameters, 0.0))
    parts = [f"{coefficient}*{name}" for coefficient, name in terms]
    constant = complex(offset)
    if constant != 0:
        parts.append(_real(label, index, expression, constant))
    return " + ".join(parts)


def _real(label: str, index: int, expression: ParameterExpression, value: complex) -> str:
    """A real coefficient as an OpenQASM 2 real (with its point: ``1.0e-07``)."""
    value = complex(value)
    if value.imag != 0:
        raise InvalidCircuitError(
            label, f"argument {expression} of instruction #{index} has a complex coefficient"
        )
    mantissa, _, exponent = repr(float(value.real)).partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + (f"e{exponent}" if exponent else "")
