"""EstimatorV2 on what Qiskit users hand it, against Aer's own primitives: circuits they
transpiled themselves (ISA circuits with laid-out observables), dynamic circuits whose
mid-circuit measurements feed control flow, and circuits on wide devices."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import Clbit, Parameter
from qiskit.circuit.classical import expr
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import EstimatorV2
from qiskit_divi.exceptions import InvalidCircuitError, InvalidInputError
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .conftest import ansatz

#: Shots of Aer's own estimator where it can only average trajectories (dynamic circuits
#: under noise): each shot's value of a Pauli term lies in [-1, 1], so 5 / sqrt(SHOTS)
#: bounds the difference from the exact mean at 5 standard deviations.
SHOTS = 20_000
BOUND = 5 / np.sqrt(SHOTS)

MANILA = FakeManilaV2()
#: Readout errors large and lopsided enough that mistaking P(record | outcome) for its
#: transpose, or leaving them out, moves values by many times BOUND.
STRONG_NOISE = NoiseModel()
STRONG_NOISE.add_all_qubit_readout_error(ReadoutError([[0.8, 0.2], [0.1, 0.9]]))
STRONG_NOISE.add_all_qubit_quantum_error(depolarizing_error(0.03, 1), ["sx", "x"])
STRONG_NOISE.add_all_qubit_quantum_error(depolarizing_error(0.08, 2), ["cx"])
NOISE = {"manila": NoiseModel.from_backend(MANILA), "strong readout": STRONG_NOISE}


@pytest.fixture(scope="module")
def noisy() -> Iterator[dict[str, ParallelSimulatorBackend]]:
    """FakeManilaV2 with its own noise, and its target with strong readout errors."""
    backends = {
        name: ParallelSimulatorBackend(qiskit_backend=MANILA, noise_model=noise, n_processes=1)
        for name, noise in NOISE.items()
    }
    yield backends
    for backend in backends.values():
        backend.close()


def aer_exact(noise: NoiseModel | None = None) -> AerEstimatorV2:
    """Aer's exact estimator: the statevector, or the density matrix under ``noise``."""
    if noise is None:
        return AerEstimatorV2()
    return AerEstimatorV2(
        options={"backend_options": {"method": "density_matrix", "noise_model": noise}}
    )


def aer_averaged(noise: NoiseModel | None) -> AerEstimatorV2:
    """Aer's estimator on a dynamic circuit: the mean over SHOTS sampled trajectories."""
    backend_options = {"method": "density_matrix"}
    return AerEstimatorV2(
        options={
            "backend_options": backend_options | ({"noise_model": noise} if noise else {}),
            "run_options": {"shots": SHOTS, "seed_simulator": 3},
        }
    )


# -- 1. circuits the user transpiled: observables already laid out ------------------------


def permuted_x(width: int) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    """The issue's reproducer: X on qubit 0 of a ``width``-qubit circuit, transpiled for
    FakeManilaV2 onto reversed qubits, with Z on each qubit laid out the same way."""
    circuit = QuantumCircuit(width)
    circuit.x(0)
    circuit.h(1)
    circuit.cx(1, 2)
    isa = transpile(circuit, MANILA, initial_layout=[4, 3, 2, 1, 0][:width], seed_transpiler=1)
    labels = ["I" * (width - 1 - k) + "Z" + "I" * k for k in range(width)] + ["X" * width]
    return isa, [SparsePauliOp(label).apply_layout(isa.layout) for label in labels]


@pytest.mark.parametrize("width", [5, 3], ids=["full width", "narrower than the device"])
def test_an_isa_circuit_keeps_its_own_layout_on_the_ideal_simulator(
    simulator: ParallelSimulatorBackend, width: int
) -> None:
    isa, observables = permuted_x(width)
    ours = EstimatorV2(simulator).run([(isa, observables)]).result()[0].data.evs
    theirs = aer_exact().run([(isa, observables)]).result()[0].data.evs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert ours[0] == pytest.approx(-1.0)  # <Z0> after X on qubit 0


@pytest.mark.parametrize("width", [5, 3], ids=["full width", "narrower than the device"])
def test_an_isa_circuit_keeps_its_own_layout_on_the_noisy_device(
    noisy: dict[str, ParallelSimulatorBackend], width: int
) -> None:
    isa, observables = permuted_x(width)
    ours = EstimatorV2(noisy["manila"]).run([(isa, observables)]).result()[0].data.evs
    theirs = aer_exact(NOISE["manila"]).run([(isa, observables)]).result()[0].data.evs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert ours[0] < -0.9


def test_a_pass_managers_isa_circuit_broadcasts_as_in_aer(
    simulator: ParallelSimulatorBackend, noisy: dict[str, ParallelSimulatorBackend]
) -> None:
    """The preset-pass-manager workflow with parameters and broadcast observables."""
    circuit = ansatz(3, reps=1)
    manager = generate_preset_pass_manager(optimization_level=1, backend=MANILA, seed_transpiler=5)
    isa = manager.run(circuit)
    hamiltonian = SparsePauliOp(["ZZI", "IXX", "YIY", "III"], [0.5, -1.25, 0.75, 0.1])
    observables = [
        [hamiltonian.apply_layout(isa.layout)],
        [SparsePauliOp("XZY").apply_layout(isa.layout)],
    ]
    values = np.random.default_rng(3).uniform(-np.pi, np.pi, (2, 3, circuit.num_parameters))
    pub = (isa, observables, values)
    for backend, noise in [(simulator, None), (noisy["manila"], NOISE["manila"])]:
        ours = EstimatorV2(backend).run([pub]).result()[0].data.evs
        theirs = aer_exact(noise).run([pub]).result()[0].data.evs
        assert ours.shape == theirs.shape == (2, 3)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_a_logical_circuit_is_still_laid_out_for_the_device_by_us(
    noisy: dict[str, ParallelSimulatorBackend],
) -> None:
    """Untranspiled, a circuit's observables refer to its logical qubits: the layout we
    choose when transpiling for the device is ours to apply."""
    circuit = QuantumCircuit(3)
    circuit.x(0)
    circuit.h(2)
    ours = EstimatorV2(noisy["manila"]).run([(circuit, ["IIZ", "IZI", "XII"])]).result()
    np.testing.assert_allclose(ours[0].data.evs, [-1, 1, 1], atol=0.05)


def placed_product_state() -> QuantumCircuit:
    """|+> on qubit 0 and |+i> on qubit 1 (through a cx, which leaves |++> alone),
    transpiled for FakeManilaV2 onto qubits 2 (readout errors 9.64 %) and 3 (1.44 %)."""
    logical = QuantumCircuit(2)
    logical.h([0, 1])
    logical.cx(0, 1)
    logical.s(1)
    return transpile(logical, MANILA, initial_layout=[2, 3], seed_transpiler=1)


def in_place(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` translated for FakeManilaV2 by Qiskit, qubit i kept on physical qubit i."""
    return transpile(
        circuit, MANILA, initial_layout=range(MANILA.num_qubits), optimization_level=1
    )


@pytest.mark.parametrize("noise", [NoiseModel(), NOISE["manila"]], ids=["ideal", "manila"])
def test_exact_values_of_a_placed_circuit_that_needs_translating_are_aers(
    noise: NoiseModel,
) -> None:
    """An ``h`` the device lacks, appended to an ISA circuit: translated where it stands,
    the circuit gets no layout of ours, so its laid-out observables are not moved again
    (moved, Y on qubit 3 would land on an idle qubit and read 0)."""
    isa = placed_product_state()
    isa.h(2)  # |+> back to |0>
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in ["IZ", "IX", "YI"]]
    backend = ParallelSimulatorBackend(qiskit_backend=MANILA, noise_model=noise, n_processes=1)
    ours = EstimatorV2(backend).run([(isa, observables)]).result()[0].data.evs
    backend.close()
    theirs = aer_exact(noise).run([(in_place(isa), observables)]).result()[0].data.evs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert ours[2] > 0.9


def test_sampled_x_and_y_terms_of_a_placed_circuit_see_its_own_qubits_noise() -> None:
    """The basis changes the sampled estimator appends (sdg, h) are not Manila's gates:
    translated where they stand, each term is measured on the qubits the user chose.

    The mean of a sampled term is Aer's exact value, under the device's noise, of the
    circuit turned into the term's basis (translated in place) and measured in Z, each
    measured qubit scaling it by 1 - 2p (Aer's noise for FakeManilaV2 misreads 0 and 1
    alike, with the qubit's measure error p). Measured on qubit 2, X reads
    1 - 2 * 0.0964 = 0.81 where any other qubit reads >= 0.93: 20 standard errors apart at
    precision 0.01 (sqrt(1 - 0.81**2) / 100 = 0.006)."""
    isa = placed_product_state()
    labels = ["IX", "YI", "YX", "XX"]  # ideal values 1, 1, 1, 0
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in labels]
    backend = ParallelSimulatorBackend(qiskit_backend=MANILA, n_processes=1)
    sampled = (
        EstimatorV2(backend, options={"seed": 7})
        .run([(isa, observables)], precision=0.01)
        .result()[0]
        .data
    )
    backend.close()

    means = []
    for observable in observables:
        (label,) = observable.paulis.to_labels()
        measured = [q for q, pauli in enumerate(reversed(label)) if pauli != "I"]
        rotated = isa.copy()
        for q in measured:
            if label[-1 - q] == "Y":
                rotated.sdg(q)
            rotated.h(q)
        z = SparsePauliOp(label.replace("X", "Z").replace("Y", "Z"))
        exact = aer_exact(NOISE["manila"]).run([(in_place(rotated), z)]).result()[0].data.evs
        readout = np.prod([1 - 2 * MANILA.target["measure"][(q,)].error for q in measured])
        means.append(float(exact) * readout)
    assert np.all(np.abs(sampled.evs - means) <= 5 * sampled.stds), (sampled.evs, means)
    assert sampled.evs[0] < 0.9  # X read on qubit 2, with its readout errors


# -- 2. dynamic circuits: mid-circuit measurements feeding control flow -------------------


def feed_forward() -> QuantumCircuit:
    """The issue's reproducer: a measurement that decides a later gate."""
    circuit = QuantumCircuit(2, 1, name="feed_forward")
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(1)
    return circuit


def registers_and_parameters() -> QuantumCircuit:
    """Conditions on a bit (with else) and on a register, mid-circuit measurements of
    entangled qubits, a gate on a measured qubit, and a parameter that only one branch
    uses (the other has none left for Aer to bind)."""
    angle = Parameter("angle")
    qubits, bits = QuantumRegister(3, "q"), ClassicalRegister(2, "c")
    circuit = QuantumCircuit(qubits, bits, name="registers")
    circuit.ry(1.1, 0)
    circuit.ry(0.4, 1)
    circuit.cx(0, 1)
    circuit.measure(0, bits[0])
    circuit.measure(1, bits[1])
    with circuit.if_test((bits[0], 1)) as orelse:
        circuit.ry(angle, 2)
    with orelse:
        circuit.h(2)
    with circuit.if_test((bits, 2)):
        circuit.rz(0.5, 2)
        circuit.sx(2)
        circuit.x(1)
    circuit.h(0)
    return circuit


def deferred(circuit: QuantumCircuit) -> QuantumCircuit:
    """The same state by the deferred-measurement principle, for circuits whose control
    flow is ``if_test`` on measured bits or registers (``else`` on single bits only):
    each measurement copies its qubit onto a fresh ancilla, each condition controls its
    body on those ancillas. Traced over the ancillas, the state is the mean over outcomes."""
    measurements = sum(
        1 for instruction in circuit.data if instruction.operation.name == "measure"
    )
    out = QuantumCircuit(circuit.num_qubits + measurements)
    record: dict[Clbit, int] = {}
    for instruction in circuit.data:
        operation = instruction.operation
        qubits = [circuit.find_bit(qubit).index for qubit in instruction.qubits]
        if operation.name == "measure":
            record[instruction.clbits[0]] = circuit.num_qubits + len(record)
            out.cx(qubits[0], record[instruction.clbits[0]])
        elif operation.name == "if_else":
            target, value = operation.condition
            bits = [target] if isinstance(target, Clbit) else list(target)
            controls = [record[bit] for bit in bits]
            states = [int(value), (1 - int(value)) if len(bits) == 1 else None]
            for body, state in zip(operation.blocks, states, strict=False):
                unitary = QuantumCircuit(body.num_qubits)
                for inner in body.data:
                    unitary.append(inner.operation, [body.find_bit(q).index for q in inner.qubits])
                gate = unitary.to_gate().control(len(controls), ctrl_state=state)
                out.append(gate, controls + qubits)
        else:
            out.append(operation, qubits)
    return transpile(out, basis_gates=["u", "cx"], optimization_level=0)


def widened(observable: str, circuit: QuantumCircuit) -> str:
    """A label on ``circuit``'s qubits, padded with identities for its deferred ancillas."""
    return "I" * (deferred(circuit).num_qubits - circuit.num_qubits) + observable


def test_the_issues_feed_forward_reproducer_is_exact(simulator: ParallelSimulatorBackend) -> None:
    circuit = feed_forward()
    observables = ["ZZ", "ZI", "IZ", "XX"]
    ours = EstimatorV2(simulator).run([(circuit, observables)]).result()[0].data.evs
    oracle = deferred(circuit)
    wide = [widened(label, circuit) for label in observables]
    theirs = aer_exact().run([(oracle, wide)]).result()[0].data.evs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours, [1, 0, 0, 0], atol=1e-9)


def test_observables_on_a_few_qubits_see_what_the_rest_did_to_them(
    simulator: ParallelSimulatorBackend,
) -> None:
    """Qubit 2 is |1> only through its entanglement with qubit 0: saves on qubit 2
    alone once let Aer drop qubit 0 as idle, giving +1 (found by the conformance suite)."""
    circuit = QuantumCircuit(3)
    circuit.x(0)
    circuit.cx(0, 2)
    evs = EstimatorV2(simulator).run([(circuit, ["IIZ", "ZII", "IZI"])]).result()[0].data.evs
    np.testing.assert_allclose(evs, [-1, -1, 1], rtol=0, atol=1e-9)


@pytest.mark.parametrize("record", [0, 1])
def test_a_branch_weighs_what_its_record_is_worth_when_observables_skip_the_measured_qubit(
    simulator: ParallelSimulatorBackend, record: int
) -> None:
    """Qubit 0 always reads 0, so the branch of record 1 has no weight; the observables
    act on qubit 1 only, which once let Aer drop qubit 0 (and the branch's weight) as
    idle, counting both branches as certain."""
    circuit = QuantumCircuit(2, 1)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], record)):
        circuit.x(1)
    evs = EstimatorV2(simulator).run([(circuit, ["II", "ZI"])]).result()[0].data.evs
    np.testing.assert_allclose(evs, [1, -1 if record == 0 else 1], rtol=0, atol=1e-9)


def test_exact_values_of_a_dynamic_circuit_are_the_mean_over_outcomes(
    simulator: ParallelSimulatorBackend,
) -> None:
    circuit = registers_and_parameters()
    observables = ["ZZZ", "XII", "IXZ", "ZIZ", "IZI", "YYX", "ZII"]
    angles = np.array([[0.0], [0.9], [-2.1], [np.pi]])
    ours = EstimatorV2(simulator).run([(circuit, observables, angles[:, None])]).result()[0]
    assert ours.data.evs.shape == (4, len(observables))
    wide = [widened(label, circuit) for label in observables]
    for row, angle in enumerate(angles):
        oracle = deferred(circuit.assign_parameters(angle))
        theirs = aer_exact().run([(oracle, wide)]).result()[0].data.evs
        np.testing.assert_allclose(ours.data.evs[row], theirs, rtol=0, atol=1e-9)


def test_sampled_values_of_a_dynamic_circuit_lie_within_their_errors(
    simulator: ParallelSimulatorBackend,
) -> None:
    circuit = registers_and_parameters().assign_parameters([0.9])
    observables = ["ZZZ", "XII", "IXZ", "ZIZ", "ZII"]
    exact = EstimatorV2(simulator).run([(circuit, observables)]).result()[0].data.evs
    estimator = EstimatorV2(simulator, options={"seed": 21})
    sampled = estimator.run([(circuit, observables)], precision=0.01).result()[0].data
    assert np.all(sampled.stds > 0)
    assert np.all(np.abs(sampled.evs - exact) <= 5 * sampled.stds)
    reproducer = estimator.run([(feed_forward(), ["ZZ", "ZI"])], precision=0.01).result()[0]
    assert reproducer.data.evs[0] == 1.0  # the measured bit and the flipped qubit agree
    assert abs(reproducer.data.evs[1]) <= 5 * reproducer.data.stds[1]


def switch_and_loop() -> QuantumCircuit:
    """A switch on a register, a condition on an expression, and a for loop that measures
    and resets by feedback on each pass."""
    qubits, bits = QuantumRegister(3, "q"), ClassicalRegister(2, "c")
    circuit = QuantumCircuit(qubits, bits, name="switch_and_loop")
    circuit.ry(1.3, 0)
    circuit.ry(2.0, 1)
    circuit.measure(0, bits[0])
    circuit.measure(1, bits[1])
    with circuit.switch(bits) as case:
        with case(0):
            circuit.x(2)
        with case(1, 2):
            circuit.ry(0.7, 2)
        with case(case.DEFAULT):
            circuit.h(2)
    with circuit.if_test(expr.logic_not(expr.equal(bits, 3))):
        circuit.rz(0.3, 0)
        circuit.sx(0)
    with circuit.for_loop(range(2)) as turn:
        circuit.ry(0.6 + 0.5 * turn, 1)
        circuit.measure(1, bits[1])
        with circuit.if_test((bits[1], 1)):
            circuit.x(1)
            circuit.rx(0.5, 2)
    circuit.cx(2, 0)
    return circuit


DYNAMIC_OBSERVABLES = ["ZZZ", "XII", "IXZ", "ZIZ", "IZI", "YYX", "IIX"]


def test_switch_expressions_and_loops_match_aers_mean_over_trajectories(
    simulator: ParallelSimulatorBackend,
) -> None:
    circuit = switch_and_loop()
    pub = (circuit, DYNAMIC_OBSERVABLES)
    ours = EstimatorV2(simulator).run([pub]).result()[0].data.evs
    theirs = aer_averaged(None).run([pub]).result()[0].data.evs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=BOUND)


@pytest.mark.slow
@pytest.mark.parametrize("noise", list(NOISE))
@pytest.mark.parametrize("make", [feed_forward, registers_and_parameters, switch_and_loop])
def test_dynamic_isa_circuits_under_noise_match_aers_mean_over_trajectories(
    noisy: dict[str, ParallelSimulatorBackend], noise: str, make: Callable[[], QuantumCircuit]
) -> None:
    """Transpiled by the user onto chosen qubits, then estimated exactly under the
    device's noise, readout errors of the measurements the control flow reads included."""
    circuit = make()
    circuit = circuit.assign_parameters([0.9]) if circuit.parameters else circuit
    isa = transpile(
        circuit, MANILA, initial_layout=[2, 1, 3][: circuit.num_qubits], seed_transpiler=4
    )
    width = circuit.num_qubits
    labels = [label[-width:] for label in DYNAMIC_OBSERVABLES]
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in labels]
    ours = EstimatorV2(noisy[noise]).run([(isa, observables)]).result()[0].data.evs
    theirs = aer_averaged(NOISE[noise]).run([(isa, observables)]).result()[0].data.evs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=BOUND)


def test_a_loop_that_measures_until_it_stops_cannot_be_exact(
    simulator: ParallelSimulatorBackend,
) -> None:
    circuit = QuantumCircuit(1, 1, name="repeat_until_success")
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.while_loop((circuit.clbits[0], 1)):
        circuit.h(0)
        circuit.measure(0, 0)
    with pytest.raises(InvalidCircuitError, match=r"repeat_until_success.*precision > 0"):
        EstimatorV2(simulator).run([(circuit, "Z")])
    sampled = EstimatorV2(simulator, options={"seed": 2}).run([(circuit, "Z")], precision=0.05)
    assert sampled.result()[0].data.evs == 1.0  # it only stops on outcome 0


def test_noise_on_measurements_beyond_readout_errors_is_refused_for_exact_values() -> None:
    noise = NoiseModel(basis_gates=["rz", "sx", "x", "cx"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["measure"])
    backend = ParallelSimulatorBackend(qiskit_backend=MANILA, noise_model=noise, n_processes=1)
    with pytest.raises(InvalidInputError, match="quantum errors to measurements"):
        EstimatorV2(backend).run([(feed_forward(), "ZZ")])
    measured = QuantumCircuit(1, 1)
    measured.x(0)
    measured.measure(0, 0)  # final: no part of the state, so the noise on it is moot
    assert EstimatorV2(backend).run([(measured, "Z")]).result()[0].data.evs == -1.0


# -- 3. wide devices: only the qubits the terms act on are measured or saved --------------


def wide_bell(width: int) -> QuantumCircuit:
    """A Bell pair on the first and last of ``width`` qubits, the rest idle."""
    circuit = QuantumCircuit(width)
    circuit.h(0)
    circuit.cx(0, width - 1)
    circuit.ry(0.4, 0)
    return circuit


def test_idle_qubits_cost_nothing_exact_or_sampled(simulator: ParallelSimulatorBackend) -> None:
    """30 qubits, two active: a state of every qubit would take 16 GiB (Aer refuses to run
    it here); measured or saved on the active ones only, Aer leaves the rest out."""
    circuit = wide_bell(30)
    labels = ["Z" + "I" * 28 + "Z", "X" + "I" * 28 + "X", "Y" + "I" * 28 + "Y", "I" * 30]
    exact = EstimatorV2(simulator).run([(circuit, labels)]).result()[0].data.evs
    np.testing.assert_allclose(exact, [np.cos(0.4), np.cos(0.4), -1, 1], atol=1e-12)
    estimator = EstimatorV2(simulator, options={"seed": 9})
    sampled = estimator.run([(circuit, labels)], precision=0.02).result()[0].data
    assert np.all(np.abs(sampled.evs - exact) <= 5 * sampled.stds + 1e-12)
    assert sampled.evs[3] == 1.0 and sampled.stds[3] == 0.0  # the identity needs no shots


@pytest.mark.slow
def test_a_two_qubit_isa_circuit_on_a_127_qubit_device_runs_as_aer_runs_it() -> None:
    """FakeSherbrooke: exact values equal Aer's density matrix on the same ISA circuit;
    sampled Z terms agree with Aer's own samples of it (readout errors included)."""
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

    device = FakeSherbrooke()
    isa = transpile(wide_bell(2), device, seed_transpiler=1)
    first, second = isa.layout.final_index_layout()
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in ("ZZ", "IZ", "XX")]
    backend = ParallelSimulatorBackend(qiskit_backend=device, n_processes=1)
    exact = EstimatorV2(backend).run([(isa, observables)]).result()[0].data.evs

    aer = AerSimulator.from_backend(device, method="density_matrix")
    saved = isa.copy()
    for j, label in enumerate(("ZZ", "IZ", "XX")):
        saved.save_expectation_value(SparsePauliOp(label), [first, second], label=f"ev{j}")
    reference = aer.run(saved, shots=1).result()
    assert reference.results[0].metadata["active_input_qubits"] == sorted([first, second])
    np.testing.assert_allclose(exact, [reference.data(0)[f"ev{j}"] for j in range(3)], atol=1e-9)

    shots = 10_000
    sampled = (
        EstimatorV2(backend, options={"seed": 5})
        .run([(isa, observables[:2])], precision=0.01)
        .result()[0]
    )
    measured = isa.copy()
    bits = ClassicalRegister(2)
    measured.add_register(bits)
    measured.measure([first, second], bits)
    counts = aer.run(measured, shots=shots, seed_simulator=5).result().get_counts()
    outcomes = np.array([[int(key[1]), int(key[0])] for key in counts])  # (first, second)
    weights = np.array(list(counts.values())) / shots
    terms = np.stack([1 - 2 * (outcomes.sum(1) % 2), 1 - 2 * outcomes[:, 0]])
    means = terms @ weights
    errors = np.sqrt((1 - means**2) / shots)
    gap = np.abs(sampled.data.evs - means)
    assert np.all(gap <= 5 * np.hypot(sampled.data.stds, errors))
