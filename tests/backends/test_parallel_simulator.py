"""The documented ParallelSimulator: labelled circuits in, [{label, results}] out."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import qasm2
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi.backends import CircuitRunner, ParallelSimulator
from qiskit_divi.exceptions import (
    CircuitTooWideError,
    InvalidCircuitError,
    InvalidInputError,
    UnknownBackendError,
)

from simulator.circuits import BELL_QASM, assert_distribution, bell, ghz, qaoa

SHOTS = 4000


def test_it_is_a_circuit_runner_with_divi_defaults():
    simulator = ParallelSimulator()
    assert isinstance(simulator, CircuitRunner)
    assert simulator.shots == 1000 and simulator.seed is None and simulator.n_processes >= 1
    [entry] = simulator.submit_circuits({"bell": BELL_QASM})
    assert sum(entry["results"].values()) == 1000


def test_results_come_back_labelled_in_input_order():
    rng = np.random.default_rng(3)
    circuits = {f"c{i:03}": qaoa(6, rng) for i in range(50)}
    labels = list(reversed(circuits))  # not sorted order
    results = ParallelSimulator(shots=50, n_processes=2, seed=1).submit_circuits(
        {label: circuits[label] for label in labels}
    )
    assert [entry["label"] for entry in results] == labels
    assert all(sum(entry["results"].values()) == 50 for entry in results)


def test_qasm_text_and_circuits_mix_and_match_their_distributions():
    results = ParallelSimulator(shots=SHOTS, seed=2).submit_circuits(
        {"text": BELL_QASM, "circuit": ghz(3)}
    )
    assert [entry["label"] for entry in results] == ["text", "circuit"]
    assert_distribution(results[0]["results"], {"00": 0.5, "11": 0.5})
    assert_distribution(results[1]["results"], {"000": 0.5, "111": 0.5})


def test_what_qiskit_writes_as_qasm_is_accepted():
    text = qasm2.dumps(qaoa(4, np.random.default_rng(1)))  # uses rzz, outside qelib1.inc
    assert "rzz" in text
    [entry] = ParallelSimulator(shots=100, seed=1).submit_circuits({"qaoa": text})
    assert sum(entry["results"].values()) == 100


def test_a_seed_reproduces_results_whatever_the_process_count():
    rng = np.random.default_rng(4)
    circuits = {f"c{i}": qasm2.dumps(qaoa(6, rng)) for i in range(40)}
    one = ParallelSimulator(shots=100, n_processes=1, seed=9).submit_circuits(circuits)
    two = ParallelSimulator(shots=100, n_processes=2, seed=9)
    two._engine.warm_up()  # so the batch is really split
    assert two.submit_circuits(circuits) == one
    assert two.submit_circuits(circuits) == one  # and call after call
    two.close()


def test_statevector_simulator_samples_the_same_distribution():
    simulator = ParallelSimulator(shots=SHOTS, qiskit_backend="statevector_simulator", seed=5)
    [entry] = simulator.submit_circuits({"ghz": ghz(4)})
    assert_distribution(entry["results"], {"0000": 0.5, "1111": 0.5})


def test_a_fake_backend_adds_noise():
    simulator = ParallelSimulator(shots=SHOTS, qiskit_backend=FakeManilaV2(), seed=5)
    [entry] = simulator.submit_circuits({"ghz": ghz(3)})
    assert set(entry["results"]) > {"000", "111"}


def test_auto_adds_noise_from_a_fake_backend_that_fits():
    simulator = ParallelSimulator(shots=SHOTS, qiskit_backend="auto", seed=5)
    [entry] = simulator.submit_circuits({"ghz": ghz(6)})
    assert len(entry["results"]) > 2


# -- bad input ----------------------------------------------------------------------------


def test_invalid_qasm_names_the_label_and_the_parser_message():
    with pytest.raises(InvalidCircuitError, match=r"'broken'.*invalid OpenQASM 2") as error:
        ParallelSimulator().submit_circuits({"fine": BELL_QASM, "broken": "OPENQASM 2.0; h q;"})
    assert error.value.label == "broken"


@pytest.mark.parametrize("shots", [0, -1])
def test_shots_must_be_positive(shots):
    with pytest.raises(InvalidInputError, match="shots"):
        ParallelSimulator(shots=shots)


def test_n_processes_must_be_positive():
    with pytest.raises(InvalidInputError, match="n_processes"):
        ParallelSimulator(n_processes=0)


def test_unknown_simulators_are_refused():
    with pytest.raises(UnknownBackendError, match="'fastest'"):
        ParallelSimulator(qiskit_backend="fastest")


def test_seeds_must_fit_32_bits():
    with pytest.raises(InvalidInputError, match="seed"):
        ParallelSimulator(seed=2**32)


def test_a_circuit_wider_than_the_device_is_named():
    simulator = ParallelSimulator(qiskit_backend=FakeManilaV2())
    with pytest.raises(CircuitTooWideError, match="'six'"):
        simulator.submit_circuits({"bell": bell(), "six": ghz(6)})


def test_an_empty_mapping_is_refused():
    with pytest.raises(InvalidInputError, match="empty"):
        ParallelSimulator().submit_circuits({})


def test_a_list_is_not_a_mapping():
    with pytest.raises(TypeError, match="mapping"):
        ParallelSimulator().submit_circuits([BELL_QASM])


def test_extra_arguments_are_refused():
    with pytest.raises(TypeError, match="only the mapping"):
        ParallelSimulator().submit_circuits({"bell": BELL_QASM}, shots=5)
