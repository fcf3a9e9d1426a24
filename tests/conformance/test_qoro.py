"""The Qoro path against the oracle: ``QoroBackend.run``, and our SamplerV2 and EstimatorV2
on a QoroBackend, talking real HTTP to the shipped local server (the repository's ``conftest.py``).

Circuits travel as OpenQASM 2, so they are drawn as OpenQASM 2 carries them: no
``else`` branches, each ``if_test`` one gate on a one-bit register. The server's
default system is a noiseless simulator cluster, so outcomes are compared with the
exact distributions and values of the circuits (``reference``): counts with
``stats.assert_counts_follow``, exact expectation values to 1e-9, and estimates asked
at a precision within its Hoeffding bound. Its noisy "QPU" (FakeManilaV2's noise) is
compared with Aer's shots of the same ISA circuits under that device's noise model.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiskit_divi import EstimatorV2, SamplerV2
from qiskit_divi.qoro.backend import QoroBackend

from .reference import (
    aer_counts,
    bound_circuits,
    device_noise,
    exact_distribution,
    exact_expectations,
    plain,
    sampler_counts,
    values_shape,
)
from .stats import assert_counts_follow, assert_estimates_close, assert_same_distribution, spread
from .strategies import (
    CONFORMANCE,
    EstimatorCase,
    SamplerCase,
    estimator_cases,
    note_circuit,
    sampler_cases,
)

SHOTS = 4000
PRECISION = 0.02
#: Qoro round trips cost more than local runs: fewer examples.
QORO = settings(CONFORMANCE, max_examples=10)


@given(cases=st.lists(sampler_cases(compiled=False, qasm2=True), min_size=1, max_size=3))
@QORO
def test_backend_run_follows_exact_distributions(
    qoro: QoroBackend, cases: list[SamplerCase]
) -> None:
    """Several circuits in one job, each bound to its first parameter set."""
    bound = []
    for case in cases:
        circuit, values = case.pub()
        bound.append(bound_circuits(circuit, values)[0])
        note_circuit(bound[-1])

    result = qoro.run(bound, shots=SHOTS).result()

    for index, circuit in enumerate(bound):
        assert_counts_follow(plain(result.get_counts(index)), exact_distribution(circuit))


@given(case=sampler_cases(compiled=False, qasm2=True))
@QORO
def test_sampler_follows_exact_distributions(qoro: QoroBackend, case: SamplerCase) -> None:
    circuit, values = case.pub()
    note_circuit(circuit)
    pub = (circuit,) if values is None else (circuit, values)

    data = SamplerV2(qoro).run([pub], shots=SHOTS).result()[0].data

    assert data.shape == values_shape(values)
    for index, bound in zip(np.ndindex(data.shape), bound_circuits(circuit, values), strict=True):
        assert_counts_follow(sampler_counts(data, circuit, index), exact_distribution(bound))


@given(case=estimator_cases(compiled=False, qasm2=True))
@QORO
def test_exact_estimates_equal_aers(qoro: QoroBackend, case: EstimatorCase) -> None:
    pub = case.pub()
    note_circuit(pub[0])

    evs = EstimatorV2(qoro).run([pub]).result()[0].data.evs

    expected = exact_expectations(*pub)
    assert evs.shape == expected.shape
    np.testing.assert_allclose(evs, expected, rtol=0, atol=1e-9)


@given(case=estimator_cases(compiled=False, qasm2=True))
@QORO
def test_estimates_at_a_precision_are_within_bounds_of_exact_values(
    qoro: QoroBackend, case: EstimatorCase
) -> None:
    pub = case.pub()
    note_circuit(pub[0])

    evs = EstimatorV2(qoro).run([pub], precision=PRECISION).result()[0].data.evs

    spreads = np.broadcast_to(np.vectorize(spread, otypes=[float])(pub[1]), evs.shape)
    shots = math.ceil(1 / PRECISION**2)
    assert_estimates_close(evs, exact_expectations(*pub), spreads, shots)


@pytest.mark.slow
@given(
    case=sampler_cases(compiled=True, dynamic=False, devices=("FakeManilaV2",), max_qubits=5),
    seed=st.integers(0, 2**31),
)
@settings(CONFORMANCE, max_examples=8)
def test_sampler_on_the_noisy_qpu_agrees_with_aers_shots(
    qpu: QoroBackend, case: SamplerCase, seed: int
) -> None:
    """ISA circuits for FakeManilaV2, which plays the server's QPU, run as they are."""
    circuit, values = case.pub()
    note_circuit(circuit)
    pub = (circuit,) if values is None else (circuit, values)

    data = SamplerV2(qpu).run([pub], shots=SHOTS).result()[0].data

    theirs = aer_counts(bound_circuits(circuit, values), device_noise("FakeManilaV2"), SHOTS, seed)
    for index, counts in zip(np.ndindex(data.shape), theirs, strict=True):
        assert_same_distribution(sampler_counts(data, circuit, index), counts, circuit.num_clbits)
