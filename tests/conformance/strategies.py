"""Hypothesis strategies for the conformance suite: small random circuits, observables,
parameter values with broadcast shapes, and fake devices with random initial layouts.

A circuit is drawn as a :class:`CircuitSpec`, a plain record whose ``repr`` is what
Hypothesis prints for a failing example, then built into a ``QuantumCircuit``. Each
mid-circuit measurement writes a one-bit register of its own that a following
``if_test`` reads, so every condition is a register equality, as OpenQASM 2 (the Qoro
wire) can carry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import ParameterExpression, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp, random_hermitian
from qiskit.transpiler import Target
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

#: The suite's Hypothesis settings: the same examples on every run (``derandomize``), no
#: deadline (Aer and the transpiler vary in speed), and no shrinking, whose hundreds of
#: extra simulations would take CI minutes on a failure; the failing example is printed
#: as drawn. Tests lower ``max_examples`` where an example is costly.
CONFORMANCE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=20,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
    print_blob=False,
)


def note_circuit(circuit: QuantumCircuit) -> None:
    """Hypothesis prints the circuit, drawn, with a failing example."""
    note(f"circuit:\n{circuit.draw(fold=-1, idle_wires=False)}")


ONE_QUBIT = ("h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sxdg")
ONE_QUBIT_ROTATIONS = ("rx", "ry", "rz", "p")
TWO_QUBIT = ("cx", "cz", "cy", "ch", "swap", "ecr", "iswap")
TWO_QUBIT_ROTATIONS = ("crx", "cry", "crz", "cp", "rxx", "ryy", "rzz", "rzx")
#: Bodies of ``if_test``: unparametrised one- and two-qubit gates.
BODY_GATES = ("x", "h", "sx", "z", "cx", "cz")
#: Small fake devices whose targets run ``if_else`` (FakeLimaV2's does not).
DEVICES = ("FakeManilaV2", "FakeNairobiV2")

#: An angle: ``("param", index, scale, offset)`` is ``scale * theta[index] + offset``;
#: ``("const", value)`` a number.
Angle = tuple[Any, ...]


@dataclass(frozen=True)
class Op:
    """One step of a drawn circuit.

    ``kind`` is ``"gate"`` (``name`` on ``qubits`` with ``angles``), ``"reset"``,
    ``"barrier"``, ``"initialize"`` (a random state, from ``seed``, on ``qubits``) or
    ``"measure_if"`` (measure ``qubits[0]`` into a fresh one-bit register, then
    ``if_test((register, value))`` runs ``body``, and ``orelse`` when it is given).
    """

    kind: str
    qubits: tuple[int, ...]
    name: str = ""
    angles: tuple[Angle, ...] = ()
    seed: int = 0
    value: int = 1
    body: tuple[str, tuple[int, ...]] | None = None
    orelse: tuple[str, tuple[int, ...]] | None = None


@dataclass(frozen=True)
class CircuitSpec:
    """A circuit as drawn: its width, its steps and (for sampling) final measurements.

    ``final`` lists the qubits measured at the end, into register ``c`` in that order
    (``c[i]`` gets ``final[i]``); empty for estimator circuits.
    """

    num_qubits: int
    ops: tuple[Op, ...]
    final: tuple[int, ...] = ()

    def build(self) -> QuantumCircuit:
        """The ``QuantumCircuit`` this spec describes."""
        theta = ParameterVector("theta", 3)
        circuit = QuantumCircuit(QuantumRegister(self.num_qubits, "q"), name="drawn")
        mids = 0
        for op in self.ops:
            if op.kind == "gate":
                gate = _gate(op.name, [_angle(angle, theta) for angle in op.angles])
                circuit.append(gate, op.qubits)
            elif op.kind == "reset":
                circuit.reset(op.qubits[0])
            elif op.kind == "barrier":
                circuit.barrier(*op.qubits)
            elif op.kind == "initialize":
                circuit.initialize(_random_state(len(op.qubits), op.seed), op.qubits)
            else:
                register = ClassicalRegister(1, f"m{mids}")
                mids += 1
                circuit.add_register(register)
                circuit.measure(op.qubits[0], register[0])
                assert op.body is not None
                with circuit.if_test((register, op.value)) as orelse:
                    circuit.append(_gate(op.body[0], []), op.body[1])
                if op.orelse is not None:
                    with orelse:
                        circuit.append(_gate(op.orelse[0], []), op.orelse[1])
        if self.final:
            register = ClassicalRegister(len(self.final), "c")
            circuit.add_register(register)
            circuit.measure(list(self.final), register)
        return circuit


def _gate(name: str, angles: list[Any]) -> Any:
    gate = get_standard_gate_name_mapping()[name]
    return gate.base_class(*angles) if angles else gate


def _angle(angle: Angle, theta: ParameterVector) -> float | ParameterExpression:
    if angle[0] == "const":
        return float(angle[1])
    _, index, scale, offset = angle
    return scale * theta[index] + offset


def _random_state(num_qubits: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    state = rng.normal(size=2**num_qubits) + 1j * rng.normal(size=2**num_qubits)
    return state / np.linalg.norm(state)


# -- drawing circuits -------------------------------------------------------------------

_angles = st.one_of(
    st.tuples(
        st.just("param"),
        st.integers(0, 2),
        st.sampled_from((1.0, -0.5, 2.0)),
        st.sampled_from((0.0, 0.3)),
    ),
    st.tuples(st.just("const"), st.floats(-3.0, 3.0, allow_nan=False)),
)


@st.composite
def _op(draw: st.DrawFn, num_qubits: int, dynamic: bool, qasm2: bool, resets: bool) -> Op:
    """One random step on ``num_qubits`` qubits."""
    kinds = ["gate"] * 6 + ["barrier"]
    if resets:
        kinds += ["reset", "initialize"]
    if dynamic:
        kinds += ["measure_if"] * 2
    kind = draw(st.sampled_from(kinds))
    qubit = st.integers(0, num_qubits - 1)
    if kind == "gate":
        two = num_qubits >= 2 and draw(st.booleans())
        if two:
            pair = tuple(draw(st.lists(qubit, min_size=2, max_size=2, unique=True)))
            name = draw(st.sampled_from(TWO_QUBIT + TWO_QUBIT_ROTATIONS))
            angles = (draw(_angles),) if name in TWO_QUBIT_ROTATIONS else ()
            return Op("gate", pair, name, angles)
        name = draw(st.sampled_from((*ONE_QUBIT, *ONE_QUBIT_ROTATIONS, "u")))
        count = 3 if name == "u" else int(name in ONE_QUBIT_ROTATIONS)
        angles = tuple(draw(_angles) for _ in range(count))
        return Op("gate", (draw(qubit),), name, angles)
    if kind == "barrier":
        subset = draw(st.lists(qubit, min_size=1, max_size=num_qubits, unique=True))
        return Op("barrier", tuple(subset))
    if kind == "reset":
        return Op("reset", (draw(qubit),))
    if kind == "initialize":
        size = min(num_qubits, draw(st.integers(1, 2)))
        subset = draw(st.lists(qubit, min_size=size, max_size=size, unique=True))
        return Op("initialize", tuple(subset), seed=draw(st.integers(0, 2**16)))
    return draw(_measure_if(num_qubits, qasm2))


@st.composite
def _measure_if(draw: st.DrawFn, num_qubits: int, qasm2: bool) -> Op:
    """A mid-circuit measurement and the ``if_test`` (and maybe ``else``) reading it."""
    measured = draw(st.integers(0, num_qubits - 1))
    body = draw(_body(num_qubits))
    orelse = None if qasm2 or not draw(st.booleans()) else draw(_body(num_qubits))
    return Op("measure_if", (measured,), value=draw(st.integers(0, 1)), body=body, orelse=orelse)


@st.composite
def _body(draw: st.DrawFn, num_qubits: int) -> tuple[str, tuple[int, ...]]:
    names = BODY_GATES if num_qubits >= 2 else BODY_GATES[:4]
    name = draw(st.sampled_from(names))
    size = 2 if name in ("cx", "cz") else 1
    qubits = draw(
        st.lists(st.integers(0, num_qubits - 1), min_size=size, max_size=size, unique=True)
    )
    return name, tuple(qubits)


@st.composite
def circuits(
    draw: st.DrawFn,
    *,
    min_qubits: int = 1,
    max_qubits: int = 6,
    measured: bool = False,
    dynamic: bool = True,
    resets: bool = True,
    qasm2: bool = False,
    max_ops: int = 10,
    min_mids: int = 0,
) -> CircuitSpec:
    """A random circuit spec of ``min_qubits``..``max_qubits`` qubits.

    At most two mid-circuit measurements and two resets or initializations.

    Args:
        measured: end with measurements of a random subset of the qubits, in random order.
        dynamic: may measure mid-circuit and condition later gates on the outcome.
        resets: may contain ``reset`` and ``initialize``.
        qasm2: only what OpenQASM 2 carries (no ``else`` branches).
        max_ops: the most steps.
        min_mids: the fewest mid-circuit measurements (each with its ``if_test``).
    """
    num_qubits = draw(st.integers(min_qubits, max_qubits))
    count = draw(st.integers(1, max_ops))
    ops: list[Op] = []
    for _ in range(count):
        # At most two of each kind of non-unitary step keeps the references small.
        kinds = [op.kind for op in ops]
        more_mids = dynamic and kinds.count("measure_if") < 2
        more_resets = resets and kinds.count("reset") + kinds.count("initialize") < 2
        ops.append(draw(_op(num_qubits, more_mids, qasm2, more_resets)))
    while sum(op.kind == "measure_if" for op in ops) < min_mids:
        ops.insert(draw(st.integers(0, len(ops))), draw(_measure_if(num_qubits, qasm2)))
    final: tuple[int, ...] = ()
    if measured:
        size = draw(st.integers(1, num_qubits))
        final = tuple(draw(st.permutations(range(num_qubits)))[:size])
    return CircuitSpec(num_qubits, tuple(ops), final)


# -- observables and parameter values ---------------------------------------------------

#: ``(observables shape, parameter-values shape)`` pairs that broadcast together.
BROADCAST_SHAPES = (
    ((), ()),
    ((2,), ()),
    ((), (3,)),
    ((2,), (2,)),
    ((2, 1), (3,)),
    ((3,), (2, 1)),
    ((1, 2), (2, 1)),
)


@st.composite
def observable(draw: st.DrawFn, num_qubits: int, *, diagonal: bool = False) -> SparsePauliOp:
    """A random Hermitian observable on ``num_qubits`` qubits: a few Pauli terms, each on
    a few random qubits (users' observables are local; an identity term may join them),
    with real coefficients, or (not ``diagonal``) a random Hermitian matrix on one or
    two qubits, as Pauli terms, with identity elsewhere."""
    qubit = st.integers(0, num_qubits - 1)
    if not diagonal and draw(st.booleans()):
        size = min(num_qubits, draw(st.integers(1, 2)))
        support = draw(st.lists(qubit, min_size=size, max_size=size, unique=True))
        matrix = random_hermitian(2**size, seed=draw(st.integers(0, 2**16)))
        local = SparsePauliOp.from_operator(matrix)
        return local.apply_layout(support, num_qubits).simplify()
    letters = "Z" if diagonal else "XYZ"
    labels = []
    for _ in range(draw(st.integers(1, 4))):
        size = draw(st.sampled_from((1, 1, 2, 3, num_qubits)))
        size = min(size, num_qubits)
        support = draw(st.lists(qubit, min_size=size, max_size=size, unique=True))
        label = ["I"] * num_qubits
        for position in support:
            label[num_qubits - 1 - position] = draw(st.sampled_from(letters))
        labels.append("".join(label))
    if draw(st.booleans()):
        labels.append("I" * num_qubits)
    distinct = list(dict.fromkeys(labels))  # repeated terms could cancel to nothing
    coefficients = [draw(st.sampled_from((1.0, -1.0, 0.5, -0.25, 2.0))) for _ in distinct]
    return SparsePauliOp(distinct, coefficients)


def observables_array(ops: list[SparsePauliOp], shape: tuple[int, ...]) -> np.ndarray:
    """``ops`` (as many as ``shape`` holds) as an object array of that shape."""
    array = np.empty(int(np.prod(shape, dtype=int)), dtype=object)
    for index, op in enumerate(ops):
        array[index] = op
    return array.reshape(shape)


def parameter_values(circuit: QuantumCircuit, shape: tuple[int, ...], seed: int) -> Any:
    """Random values for ``circuit``'s parameters at a broadcast ``shape``, keyed by the
    parameters themselves (so they bind the same in any circuit holding them, such as a
    reference's rewrite), or ``None`` when it has none."""
    if not circuit.parameters:
        return None
    rng = np.random.default_rng(seed)
    parameters = tuple(circuit.parameters)
    return {parameters: rng.uniform(-np.pi, np.pi, size=(*shape, len(parameters)))}


# -- devices and layouts ----------------------------------------------------------------


@functools.cache
def fake_device(name: str) -> BackendV2:
    """One shared instance per fake device class."""
    from qiskit_ibm_runtime import fake_provider

    backend: BackendV2 = getattr(fake_provider, name)()
    return backend


@dataclass(frozen=True)
class Transpilation:
    """How a circuit is compiled for a device: its initial layout, level and seed."""

    device: str
    layout: tuple[int, ...]
    level: int
    seed: int

    def run(self, circuit: QuantumCircuit, target: Target | None = None) -> QuantumCircuit:
        """``circuit`` compiled for the device, or for ``target`` with the device's
        layout (an ISA circuit with a layout)."""
        manager = generate_preset_pass_manager(
            self.level,
            target=target if target is not None else fake_device(self.device).target,
            initial_layout=list(self.layout),
            seed_transpiler=self.seed,
        )
        return manager.run(circuit)


@st.composite
def transpilations(
    draw: st.DrawFn, num_qubits: int, devices: tuple[str, ...] = DEVICES, within: int = 0
) -> Transpilation:
    """A device at least ``num_qubits`` wide, a random initial layout on it (on its first
    ``within`` qubits when given, so that routing stays among a few), and a level."""
    fitting = [name for name in devices if fake_device(name).num_qubits >= num_qubits]
    device = draw(st.sampled_from(fitting))
    width = within or fake_device(device).num_qubits
    layout = tuple(draw(st.permutations(range(width)))[:num_qubits])
    level = draw(st.sampled_from((0, 1, 2, 3)))
    return Transpilation(device, layout, level, draw(st.integers(0, 999)))


# -- whole cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatorCase:
    """An estimator PUB as drawn: a circuit (compiled for a device when ``compiled`` is
    given), observables on its logical qubits, and the PUB's broadcast shapes."""

    spec: CircuitSpec
    compiled: Transpilation | None
    observables: tuple[SparsePauliOp, ...]
    shapes: tuple[tuple[int, ...], tuple[int, ...]]
    seed: int

    def pub(self, target: Target | None = None) -> tuple[QuantumCircuit, np.ndarray, Any]:
        """``(circuit, observables, parameter values)``: an ISA circuit with its
        observables laid out by ``apply_layout(isa.layout)`` when compiled."""
        circuit = self.spec.build()
        ops = list(self.observables)
        if self.compiled is not None:
            circuit = self.compiled.run(circuit, target)
            ops = [op.apply_layout(circuit.layout) for op in ops]
        observables_shape, values_shape = self.shapes
        values = parameter_values(circuit, values_shape, self.seed)
        return circuit, observables_array(ops, observables_shape), values


@st.composite
def estimator_cases(
    draw: st.DrawFn,
    *,
    compiled: bool | None = None,
    diagonal: bool = False,
    devices: tuple[str, ...] = DEVICES,
    within: int = 0,
    **circuit_options: Any,
) -> EstimatorCase:
    """An :class:`EstimatorCase`; ``compiled``: always (``True``), never (``False``) or
    either (``None``) compiled for one of ``devices``, with a random initial layout
    (see :func:`transpilations`)."""
    spec = draw(circuits(**circuit_options))
    if compiled is None:
        compiled = draw(st.booleans())
    transpilation = draw(transpilations(spec.num_qubits, devices, within)) if compiled else None
    shapes = draw(st.sampled_from(BROADCAST_SHAPES))
    size = int(np.prod(shapes[0], dtype=int))
    ops = tuple(draw(observable(spec.num_qubits, diagonal=diagonal)) for _ in range(size))
    return EstimatorCase(spec, transpilation, ops, shapes, draw(st.integers(0, 2**16)))


#: Parameter-value shapes of sampler PUBs.
SAMPLER_SHAPES = ((), (2,), (2, 1))


@dataclass(frozen=True)
class SamplerCase:
    """A sampler PUB as drawn: a measured circuit (compiled for a device when
    ``compiled`` is given) and the broadcast shape of its parameter values."""

    spec: CircuitSpec
    compiled: Transpilation | None
    shape: tuple[int, ...]
    seed: int

    def pub(self, target: Target | None = None) -> tuple[QuantumCircuit, Any]:
        """``(circuit, parameter values)``, the circuit an ISA one when compiled."""
        circuit = self.spec.build()
        if self.compiled is not None:
            circuit = self.compiled.run(circuit, target)
        return circuit, parameter_values(circuit, self.shape, self.seed)


@st.composite
def sampler_cases(
    draw: st.DrawFn,
    *,
    compiled: bool | None = None,
    devices: tuple[str, ...] = DEVICES,
    **circuit_options: Any,
) -> SamplerCase:
    """A :class:`SamplerCase`; ``compiled`` as in :func:`estimator_cases`."""
    spec = draw(circuits(measured=True, **circuit_options))
    if compiled is None:
        compiled = draw(st.booleans())
    transpilation = draw(transpilations(spec.num_qubits, devices)) if compiled else None
    shape = draw(st.sampled_from(SAMPLER_SHAPES))
    return SamplerCase(spec, transpilation, shape, draw(st.integers(0, 2**16)))
