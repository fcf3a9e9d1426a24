"""Measurements and classical control flow, as exact expectation values must see them.

A final measurement (nothing later acts on its qubit or reads its bit) is no part of the
state an observable is measured on, so it is dropped. Any other measurement stays, and
Aer cannot make it exact: it samples one outcome per shot, so a run follows one
trajectory, not the mean over outcomes. Here such a circuit is split into one branch per
sequence of records its classical control flow can read: in each, a measurement is the
trace-decreasing Kraus instrument of its record (readout errors included) and the control
flow is resolved, so Aer's unnormalised density matrices of the branches sum to the
circuit's state. A measurement whose record nothing reads only dephases its qubit.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import (
    CASE_DEFAULT,
    CONTROL_FLOW_OP_NAMES,
    BoxOp,
    CircuitInstruction,
    Clbit,
    ControlFlowOp,
    ForLoopOp,
    IfElseOp,
    Instruction,
    Qubit,
    Store,
    SwitchCaseOp,
    WhileLoopOp,
)
from qiskit.circuit.classical import expr, types
from qiskit_aer.noise import NoiseModel

from ..exceptions import InvalidCircuitError, InvalidInputError, SimulationError

#: The most branches one circuit is split into; each is one more density-matrix run.
MAX_BRANCHES = 1024
#: A while loop still running after this many iterations is taken never to end.
MAX_ITERATIONS = 1000
#: Instructions that make a circuit dynamic: each needs its branches resolved here.
DYNAMIC = frozenset({"measure", "store", *CONTROL_FLOW_OP_NAMES})

_PROJECTORS = (np.diag([1.0, 0.0]).astype(complex), np.diag([0.0, 1.0]).astype(complex))
_DEPHASING = Instruction("kraus", 1, 0, list(_PROJECTORS))

_BINARY: dict[expr.Binary.Op, Callable[[Any, Any], Any]] = {
    expr.Binary.Op.BIT_AND: operator.and_,
    expr.Binary.Op.BIT_OR: operator.or_,
    expr.Binary.Op.BIT_XOR: operator.xor,
    expr.Binary.Op.LOGIC_AND: lambda a, b: bool(a) and bool(b),
    expr.Binary.Op.LOGIC_OR: lambda a, b: bool(a) or bool(b),
    expr.Binary.Op.EQUAL: operator.eq,
    expr.Binary.Op.NOT_EQUAL: operator.ne,
    expr.Binary.Op.LESS: operator.lt,
    expr.Binary.Op.LESS_EQUAL: operator.le,
    expr.Binary.Op.GREATER: operator.gt,
    expr.Binary.Op.GREATER_EQUAL: operator.ge,
    expr.Binary.Op.SHIFT_LEFT: operator.lshift,
    expr.Binary.Op.SHIFT_RIGHT: operator.rshift,
    expr.Binary.Op.ADD: operator.add,
    expr.Binary.Op.SUB: operator.sub,
    expr.Binary.Op.MUL: operator.mul,
    expr.Binary.Op.DIV: operator.truediv,
}


def without_final_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    """A copy of ``circuit`` without its final measurements: those after which nothing but
    barriers and other final measurements acts on the qubit, and nothing reads the bit."""
    stripped = circuit.copy()
    # A measurement inside control flow is never final, and count_ops does not look there.
    if "measure" in circuit.count_ops():
        for index in _final_measurements(circuit):
            del stripped.data[index]
    return stripped


def is_dynamic(circuit: QuantumCircuit) -> bool:
    """Whether ``circuit`` (final measurements dropped) measures, stores or branches:
    then only :func:`branches` gives its exact state."""
    return not DYNAMIC.isdisjoint(circuit.count_ops())


def check_branches(label: str, circuit: QuantumCircuit) -> None:
    """Refuse a circuit (final measurements dropped) with too many branches to follow.

    Raises:
        InvalidCircuitError: its control flow reads more than log2(:data:`MAX_BRANCHES`)
            measurement records, or a while loop reads records it measures itself.
    """
    reads = _circuit_reads(circuit)
    records = _records(circuit, {bit: bit for bit in circuit.clbits}, reads)
    if records > math.log2(MAX_BRANCHES):
        count = "an unbounded number of" if math.isinf(records) else f"{records:g}"
        raise InvalidCircuitError(
            label,
            f"its control flow reads {count} measurement records; exact values follow "
            f"at most {MAX_BRANCHES} branches of them: give precision > 0 to sample it",
        )


@dataclass(frozen=True)
class ReadoutErrors:
    """``P(record | outcome)`` of a one-qubit measurement, per qubit, as Aer applies it."""

    local: dict[int, np.ndarray] = field(default_factory=dict)
    default: np.ndarray = field(default_factory=lambda: np.eye(2))

    def __call__(self, qubit: int) -> np.ndarray:
        return self.local.get(qubit, self.default)

    @classmethod
    def of(cls, noise_model: NoiseModel | None) -> ReadoutErrors:
        """The readout errors of ``noise_model`` (none without one).

        Raises:
            InvalidInputError: the model also attaches quantum errors or multi-qubit
                readout errors to measurements, which exact values do not follow.
        """
        errors = [] if noise_model is None else noise_model.to_dict()["errors"]
        local, default = {}, np.eye(2)
        for error in errors:
            if error["type"] == "qerror":
                if "measure" in error["operations"]:
                    raise _measurement_noise_error("quantum errors")
                continue
            matrix = np.asarray(error["probabilities"], dtype=float)
            if matrix.shape != (2, 2):
                raise _measurement_noise_error("readout errors on several qubits at once")
            if "gate_qubits" not in error:
                default = matrix
            for (qubit,) in error.get("gate_qubits", []):
                local[qubit] = matrix
        return cls(local, default)


def branches(circuit: QuantumCircuit, readout: ReadoutErrors) -> list[QuantumCircuit]:
    """One circuit per branch of ``circuit`` (final measurements dropped), flat: its
    measurements are Kraus instruments, its control flow resolved. Each branch's density
    matrix is unnormalised, with the branch's probability as its trace."""
    top = _Block(
        circuit, {qubit: qubit for qubit in circuit.qubits}, {bit: bit for bit in circuit.clbits}
    )
    leaves = _Walk(circuit, readout).block(top, [_Branch([], {})])
    found = []
    for leaf in leaves:
        flat = circuit.copy_empty_like(vars_mode="drop")
        for instruction in leaf.data:
            flat._append(instruction)
        found.append(flat)
    return found


# -- what reads what -----------------------------------------------------------------------


def _final_measurements(circuit: QuantumCircuit) -> list[int]:
    """Indices of the final measurements, last first."""
    acted_on: set[Qubit] = set()
    read: set[Clbit] = set()
    final = []
    for index in range(len(circuit.data) - 1, -1, -1):
        instruction = circuit.data[index]
        name = instruction.operation.name
        if (
            name == "measure"
            and instruction.qubits[0] not in acted_on
            and instruction.clbits[0] not in read
        ):
            final.append(index)
        elif name != "barrier":
            acted_on.update(instruction.qubits)
            read |= _read_bits(instruction)
    return final


def _read_bits(instruction: CircuitInstruction) -> set[Clbit]:
    """The clbits ``instruction`` reads, as bits of the circuit that holds it."""
    operation = instruction.operation
    if operation.name == "measure":
        return set()
    if isinstance(operation, Store):
        index = operation.lvalue.index if isinstance(operation.lvalue, expr.Index) else None
        return _expr_bits(operation.rvalue) | (set() if index is None else _expr_bits(index))
    if isinstance(operation, ControlFlowOp):
        condition = _condition(operation)
        read = set() if condition is None else _expr_bits(condition)
        for block in operation.blocks:
            outer = dict(zip(block.clbits, instruction.clbits, strict=True))
            for inner in block.data:
                read |= {outer.get(bit, bit) for bit in _read_bits(inner)}
        return read
    return set(instruction.clbits)


def _circuit_reads(circuit: QuantumCircuit) -> set[Clbit]:
    return set().union(*(_read_bits(instruction) for instruction in circuit.data))


def _condition(operation: ControlFlowOp) -> expr.Expr | None:
    """What a control-flow operation branches on, as an expression."""
    if isinstance(operation, (IfElseOp, WhileLoopOp)):
        condition = operation.condition
    elif isinstance(operation, SwitchCaseOp):
        condition = operation.target
    else:
        return None
    if isinstance(condition, tuple):
        return expr.lift_legacy_condition(condition)
    return condition if isinstance(condition, expr.Expr) else expr.lift(condition)


def _expr_bits(node: expr.Expr) -> set[Clbit]:
    bits: set[Clbit] = set()
    for var in expr.iter_vars(node):
        if isinstance(var.var, Clbit):
            bits.add(var.var)
        elif isinstance(var.var, ClassicalRegister):
            bits.update(var.var)
    return bits


def _records(block: QuantumCircuit, clbits: Mapping[Clbit, Clbit], reads: set[Clbit]) -> float:
    """The most records ``block`` can measure that something reads (``inf``: unbounded)."""
    total = 0.0
    for instruction in block.data:
        operation = instruction.operation
        if operation.name == "measure":
            total += clbits[instruction.clbits[0]] in reads
        elif isinstance(operation, ControlFlowOp):
            inner = [
                _records(body, _inner(body.clbits, instruction.clbits, clbits), reads)
                for body in operation.blocks
            ]
            if isinstance(operation, ForLoopOp):
                total += len(operation.params[0]) * inner[0] if inner[0] else 0
            elif isinstance(operation, WhileLoopOp):
                total += math.inf if inner[0] else 0
            else:
                total += max(inner, default=0)
    return total


def _inner(inner: Iterable[Any], outer: Iterable[Any], mapping: Mapping[Any, Any]) -> dict:
    """How a block's bits map to the top-level circuit's, through the instruction holding it."""
    return {bit: mapping[held] for bit, held in zip(inner, outer, strict=True)}


def _measurement_noise_error(what: str) -> InvalidInputError:
    return InvalidInputError(
        f"the noise model attaches {what} to measurements; exact values of circuits "
        "that measure mid-circuit follow one-qubit readout errors only: give precision > 0"
    )


# -- following every branch ----------------------------------------------------------------


@dataclass
class _Branch:
    """The flat instructions of one branch so far, its classical values (clbits of the
    top-level circuit and declared variables), and whether it is leaving a loop body."""

    data: list[CircuitInstruction]
    values: dict[Any, Any]
    leaving: str | None = None

    def fork(self) -> _Branch:
        return _Branch(list(self.data), dict(self.values), self.leaving)


@dataclass(frozen=True)
class _Block:
    """A block of instructions, with its qubits and clbits mapped to the top level's."""

    circuit: QuantumCircuit
    qubits: Mapping[Qubit, Qubit]
    clbits: Mapping[Clbit, Clbit]

    def inner(self, instruction: CircuitInstruction) -> list[_Block]:
        """The blocks of a control-flow ``instruction`` of this block, mapped likewise."""
        return [
            _Block(
                body,
                _inner(body.qubits, instruction.qubits, self.qubits),
                _inner(body.clbits, instruction.clbits, self.clbits),
            )
            for body in instruction.operation.blocks
        ]


class _Walk:
    """Resolves the control flow of one circuit for every branch of its records."""

    def __init__(self, circuit: QuantumCircuit, readout: ReadoutErrors) -> None:
        self.index = {qubit: i for i, qubit in enumerate(circuit.qubits)}
        self.reads = _circuit_reads(circuit)
        self.readout = readout

    def block(self, block: _Block, branches: list[_Branch]) -> list[_Branch]:
        """``branches`` after ``block``."""
        for instruction in block.circuit.data:
            running = [branch for branch in branches if branch.leaving is None]
            if not running:
                break
            stopped = [branch for branch in branches if branch.leaving is not None]
            branches = stopped + self.step(instruction, block, running)
            if len(branches) > MAX_BRANCHES:
                raise SimulationError(f"more than {MAX_BRANCHES} branches to follow")
        return branches

    def step(
        self, instruction: CircuitInstruction, block: _Block, branches: list[_Branch]
    ) -> list[_Branch]:
        """``branches`` after one ``instruction`` of ``block``."""
        operation = instruction.operation
        qubits, clbits = block.qubits, block.clbits
        held = tuple(qubits[qubit] for qubit in instruction.qubits)
        if operation.name == "measure":
            return self.measure(held[0], clbits[instruction.clbits[0]], branches)
        if operation.name in ("break_loop", "continue_loop"):
            for branch in branches:
                branch.leaving = operation.name
            return branches
        if isinstance(operation, Store):
            for branch in branches:
                value = _Evaluator(branch.values, clbits).value(operation.rvalue)
                _assign(operation.lvalue, value, branch.values, clbits)
            return branches
        if isinstance(operation, ControlFlowOp):
            return self.control_flow(operation, block.inner(instruction), clbits, branches)
        if instruction.clbits:
            raise SimulationError(f"cannot follow {operation.name!r}, which uses clbits")
        flat = CircuitInstruction(operation, held)
        for branch in branches:
            branch.data.append(flat)
        return branches

    def measure(self, qubit: Qubit, clbit: Clbit, branches: list[_Branch]) -> list[_Branch]:
        """A record nothing reads only dephases; a read one splits every branch in two."""
        if clbit not in self.reads:
            for branch in branches:
                branch.data.append(CircuitInstruction(_DEPHASING, (qubit,)))
            return branches
        confusion = self.readout(self.index[qubit])
        split = []
        for record in (0, 1):
            kraus = [
                math.sqrt(p) * projector
                for p, projector in zip(confusion[:, record], _PROJECTORS, strict=True)
                if p > 0
            ]
            if not kraus:
                continue
            instrument = CircuitInstruction(Instruction("kraus", 1, 0, kraus), (qubit,))
            for branch in branches:
                taken = branch.fork()
                taken.data.append(instrument)
                taken.values[clbit] = bool(record)
                split.append(taken)
        return split

    def control_flow(
        self,
        operation: ControlFlowOp,
        inner: list[_Block],
        clbits: Mapping[Clbit, Clbit],
        branches: list[_Branch],
    ) -> list[_Branch]:
        condition = _condition(operation)
        if isinstance(operation, ForLoopOp):
            indexset, parameter, _ = operation.params
            body = inner[0]
            done: list[_Branch] = []
            for value in indexset:
                bound = (
                    body
                    if parameter is None
                    else replace(
                        body,
                        circuit=body.circuit.assign_parameters({parameter: value}, strict=False),
                    )
                )
                branches = self.loop_iteration(bound, branches, done)
            return done + branches
        if isinstance(operation, WhileLoopOp):
            done = []
            for _ in range(MAX_ITERATIONS):
                going: list[_Branch] = []
                for branch in branches:
                    evaluator = _Evaluator(branch.values, clbits)
                    (going if evaluator.value(condition) else done).append(branch)
                if not going:
                    return done
                branches = self.loop_iteration(inner[0], going, done)
            raise SimulationError(f"a while loop ran {MAX_ITERATIONS} times without ending")
        if isinstance(operation, BoxOp):
            return self.block(inner[0], branches)
        # if_else and switch_case: each branch takes the block its values select.
        chosen: dict[int, list[_Branch]] = {}
        for branch in branches:
            value = _Evaluator(branch.values, clbits).value(condition)
            chosen.setdefault(_selected(operation, value), []).append(branch)
        after = chosen.pop(-1, [])
        for position, taking in chosen.items():
            after += self.block(inner[position], taking)
        return after

    def loop_iteration(
        self, body: _Block, branches: list[_Branch], done: list[_Branch]
    ) -> list[_Branch]:
        """Run one iteration; branches that break join ``done``, the rest go on."""
        going: list[_Branch] = []
        for branch in self.block(body, branches):
            leaving, branch.leaving = branch.leaving, None
            (done if leaving == "break_loop" else going).append(branch)
        return going


def _selected(operation: ControlFlowOp, value: Any) -> int:
    """The index of the block an if_else or switch_case takes (-1: none)."""
    if isinstance(operation, IfElseOp):
        return 0 if value else (1 if len(operation.blocks) > 1 else -1)
    cases = [values for values, _ in operation.cases_specifier()]
    matching = [i for i, values in enumerate(cases) if value in values]
    default = [i for i, values in enumerate(cases) if CASE_DEFAULT in values]
    return (matching or default or [-1])[0]


class _Evaluator(expr.ExprVisitor[Any]):
    """A classical expression's value in one branch (its bits as the holding block's)."""

    def __init__(self, values: Mapping[Any, Any], clbits: Mapping[Clbit, Clbit]) -> None:
        self.values = values
        self.clbits = clbits

    def value(self, node: expr.Expr | None) -> Any:
        if node is None:
            raise SimulationError("a control-flow operation without a condition")
        return node.accept(self)

    def bit(self, bit: Clbit) -> bool:
        return bool(self.values.get(self.clbits.get(bit, bit), False))

    def visit_var(self, node: expr.Var, /) -> Any:
        if isinstance(node.var, Clbit):
            return self.bit(node.var)
        if isinstance(node.var, ClassicalRegister):
            return sum(self.bit(bit) << i for i, bit in enumerate(node.var))
        if node not in self.values:
            raise SimulationError(f"variable {node.name!r} has no value (an input?)")
        return self.values[node]

    def visit_value(self, node: expr.Value, /) -> Any:
        return node.value

    def visit_cast(self, node: expr.Cast, /) -> Any:
        return _typed(node.type, node.operand.accept(self))

    def visit_unary(self, node: expr.Unary, /) -> Any:
        operand = node.operand.accept(self)
        if node.op is expr.Unary.Op.LOGIC_NOT or isinstance(node.type, types.Bool):
            return not operand
        return _typed(node.type, ~operand if node.op is expr.Unary.Op.BIT_NOT else -operand)

    def visit_binary(self, node: expr.Binary, /) -> Any:
        return _typed(node.type, _BINARY[node.op](node.left.accept(self), node.right.accept(self)))

    def visit_index(self, node: expr.Index, /) -> Any:
        return bool((node.target.accept(self) >> node.index.accept(self)) & 1)

    def visit_generic(self, node: expr.Expr, /) -> Any:
        raise SimulationError(f"cannot evaluate {type(node).__name__} expressions")


def _typed(kind: types.Type, value: Any) -> Any:
    if isinstance(kind, types.Bool):
        return bool(value)
    if isinstance(kind, types.Uint):
        return int(value) & ((1 << kind.width) - 1)
    if isinstance(kind, types.Float):
        return float(value)
    raise SimulationError(f"cannot evaluate values of type {kind}")


def _assign(
    lvalue: expr.Expr, value: Any, values: dict[Any, Any], clbits: Mapping[Clbit, Clbit]
) -> None:
    """Store ``value`` where ``lvalue`` (a bit, a register, a variable or a bit of one) says."""
    if isinstance(lvalue, expr.Index):
        position = _Evaluator(values, clbits).value(lvalue.index)
        target = lvalue.target
        if isinstance(target, expr.Var) and isinstance(target.var, ClassicalRegister):
            bit = target.var[position]
            values[clbits.get(bit, bit)] = bool(value)
        else:
            current = _Evaluator(values, clbits).value(target)
            values[target] = (current & ~(1 << position)) | (int(bool(value)) << position)
        return
    if not isinstance(lvalue, expr.Var):
        raise SimulationError(f"cannot store into {type(lvalue).__name__}")
    if isinstance(lvalue.var, Clbit):
        values[clbits.get(lvalue.var, lvalue.var)] = bool(value)
    elif isinstance(lvalue.var, ClassicalRegister):
        for i, bit in enumerate(lvalue.var):
            values[clbits.get(bit, bit)] = bool((value >> i) & 1)
    else:
        values[lvalue] = value
