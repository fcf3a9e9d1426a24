"""The simulation engine: distributions, seeding, parallel splits, noise and bad input."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Gate, Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi.exceptions import (
    CircuitTooWideError,
    DiviWarning,
    InvalidCircuitError,
    InvalidInputError,
    UnknownBackendError,
)
from qiskit_divi.simulator import SimulationEngine
from qiskit_divi.simulator import engine as engine_module

from .circuits import assert_distribution, bell, exact_probabilities, ghz, random_measured

SHOTS = 4000


def test_bell_and_ghz_match_their_exact_distributions(engines):
    bell_result, ghz_result = engines[1].sample([bell(), ghz(3)], shots=SHOTS, seed=11)
    assert_distribution(bell_result.outcomes.get_counts(), {"00": 0.5, "11": 0.5})
    assert_distribution(ghz_result.outcomes.get_counts(), {"000": 0.5, "111": 0.5})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_circuits_match_statevector_probabilities(engines, seed):
    circuit = random_measured(4, seed)
    [result] = engines[1].sample([circuit], shots=SHOTS, seed=seed)
    assert_distribution(result.outcomes.get_counts(), exact_probabilities(circuit))


def test_counts_keep_qiskit_register_convention(engines):
    a, b = ClassicalRegister(1, "a"), ClassicalRegister(1, "b")
    circuit = QuantumCircuit(QuantumRegister(2), a, b)
    circuit.x(0)
    circuit.measure(0, a[0])  # register "b", the last one, prints first
    [result] = engines[1].sample([circuit], shots=10, seed=1)
    assert result.outcomes.get_counts() == {"0 1": 10}


def test_memory_lists_each_shot_in_order_and_agrees_with_counts(engines):
    [result] = engines[1].sample([bell()], shots=50, seed=3, memory=True)
    memory = result.outcomes.get_memory()
    assert len(memory) == 50
    assert {outcome: memory.count(outcome) for outcome in memory} == result.outcomes.get_counts()


def test_memory_is_none_unless_asked(engines):
    [result] = engines[1].sample([bell()], shots=5, seed=3)
    assert result.outcomes.memory is None


@pytest.mark.parametrize("n_processes", [2, 4])
def test_a_seed_gives_the_same_outcomes_whatever_the_split(engines, qaoa_batch, n_processes):
    engine = engines[n_processes]
    assert len(engine._plan(qaoa_batch, engine._fixed)) >= n_processes  # really split
    one = engines[1].sample(qaoa_batch, shots=200, seed=5, memory=True)
    split = engine.sample(qaoa_batch, shots=200, seed=5, memory=True)
    assert split == one


def test_a_seed_gives_what_one_direct_aer_run_gives(engines, qaoa_batch):
    direct = AerSimulator().run(qaoa_batch, shots=200, seed_simulator=5).result()
    results = engines[2].sample(qaoa_batch, shots=200, seed=5)
    assert [r.outcomes.get_counts() for r in results] == [
        direct.get_counts(i) for i in range(len(qaoa_batch))
    ]


def test_different_seeds_give_different_outcomes(engines, qaoa_batch):
    first = engines[2].sample(qaoa_batch, shots=200, seed=1)
    second = engines[2].sample(qaoa_batch, shots=200, seed=2)
    assert [r.outcomes.get_counts() for r in first] != [r.outcomes.get_counts() for r in second]


def test_an_unseeded_run_records_seeds_that_reproduce_it(engines):
    [first] = engines[1].sample([ghz(3)], shots=100, memory=True)
    [again] = engines[1].sample([ghz(3)], shots=100, memory=True, seed=first.seed_simulator)
    assert again.outcomes.get_memory() == first.outcomes.get_memory()


def test_an_external_executor_gives_the_same_outcomes(engines, qaoa_batch):
    with ProcessPoolExecutor(2) as executor:
        engine = SimulationEngine(n_processes=2, executor=executor)
        results = engine.sample(qaoa_batch, shots=100, seed=9)
    assert results == engines[1].sample(qaoa_batch, shots=100, seed=9)


def test_a_closed_engine_starts_a_new_pool_when_needed(qaoa_batch):
    engine = SimulationEngine(n_processes=2)
    first = engine.sample(qaoa_batch, shots=50, seed=4)
    engine.close()
    assert engine.sample(qaoa_batch, shots=50, seed=4) == first
    engine.close()


def test_an_empty_batch_gives_no_results(engines):
    assert engines[2].sample([], shots=10) == []
    assert engines[2].expectation_values([], []) == []


# -- noise ------------------------------------------------------------------------------


def _ghz_fidelity(counts: dict[str, int]) -> float:
    return (counts.get("000", 0) + counts.get("111", 0)) / sum(counts.values())


def test_a_fake_backend_brings_its_noise():
    [ideal] = SimulationEngine(n_processes=1).sample([ghz(3)], shots=SHOTS, seed=2)
    [noisy] = SimulationEngine(qiskit_backend=FakeManilaV2(), n_processes=1).sample(
        [ghz(3)], shots=SHOTS, seed=2
    )
    assert set(ideal.outcomes.get_counts()) == {"000", "111"}
    assert set(noisy.outcomes.get_counts()) > {"000", "111"}
    assert 0.5 < _ghz_fidelity(noisy.outcomes.get_counts()) < 0.99


def test_a_noise_model_alone_brings_noise():
    noise = NoiseModel.from_backend(FakeManilaV2())
    [noisy] = SimulationEngine(noise_model=noise, n_processes=1).sample(
        [ghz(3)], shots=SHOTS, seed=2
    )
    assert 0.5 < _ghz_fidelity(noisy.outcomes.get_counts()) < 0.99


def test_noisy_runs_are_reproducible_across_splits():
    circuits = [ghz(5) for _ in range(8)]
    one, two = (SimulationEngine(qiskit_backend=FakeManilaV2(), n_processes=n) for n in (1, 2))
    assert len(two._plan(circuits, two._fixed)) >= 2
    two.warm_up()  # so the batch is really split
    assert one.sample(circuits, shots=300, seed=6) == two.sample(circuits, shots=300, seed=6)
    two.close()


def test_auto_picks_the_smallest_fake_backend_that_fits():
    engine = SimulationEngine(qiskit_backend="auto", n_processes=1)
    [result] = engine.sample([ghz(6)], shots=SHOTS, seed=2)
    assert engine._device_for([ghz(6)], ["ghz6"]).backend.num_qubits == 7
    counts = result.outcomes.get_counts()
    assert 0.3 < (counts.get("0" * 6, 0) + counts.get("1" * 6, 0)) / SHOTS < 0.99


def test_auto_names_the_circuit_no_fake_backend_fits():
    engine = SimulationEngine(qiskit_backend="auto")
    with pytest.raises(CircuitTooWideError, match=r"'huge'.*largest fake IBM backend"):
        engine.sample([QuantumCircuit(1000, name="huge")], shots=10)


# -- exact expectation values -----------------------------------------------------------


def _unmeasured_bell() -> QuantumCircuit:
    return bell().remove_final_measurements(inplace=False)


def test_bell_expectation_values_are_exact(engines):
    ops = [SparsePauliOp(label) for label in ("ZZ", "XX", "YY", "ZI")]
    [values] = engines[1].expectation_values([bell()], [ops])
    np.testing.assert_allclose(values, [1, 1, -1, 0], atol=1e-12)
    assert values.dtype == float


@pytest.mark.parametrize("seed", [4, 5])
def test_random_expectation_values_match_statevector(engines, seed):
    circuit = random_measured(4, seed)
    rng = np.random.default_rng(seed)
    ops = [SparsePauliOp.from_list([("XZIY", rng.normal()), ("ZZXI", rng.normal())])]
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    [values] = engines[1].expectation_values([circuit], [ops])
    np.testing.assert_allclose(values, [state.expectation_value(ops[0]).real], atol=1e-10)


def test_split_expectation_values_match_unsplit(engines, qaoa_batch):
    ops = [[SparsePauliOp("ZZIIII"), SparsePauliOp("IXXIII")]] * len(qaoa_batch)
    one = engines[1].expectation_values(qaoa_batch, ops)
    split = engines[2].expectation_values(qaoa_batch, ops)
    np.testing.assert_array_equal(np.array(split), np.array(one))


def test_a_mid_circuit_reset_is_averaged_exactly(engines):
    circuit = QuantumCircuit(1)
    circuit.h(0)
    circuit.reset(0)
    circuit.h(0)
    [values] = engines[1].expectation_values([circuit], [[SparsePauliOp("X")]])
    np.testing.assert_allclose(values, [1.0], atol=1e-12)


def test_noise_shrinks_expectation_values_on_the_right_qubits():
    engine = SimulationEngine(qiskit_backend=FakeManilaV2(), n_processes=1)
    ops = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    [values] = engine.expectation_values([_unmeasured_bell()], [ops])
    assert 0.8 < values[0] < 1 and 0.8 < values[1] < 1
    assert abs(values[2]) < 0.1
    [again] = engine.expectation_values([_unmeasured_bell()], [ops])
    np.testing.assert_array_equal(values, again)


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("shots", [0, -5])
def test_shots_must_be_positive(engines, shots):
    with pytest.raises(InvalidInputError, match="shots"):
        engines[1].sample([bell()], shots=shots)


def test_shots_must_be_an_integer(engines):
    with pytest.raises(TypeError, match="shots"):
        engines[1].sample([bell()], shots=2.5)


def test_n_processes_must_be_positive():
    with pytest.raises(InvalidInputError, match="n_processes"):
        SimulationEngine(n_processes=0)


def test_unknown_backend_names_are_refused():
    with pytest.raises(UnknownBackendError, match=r"'aer_gpu'.*'qasm_simulator'"):
        SimulationEngine(qiskit_backend="aer_gpu")


def test_a_backend_of_the_wrong_kind_is_refused():
    with pytest.raises(TypeError, match="qiskit_backend"):
        SimulationEngine(qiskit_backend=42)


def test_a_circuit_wider_than_the_device_is_named():
    engine = SimulationEngine(qiskit_backend=FakeManilaV2())
    with pytest.raises(CircuitTooWideError, match=r"'wide'.*6 qubits.*fake_manila has 5"):
        engine.sample([bell(), QuantumCircuit(6, name="wide")], shots=10)


def test_a_circuit_wider_than_aer_is_named(engines):
    with pytest.raises(CircuitTooWideError, match="'big'"):
        engines[1].sample([QuantumCircuit(200, name="big")], shots=10)


def test_unbound_parameters_are_named(engines):
    circuit = QuantumCircuit(1, name="param")
    circuit.rx(Parameter("theta"), 0)
    circuit.measure_all()
    with pytest.raises(InvalidCircuitError, match=r"'param'.*theta"):
        engines[1].sample([circuit], shots=10)


def test_an_instruction_neither_aer_nor_a_definition_knows_is_named(engines):
    circuit = QuantumCircuit(1, name="opaque")
    circuit.append(Gate("mystery", 1, []), [0])
    circuit.measure_all()
    with pytest.raises(InvalidCircuitError, match=r"'opaque'.*'mystery'"):
        engines[1].sample([circuit], shots=10)


def test_labels_name_circuits_in_errors(engines):
    with pytest.raises(CircuitTooWideError, match="'my label'"):
        engines[1].sample([QuantumCircuit(200)], shots=10, labels=["my label"])


def test_a_circuit_without_measurements_counts_nothing_as_in_aer(engines):
    circuit = QuantumCircuit(2, 2, name="silent")
    circuit.h(0)
    with pytest.warns(DiviWarning, match="'silent' has no measurements"):
        [result] = engines[1].sample([circuit], shots=10, memory=True)
    assert result.outcomes.get_counts() == {} and result.outcomes.get_memory() == []


def test_seeds_beyond_32_bits_are_refused(engines):
    with pytest.raises(InvalidInputError, match="seed"):
        engines[1].sample([bell()], shots=10, seed=2**40)


def test_only_circuits_are_sampled(engines):
    with pytest.raises(TypeError, match="QuantumCircuit"):
        engines[1].sample(["OPENQASM 2.0;"], shots=10)


def test_observables_must_match_circuits_in_number(engines):
    with pytest.raises(InvalidInputError, match="1 lists of observables for 2 circuits"):
        engines[1].expectation_values([bell(), bell()], [[SparsePauliOp("ZZ")]])


def test_observables_must_match_their_circuit_width(engines):
    with pytest.raises(InvalidInputError, match="'bell', observable 0: acts on 3 qubits"):
        engines[1].expectation_values([bell()], [[SparsePauliOp("ZZZ")]])


def test_observables_must_be_hermitian(engines):
    with pytest.raises(InvalidInputError, match="not Hermitian"):
        engines[1].expectation_values([bell()], [[SparsePauliOp("XY", coeffs=[1j])]])


def test_a_batch_that_finds_the_pool_starting_runs_here_with_the_same_outcomes(qaoa_batch):
    engine = SimulationEngine(n_processes=2)
    first = engine.sample(qaoa_batch, shots=50, seed=4)  # starts the pool, does not wait
    engine.warm_up()
    assert engine.sample(qaoa_batch, shots=50, seed=4) == first
    engine.close()


def test_a_pool_closed_while_it_starts_lets_its_starter_thread_end():
    """Futures a shutdown cancels do not wake ``concurrent.futures.wait``; the starter
    must still finish, or the interpreter could never exit."""
    pending: list[Future] = []
    submitted = threading.Event()

    class ClosingPool:
        def submit(self, *args):
            pending.append(Future())
            if len(pending) == 2:
                submitted.set()
            return pending[-1]

    ready = threading.Event()
    starter = threading.Thread(
        target=engine_module._start_workers,
        args=(ClosingPool(), SimulationEngine(n_processes=1)._fixed, 2, ready),
    )
    starter.start()
    assert submitted.wait(timeout=30)
    for future in pending:  # what shutdown(cancel_futures=True) does to queued work
        future.cancel()
    starter.join(timeout=30)
    assert not starter.is_alive() and ready.is_set()
