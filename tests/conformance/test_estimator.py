"""Our EstimatorV2 on the parallel simulator, against Qiskit Aer, on random PUBs.

The oracles, and why each is the same quantity as ours:

- Noiseless, exact (precision 0): Aer's ``EstimatorV2`` (statevector, exact) on the
  same PUB: the same ISA circuit, observables laid out with ``apply_layout(isa.layout)``,
  the same parameter values at the same broadcast shapes. For circuits that measure
  mid-circuit or reset, Aer's value would be a Monte-Carlo average over shots (it
  samples those), so Aer's estimator runs on the circuit with measurements and resets
  deferred to ancillas instead (``reference.deferred``): the same state on the
  original qubits, exactly. Agreement to 1e-9.
- Under a fake device's noise, exact: our exact values see the noise of the circuit's
  own gates (and resets), no readout error (``qiskit_divi.primitives.estimator``).
  That is Aer's ``EstimatorV2`` on its density-matrix method with the device's
  ``NoiseModel.from_backend``, which applies gate and reset noise as channels and, the
  circuit measuring nothing, no readout error. Circuits here do not measure
  mid-circuit: Aer samples such a measurement even on a density matrix, whose
  readout error flips the bit an ``if_test`` reads is the next case. Agreement to 1e-9.
- Under noise, exact, with mid-circuit measurements: ours is the mean over the
  outcomes, whose bits an ``if_test`` reads through the device's readout errors
  (``qiskit_divi.primitives.estimator``). Aer defines the same mean by sampling it:
  its ``save_expectation_value`` averaged over noisy trajectories, each drawing its
  outcomes and readout errors. Ours must lie within the Hoeffding bound of Aer's
  average (``reference.averaged_expectations``; each trajectory's value lies in
  ``[-spread, spread]`` around the identity term).
- Sampled (precision > 0), noiseless: each estimate must lie within a Hoeffding bound
  of the exact value above (``stats.hoeffding_halfwidth``: fails < 1 in 10^4).
- Sampled, under noise: a device's sampled estimate sees readout errors as well, and
  (for X and Y terms) the noise of whatever basis-change gates the estimator chose, so
  the observables here are diagonal (I and Z): the quantity is then fixed, the mean of
  the observable over the device's noisy Z-basis outcomes. The reference estimates it
  from Aer's own shots of the same circuit under the same noise model, measured on
  every qubit; the two estimates must agree within the two-sample Hoeffding bound.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from qiskit_divi import EstimatorV2
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .reference import (
    averaged_expectations,
    device_noise,
    exact_expectations,
    noisy_expectations,
    sampled_expectations,
)
from .stats import assert_estimates_close, spread
from .strategies import CONFORMANCE, EstimatorCase, estimator_cases, note_circuit

#: Exact values must agree this closely.
EXACT = 1e-9
#: The precision sampled PUBs ask for: ``ceil(1 / precision**2)`` shots per basis.
PRECISION = 0.015
#: Under noise (trajectories are slower): the precision asked, and Aer's shots.
NOISY_PRECISION = 0.02
REFERENCE_SHOTS = 8_000
#: Aer's noisy trajectories averaged for the exact values of dynamic circuits.
TRAJECTORIES = 10_000


def _describe(case: EstimatorCase, pub: tuple) -> None:
    circuit, observables, _ = pub
    note_circuit(circuit)
    note(f"observables: {[op.to_list() for op in np.ravel(observables)]}")


def _spreads(observables: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.vectorize(spread, otypes=[float])(observables), shape)


def _check_exact(backend: ParallelSimulatorBackend, case: EstimatorCase) -> None:
    pub = case.pub()
    _describe(case, pub)

    evs = EstimatorV2(backend).run([pub]).result()[0].data.evs

    expected = exact_expectations(*pub)
    assert evs.shape == expected.shape
    np.testing.assert_allclose(evs, expected, rtol=0, atol=EXACT)


@given(case=estimator_cases(compiled=False))
@CONFORMANCE
def test_exact_values_of_logical_circuits_equal_aers(
    ideal: ParallelSimulatorBackend, case: EstimatorCase
) -> None:
    """Dynamic circuits, resets, parameters: as the user wrote them."""
    _check_exact(ideal, case)


@given(case=estimator_cases(compiled=True))
@CONFORMANCE
def test_exact_values_of_isa_circuits_equal_aers(
    ideal: ParallelSimulatorBackend, case: EstimatorCase
) -> None:
    """Compiled for a device with a random initial layout, observables laid out."""
    _check_exact(ideal, case)


@pytest.mark.slow
@given(case=estimator_cases(compiled=True, dynamic=False))
@settings(CONFORMANCE, max_examples=15)
def test_exact_values_equal_aers_density_matrix_under_device_noise(
    devices: dict[str, ParallelSimulatorBackend], case: EstimatorCase
) -> None:
    assert case.compiled is not None
    pub = case.pub()
    _describe(case, pub)

    evs = EstimatorV2(devices[case.compiled.device]).run([pub]).result()[0].data.evs

    expected = noisy_expectations(*pub, device_noise(case.compiled.device))
    assert evs.shape == expected.shape
    np.testing.assert_allclose(evs, expected, rtol=0, atol=EXACT)


@pytest.mark.slow
@given(case=estimator_cases(compiled=True, min_mids=1), seed=st.integers(0, 2**31))
@settings(CONFORMANCE, max_examples=8)
def test_exact_values_of_dynamic_circuits_under_device_noise_agree_with_aers_average(
    devices: dict[str, ParallelSimulatorBackend], case: EstimatorCase, seed: int
) -> None:
    assert case.compiled is not None
    pub = case.pub()
    _describe(case, pub)

    evs = EstimatorV2(devices[case.compiled.device]).run([pub]).result()[0].data.evs

    noise = device_noise(case.compiled.device)
    average = averaged_expectations(*pub, noise, TRAJECTORIES, seed)
    assert_estimates_close(evs, average, _spreads(pub[1], evs.shape), TRAJECTORIES)


@pytest.mark.slow
@given(case=estimator_cases(), seed=st.integers(0, 2**31))
@settings(CONFORMANCE, max_examples=15)
def test_sampled_estimates_are_within_bounds_of_exact_values(
    ideal: ParallelSimulatorBackend, case: EstimatorCase, seed: int
) -> None:
    pub = case.pub()
    _describe(case, pub)
    estimator = EstimatorV2(ideal, options={"seed": seed})

    data = estimator.run([pub], precision=PRECISION).result()[0].data

    shots = math.ceil(1 / PRECISION**2)
    spreads = _spreads(pub[1], data.evs.shape)
    assert_estimates_close(data.evs, exact_expectations(*pub), spreads, shots)
    # A mean of values in [-spread, spread] has a standard error of at most this.
    assert np.all(data.stds <= spreads / math.sqrt(shots - 1) + 1e-12)


@pytest.mark.slow
@given(case=estimator_cases(compiled=True, diagonal=True), seed=st.integers(0, 2**31))
@settings(CONFORMANCE, max_examples=10)
def test_sampled_estimates_agree_with_aers_shots_under_device_noise(
    devices: dict[str, ParallelSimulatorBackend], case: EstimatorCase, seed: int
) -> None:
    assert case.compiled is not None
    pub = case.pub()
    _describe(case, pub)
    estimator = EstimatorV2(devices[case.compiled.device], options={"seed": seed})

    evs = estimator.run([pub], precision=NOISY_PRECISION).result()[0].data.evs

    reference = sampled_expectations(
        *pub, device_noise(case.compiled.device), REFERENCE_SHOTS, seed
    )
    shots = math.ceil(1 / NOISY_PRECISION**2)
    spreads = _spreads(pub[1], evs.shape)
    assert_estimates_close(evs, reference, spreads, shots, reference_shots=REFERENCE_SHOTS)
