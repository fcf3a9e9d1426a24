"""The oracle and the statistics checked on their own, so that a conformance failure
means our package is wrong, not the reference.

The deferred rewrite must give Aer's density-matrix values wherever Aer's are exact (no
mid-circuit measurement), and its distributions must be what Aer's own shots follow for
dynamic circuits; the statistical checks must pass samples of the right law and fail
clearly different ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from qiskit import QuantumCircuit, transpile
from qiskit_aer import AerSimulator

from .reference import (
    aer_counts,
    bound_circuits,
    exact_distribution,
    exact_expectations,
    values_shape,
)
from .stats import assert_counts_follow, assert_estimates_close, assert_same_distribution
from .strategies import (
    CONFORMANCE,
    EstimatorCase,
    SamplerCase,
    estimator_cases,
    note_circuit,
    sampler_cases,
)


def _density_matrix_values(circuit: QuantumCircuit, observables: np.ndarray) -> np.ndarray:
    """Aer's exact values on a bound circuit without mid-circuit measurements: its
    density matrix, ``initialize`` decomposed into the resets and gates it is made of."""
    prepared = transpile(circuit, basis_gates=["u", "cx", "reset"], optimization_level=0)
    flat = np.ravel(observables)
    for j, op in enumerate(flat):
        prepared.save_expectation_value(op, list(range(circuit.num_qubits)), label=f"e{j}")
    data = AerSimulator(method="density_matrix").run(prepared, shots=1).result().data()
    return np.array([data[f"e{j}"] for j in range(flat.size)])


@given(case=estimator_cases(dynamic=False, max_qubits=4, devices=("FakeManilaV2",)))
@CONFORMANCE
def test_deferred_values_equal_aers_density_matrix(case: EstimatorCase) -> None:
    circuit, observables, values = case.pub()
    note_circuit(circuit)

    evs = exact_expectations(circuit, observables, values)

    table = np.array(
        [_density_matrix_values(b, observables) for b in bound_circuits(circuit, values)]
    )
    rows, columns = np.broadcast_arrays(
        np.arange(len(table)).reshape(values_shape(values)),
        np.arange(observables.size).reshape(observables.shape),
    )
    np.testing.assert_allclose(evs, table[rows, columns], rtol=0, atol=1e-9)


@given(case=sampler_cases(compiled=False), seed=st.integers(0, 2**31))
@CONFORMANCE
def test_exact_distributions_are_what_aers_shots_follow(case: SamplerCase, seed: int) -> None:
    circuit, values = case.pub()
    bound = bound_circuits(circuit, values)[0]
    note(f"circuit:\n{bound.draw(fold=-1)}")

    runnable = transpile(bound, AerSimulator(), seed_transpiler=0)  # Aer lacks ch, cy, ...
    (counts,) = aer_counts([runnable], None, 4000, seed)

    assert_counts_follow(counts, exact_distribution(bound))


def test_counts_of_the_right_law_pass_and_others_fail() -> None:
    rng = np.random.default_rng(5)
    law = {"00": 0.5, "01": 0.25, "11": 0.25}
    drawn = rng.multinomial(4000, list(law.values()))
    assert_counts_follow(dict(zip(law, drawn.tolist(), strict=True)), law)
    with pytest.raises(AssertionError):
        assert_counts_follow({"00": 2200, "01": 900, "11": 900}, law)
    with pytest.raises(AssertionError, match="rest"):
        assert_counts_follow({"00": 1999, "01": 1000, "11": 1000, "10": 1}, law)


def test_two_samples_of_one_law_pass_and_of_two_fail() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.multinomial(5000, [0.7, 0.2, 0.1]), rng.multinomial(7000, [0.7, 0.2, 0.1])
    keys = ["00", "01", "10"]
    assert_same_distribution(
        dict(zip(keys, a.tolist(), strict=True)), dict(zip(keys, b.tolist(), strict=True)), 2
    )
    with pytest.raises(AssertionError):
        assert_same_distribution({"00": 3500, "01": 1500}, {"00": 2500, "01": 2500}, 2)


def test_estimates_within_the_bound_pass_and_beyond_it_fail() -> None:
    rng = np.random.default_rng(7)
    shots = 2500
    means = rng.choice([-1.0, 1.0], size=(4, shots), p=[0.3, 0.7]).mean(axis=1)
    assert_estimates_close(means, np.full(4, 0.4), np.ones(4), shots)
    with pytest.raises(AssertionError):
        assert_estimates_close(means, np.full(4, -0.4), np.ones(4), shots)
