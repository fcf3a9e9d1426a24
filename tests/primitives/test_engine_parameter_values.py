"""The engine's ``parameter_values``: parameter sets bound inside Aer, as bound circuits would run.

An addition to the simulation engine made for the primitives (one Aer call per chunk
for all of a circuit's parameter sets); the engine's own tests cover the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_divi.exceptions import CircuitTooWideError, InvalidCircuitError, InvalidInputError
from qiskit_divi.simulator import SimulationEngine

from .conftest import ansatz

RNG = np.random.default_rng(3)
ANSATZ = ansatz(6)
MEASURED = ANSATZ.measure_all(inplace=False)
SETS = RNG.uniform(-np.pi, np.pi, (40, ANSATZ.num_parameters))
OBSERVABLES = [SparsePauliOp(["ZZIIII", "IXIXII"], [1.0, -0.5]), SparsePauliOp("YIIIIY")]


@pytest.fixture(scope="module", params=[1, 2], ids=["1 process", "2 processes"])
def engine(request: pytest.FixtureRequest) -> Iterator[SimulationEngine]:
    engine = SimulationEngine(n_processes=request.param)
    engine.warm_up()
    yield engine
    engine.close()


def test_samples_are_those_of_the_bound_circuits(engine: SimulationEngine) -> None:
    fixed = QuantumCircuit(2)
    fixed.h(0)
    fixed.measure_all()
    with_values = engine.sample(
        [MEASURED, fixed, MEASURED],
        shots=64,
        seed=17,
        memory=True,
        parameter_values=[SETS, np.zeros((3, 0)), SETS[:5]],
    )
    bound = (
        [MEASURED.assign_parameters(s) for s in SETS]
        + [fixed] * 3
        + [MEASURED.assign_parameters(s) for s in SETS[:5]]
    )
    expected = engine.sample(bound, shots=64, seed=17, memory=True)
    assert len(with_values) == len(expected) == 48
    for ours, theirs in zip(with_values, expected, strict=True):
        assert ours.outcomes.get_memory() == theirs.outcomes.get_memory()
        assert ours.seed_simulator == theirs.seed_simulator


def test_consecutive_entries_of_one_circuit_sample_as_separate_ones(
    engine: SimulationEngine,
) -> None:
    """Entries that share a circuit run as one Aer circuit: the samples must not show it."""
    parts = [SETS[:7], SETS[7:8], SETS[8:20]]
    shared = engine.sample([MEASURED] * 3, shots=64, seed=5, memory=True, parameter_values=parts)
    copies = [MEASURED.copy() for _ in parts]
    apart = engine.sample(copies, shots=64, seed=5, memory=True, parameter_values=parts)
    assert len(shared) == len(apart) == 20
    assert shared == apart


def test_expectation_values_come_per_parameter_set(engine: SimulationEngine) -> None:
    values = engine.expectation_values(
        [ANSATZ, ANSATZ], [OBSERVABLES, OBSERVABLES[:1]], parameter_values=[SETS, SETS[:3]]
    )
    assert [table.shape for table in values] == [(40, 2), (3, 1)]
    bound = engine.expectation_values(
        [ANSATZ.assign_parameters(s) for s in SETS], [OBSERVABLES] * len(SETS)
    )
    np.testing.assert_allclose(values[0], np.array(bound), rtol=0, atol=1e-12)
    np.testing.assert_allclose(values[1], np.array(bound)[:3, :1], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("parameter_values", "message"),
    [
        ([SETS[:, :3]], r"\(sets >= 1, 36\) array, got shape \(40, 3\)"),
        ([SETS[0]], r"got shape \(36,\)"),
        ([np.zeros((0, 36))], r"got shape \(0, 36\)"),
        ([SETS, SETS], "2 arrays of parameter values for 1 circuits"),
    ],
)
def test_values_that_do_not_fit_are_refused(
    engine: SimulationEngine, parameter_values: list, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        engine.prepare_sample([MEASURED], shots=1, parameter_values=parameter_values)
    with pytest.raises(InvalidInputError, match=message):
        engine.prepare_expectation_values(
            [ANSATZ], [OBSERVABLES], parameter_values=parameter_values
        )


def test_without_values_parameters_must_be_bound(engine: SimulationEngine) -> None:
    with pytest.raises(InvalidCircuitError, match="unbound parameters"):
        engine.prepare_expectation_values([ANSATZ], [OBSERVABLES])


def test_a_prepared_batch_is_checked_before_it_runs() -> None:
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    engine = SimulationEngine(qiskit_backend=FakeManilaV2(), n_processes=1)
    with pytest.raises(CircuitTooWideError, match="6 qubits"):
        engine.prepare_expectation_values([ANSATZ], [OBSERVABLES], parameter_values=[SETS])
