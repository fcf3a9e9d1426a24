"""What a device runs: gates the transpiler can rewrite for it are compiled, the rest refused
up front; targets that Qiskit's transpiler can use; results as Aer gives them."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, transpile
from qiskit.circuit import ControlFlowOp, Gate, IfElseOp
from qiskit.circuit.controlflow import ForLoopOp, SwitchCaseOp, WhileLoopOp
from qiskit.circuit.library import CXGate
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector, random_clifford
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_ibm_runtime.fake_provider import FakeManilaV2, FakeSherbrooke

from qiskit_divi import EstimatorV2, ParallelSimulatorBackend, SamplerV2
from qiskit_divi.exceptions import InvalidCircuitError
from qiskit_divi.simulator.device import fixed_device, smallest_fake_backend
from qiskit_divi.simulator.runs import TRANSPILE_LEVEL, _runnable

from .circuits import assert_distribution, assert_same_distribution, exact_probabilities

SHOTS = 4000
#: A line of five qubits, with readout errors far apart.
MANILA = FakeManilaV2()


def _standard_gates() -> QuantumCircuit:
    """``cx`` and ``u``, which an ECR device lacks, and a Clifford, which has no definition."""
    circuit = QuantumCircuit(3, name="standard")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.u(0.7, 0.3, -0.4, 2)
    circuit.append(random_clifford(2, seed=3), [1, 2])
    circuit.measure_all()
    return circuit


def _dynamic() -> QuantumCircuit:
    """A measurement feeding a condition whose block holds ``ch``, which Aer lacks."""
    circuit = QuantumCircuit(3, 3, name="dynamic")
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(1)
        circuit.ch(1, 2)
    with circuit.for_loop(range(2)):
        circuit.h(2)
    circuit.measure([1, 2], [1, 2])
    return circuit


#: ``_dynamic``'s outcomes: c0 = 0 leaves 000; c0 = 1 sets q1 and puts q2 in H|0>, and the
#: loop's two H's undo nothing that matters for q2 = H H H|0> = H|0>.
_DYNAMIC_PROBABILITIES = {"000": 0.5, "011": 0.25, "111": 0.25}


def _names(circuit: QuantumCircuit) -> set[str]:
    names = set(circuit.count_ops())
    for instruction in circuit.data:
        if isinstance(instruction.operation, ControlFlowOp):
            for block in instruction.operation.blocks:
                names |= _names(block)
    return names


@pytest.fixture(scope="module")
def ecr_device() -> GenericBackendV2:
    """A small device in the ECR basis, as IBM's Eagle devices are."""
    return GenericBackendV2(3, basis_gates=["ecr", "rz", "sx", "x"], seed=11)


# -- what a device takes (item: devices refused gates the transpiler translates) ----------


@pytest.mark.slow
def test_sherbrooke_compiles_cx_and_u_in_run_and_the_sampler_as_aer_does():
    fake = FakeSherbrooke()
    backend = ParallelSimulatorBackend(qiskit_backend=fake, n_processes=1)
    circuit = QuantumCircuit(2, name="bell_u")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.u(0.4, 0.2, 0.1, 1)
    circuit.measure_all()
    aer = AerSimulator.from_backend(fake)
    # The same compilation run in Aer: same layout, so the same qubits' noise.
    manager = generate_preset_pass_manager(TRANSPILE_LEVEL, target=aer.target, seed_transpiler=5)
    theirs = aer.run(manager.run(circuit), shots=SHOTS, seed_simulator=6).result().get_counts()

    ours = backend.run(circuit, shots=SHOTS, seed_simulator=5).result().get_counts()
    sampled = SamplerV2(backend, options={"seed": 5}).run([circuit], shots=SHOTS).result()

    assert_same_distribution(ours, theirs)
    assert_same_distribution(sampled[0].data.meas.get_counts(), theirs)
    backend.close()


def test_a_device_compiles_standard_gates_it_lacks_to_the_exact_distribution(ecr_device):
    # An empty noise model replaces the device's noise: only its target remains.
    backend = ParallelSimulatorBackend(
        qiskit_backend=ecr_device, noise_model=NoiseModel(), n_processes=1
    )
    counts = backend.run(_standard_gates(), shots=SHOTS, seed_simulator=3).result().get_counts()
    assert_distribution(counts, exact_probabilities(_standard_gates()))


def test_an_empty_noise_model_leaves_a_devices_coupling_with_ideal_gates():
    """FakeManilaV2 is a line: the cx between its ends gets routed, every gate is ideal."""
    circuit = QuantumCircuit(3, name="ends")
    circuit.h(0)
    circuit.cx(0, 2)
    circuit.u(0.7, 0.3, -0.4, 1)
    circuit.cx(1, 2)
    circuit.ry(0.9, 0)
    backend = ParallelSimulatorBackend(
        qiskit_backend=MANILA, noise_model=NoiseModel(), n_processes=1
    )
    labels = ["ZZZ", "XIX", "IYZ"]

    values = EstimatorV2(backend).run([(circuit, labels)]).result()[0].data.evs
    measured = circuit.measure_all(inplace=False)
    counts = backend.run(measured, shots=SHOTS, seed_simulator=1).result().get_counts()
    sampled = SamplerV2(backend, options={"seed": 2}).run([measured], shots=SHOTS).result()

    backend.close()
    state = Statevector(circuit)
    exact = [state.expectation_value(SparsePauliOp(label)).real for label in labels]
    np.testing.assert_allclose(values, exact, rtol=0, atol=1e-9)
    assert_distribution(counts, exact_probabilities(measured))
    assert_distribution(sampled[0].data.meas.get_counts(), exact_probabilities(measured))


def test_a_noisy_device_run_agrees_with_aer_on_the_same_compilation(ecr_device):
    backend = ParallelSimulatorBackend(qiskit_backend=ecr_device, n_processes=1)
    isa = transpile(_standard_gates(), backend, seed_transpiler=8)
    theirs = AerSimulator.from_backend(ecr_device).run(isa, shots=SHOTS, seed_simulator=1)

    ours = backend.run(isa, shots=SHOTS, seed_simulator=2).result().get_counts()

    assert_same_distribution(ours, theirs.result().get_counts())


# -- circuits the user placed on the device's qubits ---------------------------------------


def _placed_with_an_h(initial_layout: list[int]) -> QuantumCircuit:
    """An ISA circuit on ``initial_layout``, then an ``h`` (not Manila's) that returns its
    first qubit from |+> to |0>; each placed qubit is measured, with a certain outcome,
    so every bit errs only as its own qubit misreads it."""
    logical = QuantumCircuit(len(initial_layout))
    logical.h(0)
    logical.x(1)
    logical.cx(1, 0)  # leaves |+> on qubit 0 alone
    for k in range(1, logical.num_qubits - 1):
        logical.cx(k, k + 1)  # |1> down the chain
    isa = transpile(logical, MANILA, initial_layout=initial_layout, seed_transpiler=1)
    isa.h(initial_layout[0])
    bits = ClassicalRegister(len(initial_layout), "placed")
    isa.add_register(bits)
    isa.measure(initial_layout, bits)
    return isa


@pytest.mark.parametrize(
    "initial_layout", [[4, 3, 2, 1, 0], [2, 3]], ids=["full width", "two of five qubits"]
)
def test_a_placed_circuit_needing_translation_runs_on_its_own_qubits(initial_layout):
    """FakeManilaV2 misreads qubit 2 in 9.64 % of shots, every other qubit in 3.53 % or
    less: a bit read on another qubit than the one the user chose, or on qubit 2 instead,
    errs at a rate >= 6.1 points apart, 11 standard errors of the difference at SHOTS
    (sqrt(0.0964 * 0.9036 / 4000 + 0.0353 * 0.9647 / 4000) = 0.0055), where the
    chi-squared test at 1e-4 needs about 5."""
    circuit = _placed_with_an_h(initial_layout)
    assert circuit.count_ops()["h"] == 1 and circuit.layout is not None
    # Aer runs it translated where it stands: qubit i stays on physical qubit i.
    in_place = transpile(
        circuit, MANILA, initial_layout=range(5), optimization_level=1, seed_transpiler=1
    )
    assert in_place.layout.final_index_layout() == list(range(5))
    aer = AerSimulator.from_backend(MANILA).run(in_place, shots=SHOTS, seed_simulator=1)
    theirs = aer.result().get_counts()
    backend = ParallelSimulatorBackend(qiskit_backend=MANILA, n_processes=1)

    ours = backend.run(circuit, shots=SHOTS, seed_simulator=2).result().get_counts()
    sampled = SamplerV2(backend, options={"seed": 3}).run([circuit], shots=SHOTS).result()

    backend.close()
    assert_same_distribution(ours, theirs)
    assert_same_distribution(sampled[0].data.placed.get_counts(), theirs)


def _with_gates(*gates: tuple[str, tuple[int, ...]], width: int = 5) -> QuantumCircuit:
    circuit = QuantumCircuit(width)
    for name, qubits in gates:
        getattr(circuit, name)(*qubits)
    return circuit


def _in_a_block(pair: tuple[int, int]) -> QuantumCircuit:
    circuit = QuantumCircuit(5, 1)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.cz(*pair)
    return circuit


def _laid_out_with(name: str, qubits: tuple[int, ...]) -> QuantumCircuit:
    isa = transpile(QuantumCircuit(2), MANILA, initial_layout=[2, 3])
    getattr(isa, name)(*qubits)
    return isa


@pytest.mark.parametrize(
    ("circuit", "placed"),
    [
        (_laid_out_with("h", (2,)), True),
        (_laid_out_with("swap", (3, 2)), True),
        (_with_gates(("cz", (3, 4)), ("h", (0,))), True),  # as wide as the device
        (_in_a_block((1, 2)), True),
        (_with_gates(("h", (0,)), width=2), False),  # narrower, no layout: logical
        (_with_gates(("cx", (0, 2))), False),  # not coupled: needs routing
        (_in_a_block((0, 2)), False),
        (_laid_out_with("ccx", (1, 2, 3)), False),  # written out on 1 and 3, not coupled
        (_with_gates(("h", (0,)), width=6), False),
    ],
)
def test_only_circuits_on_coupled_qubits_of_the_device_count_as_placed(circuit, placed):
    assert fixed_device(MANILA, None).placed(circuit) is placed


def test_a_placed_circuit_is_translated_where_it_stands_even_against_a_one_way_coupling():
    one_way = GenericBackendV2(
        3, basis_gates=["ecr", "rz", "sx", "x"], coupling_map=[[0, 1], [1, 2]]
    )
    device = fixed_device(one_way, None)
    circuit = _with_gates(("h", (2,)), ("cx", (1, 0)), ("cx", (2, 1)), width=3)
    assert device.placed(circuit) and not device.conforms(circuit)

    translated = _runnable(device, circuit, seed=0)

    assert device.conforms(translated)
    assert translated.layout is None  # nothing for the exact estimator to move
    assert Operator(translated).equiv(Operator(circuit))


@pytest.mark.parametrize("width", [5, 2], ids=["placed", "logical"])
def test_a_delay_compiles_for_a_device_with_timing_constraints_and_decays_as_in_aer(width):
    """Qiskit's scheduling stage refuses a delay off FakeManilaV2's alignment (16 dt)
    unless a scheduling method is chosen; Aer needs no schedule. The excited qubit decays
    by its T1 during the delay, as Aer has it on the same qubit (a logical circuit without
    two-qubit gates keeps the trivial layout)."""
    circuit = QuantumCircuit(width)
    circuit.x(0)
    circuit.delay(450_008, 0)  # 100 us in dt, off the 16 dt alignment
    circuit.h(1)  # not Manila's: the circuit must be compiled
    circuit.measure_all()
    translated = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.name == "h":  # as the compiled circuit has it (a global phase apart)
            translated.rz(np.pi / 2, 1)
            translated.sx(1)
            translated.rz(np.pi / 2, 1)
        else:
            translated.append(instruction)
    aer = AerSimulator.from_backend(MANILA).run(translated, shots=SHOTS, seed_simulator=1)
    backend = ParallelSimulatorBackend(qiskit_backend=MANILA, n_processes=1)

    ours = backend.run(circuit, shots=SHOTS, seed_simulator=2).result().get_counts()

    backend.close()
    assert_same_distribution(ours, aer.result().get_counts())
    assert sum(n for outcome, n in ours.items() if outcome.endswith("0")) > SHOTS / 10


def test_gates_aer_lacks_inside_control_flow_are_compiled():
    backend = ParallelSimulatorBackend(n_processes=1)
    counts = backend.run(_dynamic(), shots=SHOTS, seed_simulator=4).result().get_counts()
    assert_distribution(counts, _DYNAMIC_PROBABILITIES)


def test_initialize_runs_on_a_device(ecr_device):
    circuit = QuantumCircuit(2, name="prepared")
    circuit.initialize([0.6, 0, 0, 0.8j], [0, 1])
    circuit.h(1)
    circuit.measure_all()
    backend = ParallelSimulatorBackend(
        qiskit_backend=ecr_device, noise_model=NoiseModel(), n_processes=1
    )
    counts = backend.run(circuit, shots=SHOTS, seed_simulator=9).result().get_counts()
    expected = Statevector(circuit.remove_final_measurements(inplace=False))
    assert_distribution(counts, expected.probabilities_dict())


def _opaque_in_a_block() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1, name="hidden")
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.append(Gate("mystery", 1, []), [0])
    circuit.measure(0, 0)
    return circuit


def _opaque_in_a_definition() -> QuantumCircuit:
    inner = QuantumCircuit(1, name="wrapper")
    inner.append(Gate("mystery", 1, []), [0])
    circuit = QuantumCircuit(1, name="wrapped")
    circuit.append(inner.to_gate(), [0])
    circuit.measure_all()
    return circuit


def _a_while_loop() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1, name="repeat")
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.while_loop((circuit.clbits[0], 1)):
        circuit.h(0)
        circuit.measure(0, 0)
    return circuit


@pytest.mark.parametrize(
    ("qiskit_backend", "circuit", "match"),
    [
        (None, _opaque_in_a_block(), r"'hidden'.*aer_simulator has no 'mystery'"),
        (None, _opaque_in_a_definition(), r"'wrapped'.*has no 'mystery'"),
        # IBM devices, hence their fake twins, have no while loops.
        (FakeManilaV2(), _a_while_loop(), r"'repeat'.*fake_manila has no 'while_loop'"),
    ],
)
def test_what_the_transpiler_cannot_rewrite_is_refused_before_anything_runs(
    qiskit_backend, circuit, match
):
    backend = ParallelSimulatorBackend(qiskit_backend=qiskit_backend, n_processes=1)
    with pytest.raises(InvalidCircuitError, match=match):
        backend.run(circuit)
    with pytest.raises(InvalidCircuitError, match=match):
        SamplerV2(backend).run([circuit])


def test_auto_compiles_for_the_device_it_picks_as_aer_does():
    backend = ParallelSimulatorBackend(qiskit_backend="auto", n_processes=1)
    device = smallest_fake_backend(3, "standard")
    aer = AerSimulator.from_backend(device)
    manager = generate_preset_pass_manager(TRANSPILE_LEVEL, target=aer.target, seed_transpiler=3)
    theirs = aer.run(manager.run(_standard_gates()), shots=SHOTS, seed_simulator=4)

    ours = backend.run(_standard_gates(), shots=SHOTS, seed_simulator=3).result().get_counts()

    assert_same_distribution(ours, theirs.result().get_counts())


# -- targets Qiskit's transpiler can use (item: noise-model targets) ----------------------


def _manila_noise() -> NoiseModel:
    return NoiseModel.from_backend(FakeManilaV2())


def test_a_noise_model_target_has_its_gates_and_control_flow_as_instructions():
    target = ParallelSimulatorBackend(noise_model=_manila_noise()).target
    names = set(target.operation_names)
    assert {"cx", "rz", "sx", "x", "id", "measure", "reset", "delay"} <= names
    assert not names & {"h", "u", "ecr", "unitary"}  # noise attaches to the model's gates
    assert target.operation_from_name("if_else") is IfElseOp
    assert target.operation_from_name("for_loop") is ForLoopOp
    assert target.operation_from_name("switch_case") is SwitchCaseOp
    assert target.operation_from_name("while_loop") is WhileLoopOp
    assert target.operation_from_name("cx") == CXGate()
    assert target.instruction_supported("cx", (0, target.num_qubits - 1))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ParallelSimulatorBackend(noise_model=_manila_noise()),
        lambda: ParallelSimulatorBackend(),
        lambda: ParallelSimulatorBackend(qiskit_backend="statevector_simulator"),
    ],
    ids=["noise_model", "ideal", "statevector"],
)
def test_transpile_and_preset_pass_managers_compile_dynamic_circuits_for_the_target(make):
    backend = make()
    runs = set(backend.target.operation_names) | {"barrier"}
    compiled = transpile(_dynamic(), backend, seed_transpiler=1)
    managed = generate_preset_pass_manager(2, backend=backend, seed_transpiler=1).run(_dynamic())
    assert _names(compiled) <= runs
    assert _names(managed) <= runs
    assert compiled.num_qubits == managed.num_qubits == 3  # no device, so no layout


def test_a_noise_model_run_agrees_with_aer_on_the_same_transpiled_circuit():
    noise = _manila_noise()
    backend = ParallelSimulatorBackend(noise_model=noise, n_processes=1)
    isa = transpile(_dynamic(), backend, seed_transpiler=2)
    theirs = AerSimulator(noise_model=noise).run(isa, shots=SHOTS, seed_simulator=3)

    ours = backend.run(isa, shots=SHOTS, seed_simulator=4).result().get_counts()
    compiled_here = backend.run(_dynamic(), shots=SHOTS, seed_simulator=5).result().get_counts()

    assert set(ours) > set(_DYNAMIC_PROBABILITIES)  # noisy: every outcome shows up
    assert_same_distribution(ours, theirs.result().get_counts())
    assert_same_distribution(compiled_here, theirs.result().get_counts())
