"""One Aer run over a contiguous chunk of a batch: what a worker process (or the caller) executes.

Everything here is module-level and picklable by reference, so any
``concurrent.futures.Executor`` can run it. Circuits travel as QPY bytes, which Qiskit
writes and reads in Rust, several times faster than pickling ``QuantumCircuit`` objects.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from qiskit import QuantumCircuit, qpy
from qiskit.circuit import (
    CONTROL_FLOW_OP_NAMES,
    ControlFlowOp,
    ControlledGate,
    Gate,
    ParameterExpression,
    Qubit,
)
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import PauliList, SparsePauliOp
from qiskit.result import Result
from qiskit.transpiler import StagedPassManager
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.library import SaveExpectationValue

from ..exceptions import SimulationError
from ..outcomes import Outcomes
from . import dynamic
from .device import SimulatedDevice

#: Aer seeds the i-th circuit of one run with ``seed_simulator + 2113 * i``. A chunk that
#: starts at circuit k is given ``seed + 2113 * k``, so every circuit gets the seed it
#: would get in one run of the whole batch, however the batch is split.
AER_SEED_STRIDE = 2113
#: Transpiler seed for exact expectation values, so they never vary run to run.
EXACT_TRANSPILER_SEED = 0
#: Optimisation level used when a circuit must be rewritten for the simulated device.
TRANSPILE_LEVEL = 1

_STANDARD = get_standard_gate_name_mapping()
#: Instructions that keep a state pure, and that leave it mixed.
_UNITARY = frozenset(n for n, op in _STANDARD.items() if isinstance(op, Gate)) | {
    "barrier",
    "delay",
}
_NONUNITARY = frozenset({"reset", "kraus", "superop"})
#: Standard instructions whose parameters Aer's ``parameter_binds`` bind: all but the
#: parametrised controlled gates (see :func:`_aer_binds`).
_BOUND_BY_AER = frozenset(
    n for n, op in _STANDARD.items() if not (isinstance(op, ControlledGate) and op.params)
) | {"barrier", "save_expval"}

T = TypeVar("T")


@dataclass(frozen=True)
class SampleResult:
    """Outcomes of one circuit (with each shot's, in shot order, when they were asked
    for) and the Aer seed that produced them."""

    outcomes: Outcomes
    seed_simulator: int | None = None


@dataclass(frozen=True)
class SampleTask:
    """How to sample every chunk of one batch."""

    device: SimulatedDevice
    shots: int
    seed: int
    memory: bool
    threads: int | None = None  # Aer threads per worker; None: Aer's own choice


@dataclass(frozen=True)
class ParameterRows:
    """Parameter sets one circuit runs with, bound inside Aer (no bound copies are made).

    ``values`` has a row per set and a column per parameter, in ``circuit.parameters``
    order (a circuit without parameters takes exactly one, empty, row); ``first`` is
    the batch position of the first row's experiment, which fixes its seed.
    """

    first: int
    values: np.ndarray

    def binds(self, circuit: QuantumCircuit) -> dict[Any, np.ndarray]:
        """The rows as Aer's ``parameter_binds`` entry for ``circuit``."""
        return {parameter: self.values[:, k] for k, parameter in enumerate(circuit.parameters)}


@dataclass(frozen=True)
class ExpectationTask:
    """How to compute the exact expectation values of every chunk of one batch."""

    device: SimulatedDevice
    threads: int | None = None  # Aer threads per worker; None: Aer's own choice


def sample_chunk(
    task: SampleTask,
    start: int,
    circuits: Sequence[QuantumCircuit],
    rows: Sequence[ParameterRows] | None = None,
) -> list[SampleResult]:
    """Sample ``circuits``, the chunk of the batch that begins at circuit ``start``.

    With ``rows``, each circuit runs once per parameter set and the results come per
    experiment; seeds follow batch positions, as if every set were a bound circuit.
    """
    runnable = [_runnable(task.device, circuit, task.seed) for circuit in circuits]
    first_seed = task.seed + AER_SEED_STRIDE * (start if rows is None else rows[0].first)
    simulator = _simulator(task.device, task.device.method, task.threads)
    binds = None if rows is None else [e.binds(c) for c, e in zip(circuits, rows, strict=True)]
    result = _run_on_aer(
        simulator,
        runnable,
        binds,
        shots=task.shots,
        seed_simulator=first_seed,
        memory=task.memory,
    )
    return [
        _sample_result(result, index, first_seed + AER_SEED_STRIDE * index, task.memory)
        for index in range(len(result.results))
    ]


def expectation_chunk(
    task: ExpectationTask,
    start: int,
    circuits: Sequence[QuantumCircuit],
    observables: Sequence[Sequence[SparsePauliOp]],
    rows: Sequence[ParameterRows] | None = None,
) -> list[np.ndarray]:
    """Exact ``<psi|O|psi>`` of each observable on each circuit, final measurements dropped.

    Each circuit runs on the method :func:`_exact_method` picks, translated for it; a
    circuit that measures mid-circuit or branches is the sum of its branches
    (:mod:`.dynamic`). With ``rows``, each circuit's values are a ``(parameter sets,
    observables)`` array.
    """
    readout = functools.partial(_readout_errors, task.device, task.threads)
    prepared = [
        _saving_expectations(task.device, circuit, ops, readout)
        for circuit, ops in zip(circuits, observables, strict=True)
    ]
    owners = [i for i, (_, branches) in enumerate(prepared) for _ in branches]
    flat = [branch for _, branches in prepared for branch in branches]
    modes = [mode for mode, branches in prepared for _ in branches]
    sets = [1 if rows is None else len(rows[i].values) for i in range(len(circuits))]
    values = [np.zeros((sets[i], len(ops))) for i, ops in enumerate(observables)]
    for mode in dict.fromkeys(modes):
        group = [k for k, used in enumerate(modes) if used == mode]
        simulator = _simulator(task.device, mode.method, task.threads)
        binds = (
            None if rows is None else [rows[owners[k]].binds(circuits[owners[k]]) for k in group]
        )
        result = _run_on_aer(
            simulator, [flat[k] for k in group], binds, shots=1, fusion_enable=not mode.branched
        )
        experiments = (result.data(index) for index in range(len(result.results)))
        for k in group:
            i = owners[k]
            # Aer runs a branch left without parameters once, whatever its binds hold.
            count = sets[i] if flat[k].parameters else 1
            labels = [f"ev{j}" for j in range(len(observables[i]))]
            table = [
                [data[label] for label in labels] for data in itertools.islice(experiments, count)
            ]
            values[i] += np.array(table, float).reshape(count, len(labels))
    return values if rows is not None else [table[0] for table in values]


def check_exact(device: SimulatedDevice, circuit: QuantumCircuit, label: str) -> None:
    """Refuse, before anything runs, a circuit whose exact values cannot be followed.

    Raises:
        InvalidCircuitError: it has too many branches of mid-circuit measurements.
        InvalidInputError: the device's noise model acts on mid-circuit measurements in a
            way exact values do not follow.
    """
    if not dynamic.is_dynamic(circuit):
        return
    stripped = dynamic.without_final_measurements(circuit)
    if dynamic.is_dynamic(stripped):
        dynamic.check_branches(label, stripped)
        _readout_errors(device, None)


def exit_with_parent() -> None:
    """Pool initializer: end this worker when the process that made it dies, even if killed.

    Otherwise a killed parent leaves its workers waiting for work forever.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_after, args=(parent,), daemon=True).start()


def _exit_after(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(1)


def warm_up(device: SimulatedDevice, threads: int) -> None:
    """Build a worker's simulator for ``device`` before its first chunk arrives."""
    _simulator(device, device.method, threads)


def pack(circuits: Sequence[QuantumCircuit]) -> bytes:
    """QPY bytes for a chunk; circuit metadata a worker has no use for is written as null."""
    buffer = io.BytesIO()
    qpy.dump(list(circuits), buffer, metadata_serializer=_NullForUnknown)
    return buffer.getvalue()


def run_packed(
    run: Callable[..., list[T]], task: Any, start: int, packed: bytes, *extra: Any
) -> list[T]:
    """Worker entry point: unpack a chunk's circuits, then ``run`` it."""
    return run(task, start, qpy.load(io.BytesIO(packed)), *extra)


class _NullForUnknown(json.JSONEncoder):
    def default(self, o: object) -> None:
        return None


def _runnable(device: SimulatedDevice, circuit: QuantumCircuit, seed: int) -> QuantumCircuit:
    """``circuit`` itself if the device runs it as is; else translated where it stands if
    its qubits are the device's already (its noise is that of the qubits the user chose),
    or laid out, routed and translated (seeded) if they are logical.

    Only a layout chosen here is set on the result: a translated circuit has none.
    """
    if device.conforms(circuit):
        return circuit
    return _pass_manager(device, seed, device.placed(circuit)).run(circuit)


def _saving_expectations(
    device: SimulatedDevice,
    circuit: QuantumCircuit,
    observables: Sequence[SparsePauliOp],
    readout: Callable[[], dynamic.ReadoutErrors],
) -> tuple[ExactMode, list[QuantumCircuit]]:
    """How Aer runs ``circuit``, and the circuit ready for it, saving each observable's
    value as ``ev{j}``: one circuit, or one per branch when it measures mid-circuit or
    branches (their values add up)."""
    stripped = dynamic.without_final_measurements(circuit)
    method = _exact_method(device, stripped)
    prepared = _runnable(device.for_method(method), stripped, EXACT_TRANSPILER_SEED)
    # Observables refer to the qubits of the circuit given (laid out already if the user
    # transpiled it); only a layout added here, by transpiling for the device, moves them.
    placed = (
        prepared.layout.final_index_layout()
        if prepared is not stripped and prepared.layout is not None
        else range(circuit.num_qubits)
    )
    branched = dynamic.is_dynamic(prepared)
    found = dynamic.branches(prepared, readout()) if branched else [prepared]
    # Saves span every qubit the circuit acts on, not only the observables': Aer's
    # dropping of idle qubits then removes only truly idle ones (left to it, it dropped
    # entangled qubits and the qubits of a branch's measurement instruments, whose trace
    # is the branch's weight: qiskit-aer 0.18).
    weighed = {
        branch.find_bit(qubit).index
        for branch in found
        for instruction in branch.data
        if instruction.operation.name != "barrier"
        for qubit in instruction.qubits
    }
    saves, qubits = _saving(observables, placed, weighed)
    for branch in found:
        for save in saves:
            branch.append(save, [branch.qubits[q] for q in qubits])
    return ExactMode(method, branched), found


@dataclass(frozen=True)
class ExactMode:
    """How Aer runs a circuit's exact values: its ``method``, and whether the circuit was
    split into branches, whose measurement instruments Aer must not fuse: where a branch
    cannot happen (a qubit measured twice with two records, or reset and then read 1)
    its fused instruments are all zero, and qiskit-aer 0.18 crashes the process on them
    (a segmentation fault) instead of giving the branch its weight of 0."""

    method: str
    branched: bool


def _exact_method(device: SimulatedDevice, circuit: QuantumCircuit) -> str:
    """Aer's method for the exact state of ``circuit`` (final measurements dropped): the
    statevector while it stays pure; the density matrix under noise, when it measures
    mid-circuit (each branch applies a trace-decreasing instrument) and when it resets
    (``initialize`` does), where a statevector would collapse to one random outcome."""
    mixed = device.noisy or dynamic.is_dynamic(circuit) or _resets(circuit)
    return "density_matrix" if mixed else "statevector"


def _resets(circuit: QuantumCircuit) -> bool:
    """Whether ``circuit`` has a non-unitary instruction: a reset or a channel, or an
    instruction defined through one (``initialize``)."""
    names = circuit.count_ops().keys()
    if not _NONUNITARY.isdisjoint(names):
        return True
    if names <= _UNITARY:
        return False
    return any(
        not isinstance(operation, Gate)
        and operation.definition is not None
        and _resets(operation.definition)
        for operation in (instruction.operation for instruction in circuit.data)
    )


def _saving(
    observables: Sequence[SparsePauliOp], placed: Sequence[int], weighed: Collection[int]
) -> tuple[list[SaveExpectationValue], list[int]]:
    """Instructions saving each observable's value as ``ev{j}``, and the qubits they all
    act on: only those some term acts on or that carry a branch's weight (``weighed``,
    as placed), so Aer can drop every qubit the circuit leaves idle. They share one list
    of qubits, as Aer's dropping of idle qubits mixes up the values of saves on
    different ones (qiskit-aer 0.18)."""
    acted_on = np.isin(np.asarray(placed), list(weighed))
    for observable in observables:
        acted_on |= np.any(observable.paulis.z | observable.paulis.x, axis=0)
    if acted_on.all():
        saves = [SaveExpectationValue(op, label=f"ev{j}") for j, op in enumerate(observables)]
        return saves, list(placed)
    kept = np.flatnonzero(acted_on) if acted_on.any() else np.array([0])
    saves = [
        SaveExpectationValue(
            SparsePauliOp(
                PauliList.from_symplectic(op.paulis.z[:, kept], op.paulis.x[:, kept]), op.coeffs
            ),
            label=f"ev{j}",
        )
        for j, op in enumerate(observables)
    ]
    return saves, [placed[k] for k in kept]


def _run_on_aer(
    simulator: AerSimulator,
    circuits: Sequence[QuantumCircuit],
    binds: Sequence[dict[Any, np.ndarray]] | None,
    **options: Any,
) -> Result:
    """Run ``circuits`` on Aer, each once per parameter set of its ``binds`` (a circuit
    without parameters: once), around two faults of qiskit-aer 0.18:

    - its ``parameter_binds`` leave the angles of parametrised controlled gates (``cp``,
      ``crx``, ``cu`` ...) as they were: a circuit whose parameters reach one is bound
      here, one copy per set, in order (results and seeds line up as before);
    - its truncation of idle qubits fails on control flow no result depends on, which
      is dropped here first (:func:`_without_dead_control_flow`).
    """
    runnable = [_without_dead_control_flow(circuit) for circuit in circuits]
    if binds is None:
        return _checked(simulator.run(runnable, **options).result())
    experiments: list[QuantumCircuit] = []
    aer_binds: list[dict[Any, np.ndarray]] = []
    for circuit, kept, each in zip(circuits, runnable, binds, strict=True):
        # A circuit left without parameters (they were all in dead code) would run once.
        if _aer_binds(kept) and (kept.num_parameters or not circuit.num_parameters):
            experiments.append(kept)
            aer_binds.append(each)
            continue
        for row in zip(*each.values(), strict=True):
            values = dict(zip(each, row, strict=True))
            experiments.append(kept.assign_parameters(values, strict=False))
            aer_binds.append({})
    return _checked(simulator.run(experiments, parameter_binds=aer_binds, **options).result())


def _aer_binds(circuit: QuantumCircuit) -> bool:
    """Whether Aer's ``parameter_binds`` bind every parameter of ``circuit``, inside
    control-flow blocks too. Aer binds the instructions whose ``is_parameterized()``
    holds, which a controlled gate's does not: it reads the gate's own parameters, not
    those of its base gate that ``params`` shows (qiskit-aer issue 2323)."""
    if circuit.count_ops().keys() <= _BOUND_BY_AER or not circuit.num_parameters:
        return True
    for instruction in circuit.data:
        operation = instruction.operation
        if isinstance(operation, ControlFlowOp):
            if not all(map(_aer_binds, operation.blocks)):
                return False
        elif not operation.is_parameterized() and any(
            isinstance(param, ParameterExpression) and param.parameters
            for param in operation.params
        ):
            return False
    return True


def _without_dead_control_flow(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` without the control flow no result depends on: blocks that record
    nothing and act only on qubits no later measurement sees (dead code: Aer's
    truncation drops it, but keeps the jumps and marks it becomes, on qubits it no
    longer maps, and fails with ``unordered_map::at``: qiskit-aer 0.18). As Aer decides
    what to keep, an instruction on a qubit some result depends on makes all of its
    qubits such; barriers never do."""
    if CONTROL_FLOW_OP_NAMES.isdisjoint(circuit.count_ops()):
        return circuit
    live: set[Qubit] = set()
    dead: set[int] = set()
    for index in range(len(circuit.data) - 1, -1, -1):
        instruction = circuit.data[index]
        operation = instruction.operation
        if operation.name == "barrier":
            continue
        if (
            operation.name == "measure"
            or not live.isdisjoint(instruction.qubits)
            or (isinstance(operation, ControlFlowOp) and _records(operation))
        ):
            live.update(instruction.qubits)
        elif isinstance(operation, ControlFlowOp):
            dead.add(index)
    if not dead:
        return circuit
    kept = circuit.copy_empty_like()
    for index, instruction in enumerate(circuit.data):
        if index not in dead:
            kept.append(instruction, copy=False)
    return kept


def _records(operation: ControlFlowOp) -> bool:
    """Whether a control-flow operation writes classical data (measures or stores)."""
    return any(
        instruction.operation.name in ("measure", "store")
        or (isinstance(instruction.operation, ControlFlowOp) and _records(instruction.operation))
        for block in operation.blocks
        for instruction in block.data
    )


@functools.lru_cache(maxsize=16)
def _readout_errors(device: SimulatedDevice, threads: int | None) -> dynamic.ReadoutErrors:
    """The readout errors mid-circuit measurements see: those of the simulator's noise."""
    return dynamic.ReadoutErrors.of(
        _simulator(device, "density_matrix", threads).options.noise_model
    )


@functools.lru_cache(maxsize=16)
def _simulator(device: SimulatedDevice, method: str, threads: int | None) -> AerSimulator:
    return device.simulator(method, threads)


@functools.lru_cache(maxsize=16)
def _pass_manager(device: SimulatedDevice, seed: int, placed: bool) -> StagedPassManager:
    """The preset pass manager for the device, without scheduling: Aer runs no schedule,
    and aligning delays to a device's timing fails when no scheduling method is chosen
    (Qiskit issue 8985). For a circuit already ``placed``, without layout and routing
    too (without a device, the target couples every qubit: there are none)."""
    manager = generate_preset_pass_manager(
        TRANSPILE_LEVEL, target=device.target, seed_transpiler=seed
    )
    manager.scheduling = None
    if placed:
        manager.layout = manager.routing = None
    return manager


def _checked(result: Result) -> Result:
    if not result.success:
        failures = {experiment.status for experiment in result.results if not experiment.success}
        raise SimulationError(f"Aer failed: {'; '.join(failures) or result.status}")
    return result


def _sample_result(result: Result, index: int, seed: int, memory: bool) -> SampleResult:
    data = result.data(index)
    header = result.results[index].header
    num_bits = header.get("memory_slots") or 0
    registers = tuple((name, size) for name, size in header.get("creg_sizes") or [])
    # A circuit without measurements records nothing in Aer: no counts, no memory.
    if memory:
        outcomes = Outcomes.from_hex_memory(data.get("memory", []), num_bits, registers)
    else:
        outcomes = Outcomes.from_hex_counts(data.get("counts", {}), num_bits, registers)
    return SampleResult(outcomes, seed)
