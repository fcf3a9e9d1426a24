"""What the local simulator imitates: Aer's ideal simulator, a noise model, or a (fake) device.

The documented ``qiskit_backend`` argument is read here, once, into a picklable
:class:`SimulatedDevice` that worker processes turn into an ``AerSimulator``.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import os
import pickle
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Gate, Operation
from qiskit.circuit.controlflow import CONTROL_FLOW_OP_NAMES
from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
from qiskit.providers import BackendV2
from qiskit.transpiler import Target
from qiskit.transpiler.passes.synthesis.plugin import HighLevelSynthesisPluginManager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from ..exceptions import CircuitTooWideError, InvalidTypeError, UnknownBackendError

#: ``qiskit_backend`` strings and the Aer method each one samples with.
SIMULATOR_METHODS = {"qasm_simulator": "automatic", "statevector_simulator": "statevector"}
AUTO = "auto"
#: Directives every simulator accepts although no Target lists them.
_DIRECTIVES = frozenset({"barrier"})

QiskitBackend: TypeAlias = str | BackendV2 | None


@dataclass(eq=False, repr=False)
class SimulatedDevice:
    """An Aer method, plus optionally a device (its target and noise) and a noise model.

    A device pickles to a compact, cached payload and is rebuilt at most once per
    process (see :func:`_restore`), so sending it with every chunk of work is cheap;
    ``key`` names it, the same in every process.
    """

    method: str = "automatic"
    backend: BackendV2 | None = None
    noise_model: NoiseModel | None = None
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    _by_method: dict[str, SimulatedDevice] = field(default_factory=dict, init=False)

    def for_method(self, method: str) -> SimulatedDevice:
        """This device as Aer's ``method`` simulates it: the same noise, and a target of
        only what that method runs (Aer's automatic choice runs more than any one method:
        the density matrix has no ``crx`` or ``initialize``)."""
        if method == self.method:
            return self
        if method not in self._by_method:
            derived = SimulatedDevice(
                method, self.backend, self.noise_model, f"{self.key}:{method}"
            )
            self._by_method[method] = derived
        return self._by_method[method]

    @property
    def name(self) -> str:
        """The device's name, or ``aer_simulator`` when only Aer is imitated."""
        return self.backend.name if self.backend is not None else "aer_simulator"

    @property
    def noisy(self) -> bool:
        """Whether runs see noise (the device's own, or the given noise model)."""
        return self.noise_model is not None or self.backend is not None

    @functools.cached_property
    def num_qubits(self) -> int:
        """The widest circuit this device can run."""
        if self.backend is not None:
            return int(self.backend.num_qubits)
        return int(AerSimulator(method=self.method).configuration().n_qubits)

    @functools.cached_property
    def target(self) -> Target:
        """What circuits run on: the device's target; without one, every instruction Aer
        runs, on any qubits, its gates narrowed to a noise model's (noise attaches to those).
        Either way, only instructions the method runs (all of a device's, as a rule)."""
        if self.backend is not None:
            runs = _method_instructions(self.method)
            return _restricted(self.backend.target, lambda name, _: name in runs)
        aer = AerSimulator(method=self.method).target
        if self.noise_model is None:
            return aer
        basis = frozenset(self.noise_model.basis_gates)
        return _restricted(aer, lambda name, operation: name in basis or not _is_gate(operation))

    def conforms(self, circuit: QuantumCircuit) -> bool:
        """Whether ``circuit`` runs as it is: only instructions of the target, on qubits it
        couples, inside control-flow blocks too."""
        if self.backend is None:
            # Every instruction of such a target acts on any qubits: names suffice.
            return _operation_names(circuit) <= self._runs
        return circuit.num_qubits <= self.num_qubits and _every_instruction(
            circuit,
            range(circuit.num_qubits),
            lambda operation, qubits: self.target.instruction_supported(operation.name, qubits),
        )

    def placed(self, circuit: QuantumCircuit) -> bool:
        """Whether the qubits of ``circuit`` are already the device's, qubit i on physical
        qubit i, so it needs translating only: it was laid out (it has a ``layout``, or is
        as wide as the device) and every instruction on several qubits acts on qubits the
        target couples, inside control-flow blocks too. Any other circuit is logical, for
        the transpiler to lay out and route."""
        if self.backend is None:
            return True  # such a target couples every qubit
        width = circuit.num_qubits
        if width > self.num_qubits or (circuit.layout is None and width != self.num_qubits):
            return False
        return _every_instruction(
            circuit,
            range(width),
            lambda operation, qubits: (
                len(qubits) < 2
                or isinstance(operation, ControlFlowOp)
                or frozenset(qubits) in self._couplings
            ),
        )

    @functools.cached_property
    def _couplings(self) -> frozenset[frozenset[int]]:
        """The sets of qubits some instruction of the target acts on together, in either
        order (translation turns a gate around where the target runs it one way only)."""
        return frozenset(frozenset(qargs) for qargs in self.target.qargs or () if len(qargs) > 1)

    def untranslatable_instruction(self, circuit: QuantumCircuit) -> str | None:
        """An instruction of ``circuit`` the device lacks and the transpiler cannot rewrite
        for it (no equivalence, synthesis or definition leads to the target), if any."""
        names = circuit.count_ops().keys()
        if names <= self._runs and names.isdisjoint(CONTROL_FLOW_OP_NAMES):
            return None
        for instruction in circuit.data:
            missing = self._untranslatable(instruction.operation)
            if missing is not None:
                return missing
        return None

    def _untranslatable(self, operation: Operation) -> str | None:
        name = operation.name
        if name in self._runs:
            blocks = operation.blocks if isinstance(operation, ControlFlowOp) else ()
            return next(filter(None, map(self.untranslatable_instruction, blocks)), None)
        if (name, operation.num_qubits) in self._translations or name in _synthesized():
            return None
        definition = getattr(operation, "definition", None)
        return name if definition is None else self.untranslatable_instruction(definition)

    @functools.cached_property
    def _runs(self) -> frozenset[str]:
        return frozenset(self.target.operation_names) | _DIRECTIVES

    @functools.cached_property
    def _translations(self) -> frozenset[tuple[str, int]]:
        return _translatable_gates(self._runs)

    def simulator(self, method: str | None = None, threads: int | None = None) -> AerSimulator:
        """A new Aer simulator for this device (``threads=None``: Aer's own choice)."""
        options: dict[str, Any] = {"method": method or self.method}
        if threads is not None:
            options["max_parallel_threads"] = threads
        if self.noise_model is not None:
            options["noise_model"] = self._aer_noise_model
        if self.backend is not None:
            return AerSimulator.from_backend(self.backend, **options)
        return AerSimulator(**options)

    @functools.cached_property
    def _aer_noise_model(self) -> NoiseModel | None:
        """The noise model as Aer gets it: with a device, its basis widened to the device's
        gates, since Aer runs only a noise model's basis gates (an empty model would
        otherwise refuse ``ecr``). The noise stays where the model puts it."""
        if self.noise_model is None or self.backend is None:
            return self.noise_model
        widened = copy.deepcopy(self.noise_model)
        widened.add_basis_gates(sorted(self.backend.target.operation_names))
        return widened

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimulatedDevice) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.key, self._payload))

    @functools.cached_property
    def _payload(self) -> bytes:
        return pickle.dumps((self.method, self.backend, self.noise_model))


@functools.lru_cache(maxsize=16)
def _restore(key: str, payload: bytes) -> SimulatedDevice:
    """The device a payload describes, unpickled once per process and key."""
    method, backend, noise_model = pickle.loads(payload)
    return SimulatedDevice(method, backend, noise_model, key)


@functools.cache
def _method_instructions(method: str) -> frozenset[str]:
    """The names of the instructions Aer's ``method`` runs."""
    return frozenset(AerSimulator(method=method).target.operation_names)


def _restricted(target: Target, keeps: Callable[[str, Any], bool]) -> Target:
    """``target`` with only the instructions ``keeps(name, operation)`` accepts, each on the
    qubits and with the properties it had; ``target`` itself when it keeps them all."""
    names = target.operation_names
    kept = [name for name in names if keeps(name, target.operation_from_name(name))]
    if len(kept) == len(names):
        return target
    restricted = Target(
        description=target.description,
        num_qubits=target.num_qubits,
        dt=target.dt,
        granularity=target.granularity,
        min_length=target.min_length,
        pulse_alignment=target.pulse_alignment,
        acquire_alignment=target.acquire_alignment,
        qubit_properties=target.qubit_properties,
        concurrent_measurements=target.concurrent_measurements,
    )
    for name in kept:
        properties = dict(target[name])
        restricted.add_instruction(
            target.operation_from_name(name),
            None if list(properties) == [None] else properties,
            name=name,
        )
    return restricted


def _is_gate(operation: Any) -> bool:
    """Whether a target's entry (an instance, or a class for variadic gates) is a gate."""
    return isinstance(operation, Gate) or (
        isinstance(operation, type) and issubclass(operation, Gate)
    )


def _operation_names(circuit: QuantumCircuit) -> set[str]:
    """Names of the instructions of ``circuit`` and of its control-flow blocks."""
    names = set(circuit.count_ops())
    if not names.isdisjoint(CONTROL_FLOW_OP_NAMES):
        for instruction in circuit.data:
            if isinstance(instruction.operation, ControlFlowOp):
                for block in instruction.operation.blocks:
                    names |= _operation_names(block)
    return names


def _every_instruction(
    circuit: QuantumCircuit,
    physical: Sequence[int],
    holds: Callable[[Operation, tuple[int, ...]], bool],
) -> bool:
    """Whether ``holds(operation, physical qubits)`` for every instruction of ``circuit``,
    whose qubits sit on the ``physical`` ones, control-flow blocks included (barriers,
    which every simulator takes, aside)."""
    index = dict(zip(circuit.qubits, physical, strict=True))
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name in _DIRECTIVES:
            continue
        qubits = tuple(index[qubit] for qubit in instruction.qubits)
        if not holds(operation, qubits):
            return False
        if isinstance(operation, ControlFlowOp) and not all(
            _every_instruction(block, qubits, holds) for block in operation.blocks
        ):
            return False
    return True


def _translatable_gates(runs: frozenset[str]) -> frozenset[tuple[str, int]]:
    """``(name, qubits)`` of every gate the session equivalence library (what the
    transpiler's basis translation uses) rewrites, in any number of steps, into ``runs``."""
    rules = [
        (
            node.key.name,
            node.key.num_qubits,
            {(i.operation.name, i.operation.num_qubits) for i in rule.circuit},
        )
        for node in SessionEquivalenceLibrary.graph.nodes()
        for rule in node.equivs
    ]
    reached: set[tuple[str, int]] = set()
    grown = True
    while grown:
        grown = False
        for name, width, uses in rules:
            if (name, width) not in reached and all(
                used in reached or used[0] in runs for used in uses
            ):
                reached.add((name, width))
                grown = True
    return frozenset(reached)


@functools.cache
def _synthesized() -> frozenset[str]:
    """Instructions the transpiler's high-level synthesis writes out, definition or not."""
    return frozenset(HighLevelSynthesisPluginManager().op_names())


def check_qiskit_backend(qiskit_backend: object) -> QiskitBackend:
    """``qiskit_backend`` if it is one of the accepted kinds, else a clear error."""
    if qiskit_backend is None or isinstance(qiskit_backend, BackendV2):
        return qiskit_backend
    if not isinstance(qiskit_backend, str):
        raise InvalidTypeError(
            "qiskit_backend must be None, a simulator name or a BackendV2, "
            f"got {type(qiskit_backend).__name__}"
        )
    if qiskit_backend != AUTO and qiskit_backend not in SIMULATOR_METHODS:
        known = ", ".join(repr(name) for name in [*SIMULATOR_METHODS, AUTO])
        raise UnknownBackendError(f"unknown qiskit_backend {qiskit_backend!r}; use one of {known}")
    return qiskit_backend


def fixed_device(qiskit_backend: QiskitBackend, noise_model: NoiseModel | None) -> SimulatedDevice:
    """The device for every choice except ``"auto"``, which depends on the batch."""
    if isinstance(qiskit_backend, BackendV2):
        return SimulatedDevice(backend=qiskit_backend, noise_model=noise_model)
    method = SIMULATOR_METHODS.get(qiskit_backend or "qasm_simulator", "automatic")
    return SimulatedDevice(method, noise_model=noise_model)


def smallest_fake_backend(width: int, label: str) -> BackendV2:
    """The smallest fake IBM backend with at least ``width`` qubits (ties: by name).

    Raises:
        CircuitTooWideError: no fake backend is that large; ``label`` names the circuit.
    """
    for num_qubits, _, backend_class in _fake_backend_classes():
        if num_qubits >= width:
            return backend_class()
    largest = _fake_backend_classes()[-1][0]
    raise CircuitTooWideError(
        label, f"{width} qubits, but the largest fake IBM backend has {largest}"
    )


@functools.cache
def _fake_backend_classes() -> list[tuple[int, str, type[BackendV2]]]:
    """Every ``Fake*V2`` backend class with its size, smallest first."""
    from qiskit_ibm_runtime import fake_provider
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    found = [
        (_configured_qubits(cls), name, cls)
        for name, cls in vars(fake_provider).items()
        if name.endswith("V2") and inspect.isclass(cls) and issubclass(cls, FakeBackendV2)
    ]
    return sorted(found, key=lambda entry: entry[:2])


def _configured_qubits(backend_class: Any) -> int:
    """A fake backend's size, read from its configuration file without building it."""
    with open(os.path.join(backend_class.dirname, backend_class.conf_filename)) as conf:
        return int(json.load(conf)["n_qubits"])
