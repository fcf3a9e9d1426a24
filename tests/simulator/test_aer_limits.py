"""Circuits that meet the limits of an Aer method or faults of qiskit-aer 0.18, against
exact values (``qiskit.quantum_info``) or Aer run where it is right.

- Exact values run a circuit that resets or measures mid-circuit on the density-matrix
  method, which lacks gates Aer's automatic method has (``crx``, ``initialize`` ...).
- Aer's ``parameter_binds`` leave the angles of parametrised controlled gates unbound.
- Aer's truncation of idle qubits fails on control flow no result depends on (dead
  code), which is dropped before Aer sees it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Instruction, Parameter
from qiskit.circuit.classical import expr
from qiskit.circuit.library import CPhaseGate, CRXGate
from qiskit.quantum_info import DensityMatrix, Kraus, SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

from qiskit_divi.simulator import SimulationEngine

from .circuits import assert_distribution

SHOTS = 4000


@pytest.fixture(scope="module", params=["ideal", "statevector", "noise_model"])
def engine(request: pytest.FixtureRequest) -> Iterator[SimulationEngine]:
    """Each engine whose target is Aer's own: its automatic method's, the statevector
    method's, and a noise model's gates (a model without errors: exact values are the
    noiseless ones, on the density matrix)."""
    settings = {
        "ideal": {},
        "statevector": {"qiskit_backend": "statevector_simulator"},
        "noise_model": {"noise_model": NoiseModel(basis_gates=["cx", "rz", "sx", "x"])},
    }[request.param]
    made = SimulationEngine(n_processes=1, **settings)
    yield made
    made.close()


def _reset_then_crx() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.reset(1)
    circuit.crx(0.3, 0, 1)
    return circuit


def _initialize_entangled() -> QuantumCircuit:
    """``initialize`` on half of a Bell pair: the other half is left mixed."""
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.initialize([np.sqrt(0.2), np.sqrt(0.8)], [1])
    circuit.cry(0.7, 1, 0)
    return circuit


def _measured_then_crz() -> QuantumCircuit:
    bit = ClassicalRegister(1, "m")
    circuit = QuantumCircuit(QuantumRegister(2, "q"), bit)
    circuit.h(0)
    circuit.measure(0, bit[0])
    with circuit.if_test((bit, 1)):
        circuit.x(1)
    circuit.h(1)
    circuit.crz(0.4, 1, 0)
    circuit.h(0)
    return circuit


def _exact(circuit: QuantumCircuit, ops: list[SparsePauliOp]) -> list[float]:
    """Exact values of a circuit without mid-circuit measurements (resets allowed)."""
    state = DensityMatrix(circuit)
    return [float(state.expectation_value(op).real) for op in ops]


OPS = [SparsePauliOp("ZZ"), SparsePauliOp("IZ"), SparsePauliOp("XI"), SparsePauliOp("YX")]


@pytest.mark.parametrize("make", [_reset_then_crx, _initialize_entangled])
def test_exact_values_with_resets_are_those_of_the_density_matrix(engine, make):
    circuit = make()
    [values] = engine.expectation_values([circuit], [OPS])
    np.testing.assert_allclose(values, _exact(circuit, OPS), atol=1e-12)


def test_exact_values_with_a_mid_circuit_measurement_are_the_mean_of_its_branches(engine):
    # The measured qubit, flipped into qubit 1 when it reads 1: the same state as a CNOT
    # with qubit 0 dephased, whose exact values the density matrix gives.
    deferred = QuantumCircuit(2)
    deferred.h(0)
    deferred.cx(0, 1)
    deferred.append(_dephasing(), [0])
    deferred.h(1)
    deferred.crz(0.4, 1, 0)
    deferred.h(0)
    [values] = engine.expectation_values([_measured_then_crz()], [OPS])
    np.testing.assert_allclose(values, _exact(deferred, OPS), atol=1e-12)


def _dephasing() -> Instruction:
    """A qubit's full dephasing (what measuring it and forgetting the record does), as a
    channel the density matrix applies."""
    return Kraus([np.diag([1.0, 0.0]), np.diag([0.0, 1.0])]).to_instruction()


# -- parameters Aer's parameter_binds would leave unbound ----------------------------------

THETA = Parameter("theta")


def _controlled(gate: str) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h([0, 1])
    circuit.rx(0.3, 1)
    if gate == "cp":
        circuit.cp(THETA, 0, 1)
    elif gate == "cp_open":
        circuit.append(CPhaseGate(THETA, ctrl_state=0), [0, 1])
    elif gate == "crx_open":
        circuit.append(CRXGate(2 * THETA - 0.1, ctrl_state=0), [1, 0])
    elif gate == "cu":
        circuit.cu(THETA, 0.2, -THETA, 0.5, 0, 1)
    else:
        getattr(circuit, gate)(THETA, 1, 0)
    circuit.ry(THETA, 0)
    circuit.h(1)
    return circuit


CONTROLLED = ["cp", "crx", "cry", "crz", "cu", "cp_open", "crx_open"]
VALUES = np.array([[2.0], [-0.7], [1.3]])


@pytest.mark.parametrize("gate", CONTROLLED)
def test_exact_values_bind_the_angles_of_controlled_gates(gate):
    engine = SimulationEngine(n_processes=1)
    circuit = _controlled(gate)
    ops = [SparsePauliOp("XX"), SparsePauliOp("ZY"), SparsePauliOp("IZ")]
    [values] = engine.expectation_values([circuit], [ops], parameter_values=[VALUES])
    expected = [
        [Statevector(circuit.assign_parameters(row)).expectation_value(op).real for op in ops]
        for row in VALUES
    ]
    np.testing.assert_allclose(values, expected, atol=1e-12)


def test_the_issue_reproducer_gives_the_bound_value():
    circuit = QuantumCircuit(2)
    circuit.h([0, 1])
    circuit.cp(THETA, 0, 1)
    engine = SimulationEngine(n_processes=1)
    [values] = engine.expectation_values(
        [circuit], [[SparsePauliOp("XX")]], parameter_values=[np.array([[2.0]])]
    )
    np.testing.assert_allclose(values, [[(1 + np.cos(2.0)) / 2]], atol=1e-12)  # unbound: 1


@pytest.mark.parametrize("gate", CONTROLLED)
def test_samples_bind_the_angles_of_controlled_gates(gate):
    engine = SimulationEngine(n_processes=1)
    circuit = _controlled(gate)
    circuit.measure_all()
    results = engine.sample([circuit], shots=SHOTS, seed=5, parameter_values=[VALUES])
    for result, row in zip(results, VALUES, strict=True):
        bound = circuit.assign_parameters(row).remove_final_measurements(inplace=False)
        assert_distribution(result.outcomes.get_counts(), Statevector(bound).probabilities_dict())


def test_bound_and_aer_bound_circuits_keep_their_seeds_in_one_batch():
    """A circuit bound here and one bound by Aer, in one batch: each parameter set is
    sampled as a bound circuit at its position would be, as one Aer run of the batch."""
    safe = QuantumCircuit(1)
    safe.rx(THETA, 0)
    safe.measure_all()
    unsafe = _controlled("crx")
    unsafe.measure_all()
    engine = SimulationEngine(n_processes=1)
    results = engine.sample(
        [safe, unsafe, safe], shots=100, seed=9, parameter_values=[VALUES, VALUES, VALUES]
    )
    bound = [c.assign_parameters(row) for c in (safe, unsafe, safe) for row in VALUES]
    aer = AerSimulator().run(bound, shots=100, seed_simulator=9)
    expected = aer.result().get_counts()
    assert [r.outcomes.get_counts() for r in results] == expected


def test_a_controlled_gate_inside_control_flow_is_bound():
    bit = ClassicalRegister(1, "m")
    circuit = QuantumCircuit(QuantumRegister(2, "q"), bit)
    circuit.x(0)
    circuit.h(1)
    circuit.measure(0, bit[0])
    with circuit.if_test((bit, 1)):
        circuit.cp(THETA, 0, 1)
    circuit.h(1)
    engine = SimulationEngine(n_processes=1)
    [values] = engine.expectation_values(
        [circuit], [[SparsePauliOp("ZI")]], parameter_values=[np.array([[np.pi], [0.0]])]
    )
    np.testing.assert_allclose(values, [[-1.0], [1.0]], atol=1e-12)


# -- Aer's truncation of idle qubits ------------------------------------------------------


def _branch_on_an_unmeasured_qubit(num_qubits: int, body_angle: object = None) -> QuantumCircuit:
    """The issue's reproducer: an ``if_test`` acts on qubit 2, which nothing measures (an
    ``x``, or an ``rx`` by ``body_angle``)."""
    m0, m1 = ClassicalRegister(1, "m0"), ClassicalRegister(1, "m1")
    final = ClassicalRegister(3, "c")
    circuit = QuantumCircuit(QuantumRegister(num_qubits, "q"), m0, m1, final)
    circuit.measure(0, m0[0])
    circuit.measure(4, m1[0])
    with circuit.if_test((m1, 0)):
        if body_angle is None:
            circuit.x(2)
        else:
            circuit.rx(body_angle, 2)
    circuit.sxdg(4)
    circuit.measure(4, final[2])
    return circuit


#: The reproducer's outcomes: only the final ``sxdg`` on qubit 4, read into ``c[2]``.
REPRODUCER = {"000 0 0": 0.5, "100 0 0": 0.5}


def test_control_flow_on_a_qubit_nothing_measures_samples_its_distribution():
    engine = SimulationEngine(n_processes=1)
    [result] = engine.sample([_branch_on_an_unmeasured_qubit(6)], shots=SHOTS, seed=3)
    assert_distribution(result.outcomes.get_counts(), REPRODUCER)


def test_dead_control_flow_on_a_wide_device_keeps_the_run_on_the_qubits_it_uses():
    """On 127 qubits: the run is truncated to the few that matter (a full state could
    not be held), its dead branch dropped rather than truncation turned off."""
    device = FakeSherbrooke()
    quiet = NoiseModel(basis_gates=["ecr", "rz", "sx", "x"])
    engine = SimulationEngine(qiskit_backend=device, noise_model=quiet, n_processes=1)
    circuit = _branch_on_an_unmeasured_qubit(device.num_qubits)
    [result] = engine.sample([circuit], shots=SHOTS, seed=4)
    assert_distribution(result.outcomes.get_counts(), REPRODUCER)


def test_parameters_only_in_dead_control_flow_still_give_one_result_per_set():
    circuit = _branch_on_an_unmeasured_qubit(6, body_angle=THETA)
    engine = SimulationEngine(n_processes=1)
    results = engine.sample([circuit], shots=SHOTS, seed=6, parameter_values=[VALUES])
    assert len(results) == len(VALUES)
    for result in results:
        assert_distribution(result.outcomes.get_counts(), REPRODUCER)


def test_control_flow_that_matters_is_kept():
    """A branch on a qubit measured later is live: its flip shows in the outcomes."""
    bit = ClassicalRegister(1, "m")
    final = ClassicalRegister(1, "c")
    circuit = QuantumCircuit(QuantumRegister(3, "q"), bit, final)
    circuit.x(0)
    circuit.measure(0, bit[0])
    with circuit.if_test((bit, 1)):
        circuit.x(2)
    circuit.measure(2, final[0])
    engine = SimulationEngine(n_processes=1)
    [result] = engine.sample([circuit], shots=100, seed=2)
    assert result.outcomes.get_counts() == {"1 1": 100}


# -- branches that cannot happen -----------------------------------------------------------


def _impossible_branches(width: int) -> QuantumCircuit:
    """A qubit measured twice (its two records can differ only in a branch that cannot
    happen) and a reset qubit read back (it cannot read 1), on enough qubits for Aer to
    fuse the measurement instruments."""
    records = ClassicalRegister(3, "m")
    circuit = QuantumCircuit(QuantumRegister(width, "q"), records)
    circuit.h(range(width))
    circuit.measure(0, records[0])
    circuit.measure(0, records[1])
    with circuit.if_test(expr.not_equal(records[0], records[1])):
        circuit.x(1)
    circuit.reset(2)
    circuit.measure(2, records[2])
    with circuit.if_test((records[2], 1)):
        circuit.x(3)
    circuit.cx(0, width - 1)
    return circuit


def test_exact_values_where_a_branch_cannot_happen_give_it_no_weight(engine):
    # Qubits 1 and 3 stay as prepared; qubit 0 dephases, so only Z terms on it survive.
    circuit = _impossible_branches(8)
    equivalent = QuantumCircuit(8)
    equivalent.h(range(8))
    equivalent.append(_dephasing(), [0])
    equivalent.reset(2)
    equivalent.cx(0, 7)
    ops = [SparsePauliOp("IIIIIIXI"), SparsePauliOp("IIIIXIII"), SparsePauliOp("ZIIIIZZZ")]

    [values] = engine.expectation_values([circuit], [ops])

    np.testing.assert_allclose(values, _exact(equivalent, ops), atol=1e-12)
