"""The oracle: what Qiskit Aer says a circuit's expectation values and outcomes are.

Aer's own answers are exact for unitary circuits (its ``EstimatorV2`` saves each Pauli's
expectation value from the statevector) and for noisy circuits without mid-circuit
measurements (the density-matrix method applies noise and ``reset`` as channels). A
measurement mid-circuit is another matter: Aer samples its outcome, even on a density
matrix, so one Aer run gives one branch and many give a Monte-Carlo average. Exact
references for such circuits come from the deferred-measurement principle instead:

- ``measure q -> c`` becomes ``cx(q, a)`` onto a fresh ancilla ``a`` in ``|0>``, which
  then holds ``c`` (measuring ``q`` and copying it are the same to everything after);
- ``if_test((c, v))`` runs its body controlled on ``a`` being ``|v>`` (``else``: on
  ``|1 - v>``), global phase included;
- ``reset q`` swaps ``q`` with a fresh ancilla, which carries the old state away.

The result is a unitary circuit on the original qubits plus the ancillas, on which
Aer's exact ``EstimatorV2`` (observables padded with identities) gives the exact
expectation values, and Aer's statevector the exact joint distribution of the final
classical bits (the ancillas that hold them last).

Two Aer 0.18 faults are kept out of the references: ``parameter_binds`` leaves the
angles of controlled rotations (``cp``, ``crx``, ``cry``, ``crz``, ``cu``) unbound, so
references bind their circuits first or decompose those gates; and the removal of idle
qubits ("truncation") fails on some circuits with ``if_test`` (``Failed to load
circuits: unordered_map::at``), so Aer's shots are taken without it on these small
devices. ``test_reference`` checks the references against Aer where Aer is exact.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import Clbit, Gate, Parameter
from qiskit.circuit.controlflow import IfElseOp
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

from .strategies import fake_device

#: Parameter values as the strategies give them: ``{(parameters...): array}``, whose last
#: axis runs over the parameters, or ``None`` for a circuit without any.
Values: TypeAlias = Mapping[tuple[Parameter, ...], np.ndarray] | None
#: Instructions that act on nothing a reference needs.
_DIRECTIVES = frozenset({"barrier", "delay"})


@dataclass(frozen=True)
class Deferred:
    """A circuit with its measurements and resets deferred (see the module docstring).

    ``circuit`` is unitary and holds only the qubits something acts on (a 127-qubit ISA
    circuit of a few active qubits stays small): ``wires[q]`` is where the original
    qubit ``q`` went, if anywhere; ``holders[j]`` is the wire that holds classical bit
    ``j`` at the end, ``None`` for a bit never measured (it reads 0).
    """

    circuit: QuantumCircuit
    wires: dict[int, int]
    holders: list[int | None]


def deferred(circuit: QuantumCircuit, keep: frozenset[int] = frozenset()) -> Deferred:
    """``circuit`` as an equivalent unitary circuit, in gates Aer runs (``u``, ``cx``);
    the qubits in ``keep`` stay even if nothing acts on them."""
    steps: list[tuple[Gate, list[int]]] = []
    holders: dict[Clbit, int] = {}
    ancillas = [circuit.num_qubits]  # the next free ancilla, boxed for _defer

    def fresh() -> int:
        ancillas[0] += 1
        return ancillas[0] - 1

    _defer(circuit, list(range(circuit.num_qubits)), steps, holders, fresh)
    active = sorted(keep.union(q for _, qubits in steps for q in qubits)) or [0]
    wire = {qubit: index for index, qubit in enumerate(active)}
    unitary = QuantumCircuit(len(active))
    for gate, qubits in steps:
        unitary.append(gate, [wire[q] for q in qubits])
    compiled = transpile(unitary, basis_gates=["u", "cx"], optimization_level=0)
    kept = {q: wire[q] for q in range(circuit.num_qubits) if q in wire}
    held = [holders.get(bit) for bit in circuit.clbits]
    return Deferred(compiled, kept, [None if h is None else wire[h] for h in held])


def _defer(
    circuit: QuantumCircuit,
    wires: list[int],
    steps: list[tuple[Gate, list[int]]],
    holders: dict[Clbit, int],
    fresh: Any,
    clbits: list[Clbit] | None = None,
) -> None:
    """Append ``circuit``'s instructions, deferred, to ``steps``; its qubit ``i`` is the
    output's ``wires[i]`` and its clbit ``j`` is ``clbits[j]`` of the outer circuit."""
    bits = clbits if clbits is not None else list(circuit.clbits)
    for instruction in circuit.data:
        operation = instruction.operation
        qubits = [wires[circuit.find_bit(q).index] for q in instruction.qubits]
        name = operation.name
        if name in _DIRECTIVES:
            continue
        if name == "measure":
            ancilla = fresh()
            steps.append((_cx(), [qubits[0], ancilla]))
            holders[bits[circuit.find_bit(instruction.clbits[0]).index]] = ancilla
        elif name == "reset":
            steps.append((_swap(), [qubits[0], fresh()]))
        elif isinstance(operation, IfElseOp):
            _defer_if(circuit, instruction, operation, qubits, steps, holders, bits)
        elif isinstance(operation, Gate):
            steps.append((operation, qubits))
        elif operation.definition is not None:  # initialize: resets, then a state preparation
            _defer(operation.definition, qubits, steps, holders, fresh)
        else:
            raise NotImplementedError(f"the reference cannot defer {name!r}")


def _defer_if(
    circuit: QuantumCircuit,
    instruction: Any,
    operation: IfElseOp,
    qubits: list[int],
    steps: list[tuple[Gate, list[int]]],
    holders: dict[Clbit, int],
    bits: list[Clbit],
) -> None:
    """An ``if_else`` on one bit as its branches controlled on that bit's holder."""
    target, value = operation.condition
    condition_bits = [target] if isinstance(target, Clbit) else list(target)
    if len(condition_bits) != 1:
        raise NotImplementedError("the reference defers conditions on one bit only")
    bit = bits[circuit.find_bit(condition_bits[0]).index]
    holder = holders.get(bit)
    branches = [(operation.blocks[0], int(value))]
    if len(operation.blocks) > 1 and operation.blocks[1] is not None:
        branches.append((operation.blocks[1], 1 - int(value)))
    for block, state in branches:
        if holder is None:  # a bit never measured reads 0: the branch runs or it does not
            if state == 0:
                _append_block(block, qubits, steps)
            continue
        gate = _block_gate(block)
        if gate is not None:
            steps.append((gate.control(1, ctrl_state=state), [holder, *qubits]))


def _block_gate(block: QuantumCircuit) -> Gate | None:
    """A branch (gates only) as one gate, its global phase included; ``None`` if empty."""
    body = QuantumCircuit(block.num_qubits, global_phase=block.global_phase)
    for instruction in block.data:
        if instruction.operation.name in _DIRECTIVES:
            continue
        if not isinstance(instruction.operation, Gate):
            raise NotImplementedError(
                f"the reference cannot defer {instruction.operation.name!r} in a branch"
            )
        body.append(instruction.operation, [block.find_bit(q).index for q in instruction.qubits])
    if not body.data and not body.global_phase:
        return None
    return body.to_gate(label="branch")


def _append_block(
    block: QuantumCircuit, qubits: list[int], steps: list[tuple[Gate, list[int]]]
) -> None:
    gate = _block_gate(block)
    if gate is not None:
        steps.append((gate, qubits))


def _cx() -> Gate:
    from qiskit.circuit.library import CXGate

    return CXGate()


def _swap() -> Gate:
    from qiskit.circuit.library import SwapGate

    return SwapGate()


# -- expectation values -----------------------------------------------------------------


def exact_expectations(
    circuit: QuantumCircuit, observables: np.ndarray, values: Values
) -> np.ndarray:
    """Aer's exact ``EstimatorV2`` on the deferred circuit: ``evs`` at the PUB's
    broadcast shape. Every measurement counts as mid-circuit (decoheres its qubit), so
    ``circuit`` should end without any, as an estimator's circuits do."""
    support = frozenset(
        q
        for op in np.ravel(observables)
        for label in op.paulis.to_labels()
        for q, letter in enumerate(reversed(label))
        if letter != "I"
    )
    unitary = deferred(circuit, keep=support)
    width = unitary.circuit.num_qubits
    moved = np.vectorize(lambda op: _moved(op, unitary.wires, width), otypes=[object])
    pub = (unitary.circuit, moved(observables))
    return (
        AerEstimatorV2()
        .run([pub if values is None else (*pub, dict(values))])
        .result()[0]
        .data.evs
    )


def _moved(op: SparsePauliOp, wires: dict[int, int], width: int) -> SparsePauliOp:
    """``op`` on the wires its qubits went to (identity on every other wire)."""
    labels = []
    for label in op.paulis.to_labels():
        letters = ["I"] * width
        for qubit, letter in enumerate(reversed(label)):
            if letter != "I":
                letters[wires[qubit]] = letter
        labels.append("".join(reversed(letters)))
    return SparsePauliOp(labels, op.coeffs)


@functools.cache
def device_noise(name: str) -> NoiseModel:
    """A fake device's noise model, as Aer derives it (``NoiseModel.from_backend``)."""
    return NoiseModel.from_backend(fake_device(name))


def noisy_expectations(
    circuit: QuantumCircuit,
    observables: np.ndarray,
    values: Values,
    noise_model: NoiseModel,
) -> np.ndarray:
    """Aer's ``EstimatorV2`` on its density-matrix method under ``noise_model``: exact
    expectation values under gate (and reset) noise, for a circuit that measures
    nothing mid-circuit (Aer would sample such a measurement)."""
    if "measure" in circuit.count_ops():
        raise NotImplementedError("Aer samples mid-circuit measurements: no exact reference")
    estimator = AerEstimatorV2(
        options={"backend_options": {"method": "density_matrix", "noise_model": noise_model}}
    )
    pub = (circuit, observables) if values is None else (circuit, observables, dict(values))
    return estimator.run([pub]).result()[0].data.evs


# -- outcome distributions --------------------------------------------------------------


def bound_circuits(circuit: QuantumCircuit, values: Values) -> list[QuantumCircuit]:
    """``circuit`` bound to each parameter set, in C order (one circuit if it has none)."""
    if values is None:
        return [circuit]
    ((parameters, array),) = values.items()
    rows = array.reshape(-1, len(parameters))
    return [circuit.assign_parameters(dict(zip(parameters, row, strict=True))) for row in rows]


def values_shape(values: Values) -> tuple[int, ...]:
    """The broadcast shape of values keyed as :func:`.strategies.parameter_values` keys them."""
    if values is None:
        return ()
    ((_, array),) = values.items()
    return tuple(array.shape[:-1])


def exact_distribution(circuit: QuantumCircuit) -> dict[str, float]:
    """The exact joint distribution of a bound circuit's classical bits, keyed by all of
    them (bit 0 rightmost, no spaces), from Aer's statevector of the deferred circuit."""
    unitary = deferred(circuit)
    measured = [holder for holder in unitary.holders if holder is not None]
    prepared = unitary.circuit.copy()
    prepared.save_probabilities(measured, label="p")
    probabilities = AerSimulator(method="statevector").run(prepared).result().data()["p"]
    distribution: dict[str, float] = {}
    for index, probability in enumerate(np.asarray(probabilities)):
        if probability <= 0:
            continue
        value = iter(format(index, f"0{len(measured)}b")[::-1])  # measured[0] first
        bits = ["0" if holder is None else next(value) for holder in unitary.holders]
        key = "".join(reversed(bits))
        distribution[key] = distribution.get(key, 0.0) + float(probability)
    return distribution


def aer_counts(
    circuits: list[QuantumCircuit], noise_model: NoiseModel | None, shots: int, seed: int
) -> list[dict[str, int]]:
    """Aer's own samples of bound circuits (under ``noise_model``), keyed as
    :func:`exact_distribution` keys them."""
    simulator = AerSimulator(noise_model=noise_model, enable_truncation=False)
    trimmed = [_trimmed(circuit) for circuit in circuits]
    result = simulator.run(trimmed, shots=shots, seed_simulator=seed).result()
    return [plain(result.get_counts(index)) for index in range(len(circuits))]


def _trimmed(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` without the idle qubits after its last active one (an ISA circuit for
    a 30-qubit target may use five): no qubit moves, so a noise model still applies to
    the same ones, and Aer needs no truncation of its own."""
    width = 1 + max(
        (circuit.find_bit(q).index for instruction in circuit.data for q in instruction.qubits),
        default=0,
    )
    if width == circuit.num_qubits:
        return circuit
    trimmed = QuantumCircuit(QuantumRegister(width, "q"), *circuit.cregs, name=circuit.name)
    for instruction in circuit.data:
        qubits = [trimmed.qubits[circuit.find_bit(q).index] for q in instruction.qubits]
        clbits = [trimmed.clbits[circuit.find_bit(c).index] for c in instruction.clbits]
        trimmed.append(instruction.operation, qubits, clbits)
    return trimmed


def plain(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts keyed by all classical bits, bit 0 rightmost, without register spaces."""
    merged: dict[str, int] = {}
    for key, count in counts.items():
        key = key.replace(" ", "")
        merged[key] = merged.get(key, 0) + count
    return merged


def sampled_expectations(
    circuit: QuantumCircuit,
    observables: np.ndarray,
    values: Values,
    noise_model: NoiseModel,
    shots: int,
    seed: int,
) -> np.ndarray:
    """Estimates of diagonal (I/Z) observables from Aer's own shots of ``circuit`` under
    ``noise_model``, every qubit measured at the end (readout errors included), at the
    PUB's broadcast shape."""
    measured = circuit.copy()
    register = ClassicalRegister(circuit.num_qubits, "reference")
    measured.add_register(register)
    measured.measure(measured.qubits, register)
    bound = bound_circuits(measured, values)
    simulator = AerSimulator(noise_model=noise_model, enable_truncation=False)
    result = simulator.run(bound, shots=shots, seed_simulator=seed)
    flat = np.ravel(observables)
    table = np.zeros((len(bound), flat.size))
    for row in range(len(bound)):
        counts = result.result().get_counts(row)
        for key, count in counts.items():
            # The reference register was added last: it is the leftmost field.
            bits = key.split(" ")[0]
            for column, observable in enumerate(flat):
                table[row, column] += count * _diagonal_value(observable, bits)
    return _broadcast(table / shots, values, observables)


def averaged_expectations(
    circuit: QuantumCircuit,
    observables: np.ndarray,
    values: Values,
    noise_model: NoiseModel,
    shots: int,
    seed: int,
) -> np.ndarray:
    """Aer's mean, over ``shots`` noisy trajectories of ``circuit``, of each observable's
    value at the end: each shot samples its mid-circuit outcomes (readout errors
    included, as the bits an ``if_test`` reads) and its gate noise. An unbiased estimate
    of the exact noisy value, whose error each shot bounds (``stats``)."""
    flat = np.ravel(observables)
    simulator = AerSimulator(
        method="statevector", noise_model=noise_model, enable_truncation=False
    )
    rows = []
    for bound in bound_circuits(circuit, values):
        saving = bound.copy()
        for j, op in enumerate(flat):
            saving.save_expectation_value(op, list(range(bound.num_qubits)), label=f"e{j}")
        data = simulator.run(saving, shots=shots, seed_simulator=seed).result().data()
        rows.append([data[f"e{j}"] for j in range(flat.size)])
    table = np.array(rows, dtype=float).reshape(len(rows), flat.size)
    return _broadcast(table, values, observables)


def _broadcast(table: np.ndarray, values: Values, observables: np.ndarray) -> np.ndarray:
    """Values per (parameter set, observable), C order, at the PUB's broadcast shape."""
    rows = np.arange(table.shape[0]).reshape(values_shape(values))
    columns = np.arange(table.shape[1]).reshape(observables.shape)
    rows, columns = np.broadcast_arrays(rows, columns)
    return table[rows, columns]


def _diagonal_value(observable: SparsePauliOp, bits: str) -> float:
    """A diagonal observable's value on one outcome (labels and bits: qubit 0 rightmost)."""
    value = 0.0
    for label, coefficient in zip(observable.paulis.to_labels(), observable.coeffs, strict=True):
        if set(label) - {"I", "Z"}:
            raise ValueError(f"{label} is not diagonal")
        parity = sum(b == "1" for b, p in zip(bits, label, strict=True) if p == "Z") % 2
        value += float(coefficient.real) * (-1) ** parity
    return value


def sampler_counts(data: Any, circuit: QuantumCircuit, index: tuple[int, ...]) -> dict[str, int]:
    """One parameter set's outcomes in a SamplerV2 result's ``DataBin``, all registers
    joined as :func:`exact_distribution` keys them (last register leftmost)."""
    loc = index or None
    per_register = [getattr(data, creg.name).get_bitstrings(loc) for creg in circuit.cregs]
    counts: dict[str, int] = {}
    for shot in zip(*per_register, strict=True):
        key = "".join(reversed(shot))
        counts[key] = counts.get(key, 0) + 1
    return counts
