"""Our SamplerV2 and ``backend.run`` on the parallel simulator, against Qiskit Aer, on
random measured circuits (mid-circuit measurements feeding ``if_test``, resets,
parameters with broadcast shapes), logical or compiled for a fake device with a random
initial layout.

The oracles:

- Noiseless: the exact joint distribution of every classical bit, from Aer's
  statevector of the circuit with its measurements and resets deferred to ancillas
  (``reference.exact_distribution``); each parameter set's counts must pass
  ``stats.assert_counts_follow`` (fails < 1 in 10^4 on true samples).
- Under noise (a fake device's, or its noise model alone): Aer's own shots of the same
  ISA circuit under ``NoiseModel.from_backend`` of the device, readout errors included
  as on ours; the two samples must pass ``stats.assert_same_distribution`` (fails < 1
  in 10^4 when they share a law). Exact noisy distributions with mid-circuit
  measurements are out of Aer's reach (it samples them), hence two samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit_aer.noise import NoiseModel

from qiskit_divi import SamplerV2
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .reference import (
    aer_counts,
    bound_circuits,
    device_noise,
    exact_distribution,
    plain,
    sampler_counts,
    values_shape,
)
from .stats import assert_counts_follow, assert_same_distribution
from .strategies import CONFORMANCE, SamplerCase, note_circuit, sampler_cases

#: Shots per parameter set compared with an exact distribution.
SHOTS = 4000
#: Shots per parameter set, for ours and for Aer's, compared with each other.
NOISY_SHOTS = 5000
#: Noisy runs simulate trajectories shot by shot: fewer examples.
NOISY = settings(CONFORMANCE, max_examples=10)


def _check_sampler_against_exact(
    backend: ParallelSimulatorBackend, case: SamplerCase, seed: int
) -> None:
    circuit, values = case.pub()
    note_circuit(circuit)
    pub = (circuit,) if values is None else (circuit, values)

    data = SamplerV2(backend, options={"seed": seed}).run([pub], shots=SHOTS).result()[0].data

    assert data.shape == values_shape(values)
    for index, bound in zip(np.ndindex(data.shape), bound_circuits(circuit, values), strict=True):
        assert_counts_follow(sampler_counts(data, circuit, index), exact_distribution(bound))


@given(case=sampler_cases(), seed=st.integers(0, 2**31))
@CONFORMANCE
def test_sampler_follows_exact_distributions_on_the_ideal_simulator(
    ideal: ParallelSimulatorBackend, case: SamplerCase, seed: int
) -> None:
    _check_sampler_against_exact(ideal, case, seed)


@given(case=sampler_cases(), seed=st.integers(0, 2**31))
@CONFORMANCE
def test_backend_run_follows_exact_distributions_on_the_ideal_simulator(
    ideal: ParallelSimulatorBackend, case: SamplerCase, seed: int
) -> None:
    circuit, values = case.pub()
    note_circuit(circuit)
    bound = bound_circuits(circuit, values)

    result = ideal.run(bound, shots=SHOTS, seed_simulator=seed).result()

    for index, each in enumerate(bound):
        assert_counts_follow(plain(result.get_counts(index)), exact_distribution(each))


def _check_sampler_against_aer(
    backend: ParallelSimulatorBackend,
    circuit: QuantumCircuit,
    values: object,
    noise: NoiseModel,
    seed: int,
) -> None:
    note_circuit(circuit)
    pub = (circuit,) if values is None else (circuit, values)
    sampler = SamplerV2(backend, options={"seed": seed})

    data = sampler.run([pub], shots=NOISY_SHOTS).result()[0].data

    bound = bound_circuits(circuit, values)
    theirs = aer_counts(bound, noise, NOISY_SHOTS, seed + 1)
    for index, counts in zip(np.ndindex(data.shape), theirs, strict=True):
        ours = sampler_counts(data, circuit, index)
        assert_same_distribution(ours, counts, circuit.num_clbits)


@pytest.mark.slow
@given(case=sampler_cases(compiled=True), seed=st.integers(0, 2**31))
@NOISY
def test_sampler_agrees_with_aers_shots_under_device_noise(
    devices: dict[str, ParallelSimulatorBackend], case: SamplerCase, seed: int
) -> None:
    assert case.compiled is not None
    device = case.compiled.device
    _check_sampler_against_aer(devices[device], *case.pub(), device_noise(device), seed)


@pytest.mark.slow
@given(case=sampler_cases(compiled=True), seed=st.integers(0, 2**31))
@NOISY
def test_backend_run_agrees_with_aers_shots_under_device_noise(
    devices: dict[str, ParallelSimulatorBackend], case: SamplerCase, seed: int
) -> None:
    assert case.compiled is not None
    device = case.compiled.device
    circuit, values = case.pub()
    note_circuit(circuit)
    bound = bound_circuits(circuit, values)

    result = devices[device].run(bound, shots=NOISY_SHOTS, seed_simulator=seed).result()

    theirs = aer_counts(bound, device_noise(device), NOISY_SHOTS, seed + 1)
    for index, counts in enumerate(theirs):
        ours = plain(result.get_counts(index))
        assert_same_distribution(ours, counts, circuit.num_clbits)


@pytest.mark.slow
@given(
    case=sampler_cases(compiled=True, devices=("FakeManilaV2",), max_qubits=5),
    seed=st.integers(0, 2**31),
)
@NOISY
def test_sampler_agrees_with_aers_shots_under_a_noise_model_alone(
    noise_model_backend: ParallelSimulatorBackend,
    manila_noise: NoiseModel,
    case: SamplerCase,
    seed: int,
) -> None:
    """Compiled for the backend's own target, on FakeManilaV2's qubits (where its noise
    model puts errors)."""
    circuit, values = case.pub(noise_model_backend.target)
    _check_sampler_against_aer(noise_model_backend, circuit, values, manila_noise, seed)
