"""A 127-qubit ECR device: FakeSherbrooke's target with a noise model that has its basis
and no errors, so that its results have exact references (``reference``).

Logical circuits (in ``cx``, ``u``, ``h`` ... that the device lacks) must be compiled by
our backend, as Aer's would be, and sample their exact distributions; ISA circuits of a
few active qubits on the wide device must give the exact expectation values (to 1e-9)
and sampled estimates within their Hoeffding bounds, simulated on the active qubits
only, as Aer does (a noise model, even without errors, means a density matrix, so the
layouts stay on a few qubits).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from qiskit_aer.noise import NoiseModel

from qiskit_divi import EstimatorV2, SamplerV2
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .reference import bound_circuits, exact_distribution, exact_expectations, sampler_counts
from .stats import assert_counts_follow, assert_estimates_close, spread
from .strategies import (
    CONFORMANCE,
    EstimatorCase,
    SamplerCase,
    estimator_cases,
    fake_device,
    note_circuit,
    sampler_cases,
)

DEVICE = "FakeSherbrooke"
#: Layouts on the device's first qubits, a chain, so routing touches few (the backend has
#: a noise model, so exact values take a density matrix of every qubit touched).
WITHIN = 8
SHOTS = 4000
PRECISION = 0.02
WIDE = settings(CONFORMANCE, max_examples=8)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quiet_device() -> Iterator[ParallelSimulatorBackend]:
    device = fake_device(DEVICE)
    gates = sorted(set(device.operation_names) & {"ecr", "rz", "sx", "x", "id"})
    backend = ParallelSimulatorBackend(
        qiskit_backend=device, noise_model=NoiseModel(basis_gates=gates), n_processes=2
    )
    yield backend
    backend.close()


@given(case=sampler_cases(compiled=False), seed=st.integers(0, 2**31))
@WIDE
def test_sampler_compiles_logical_circuits_for_the_device(
    quiet_device: ParallelSimulatorBackend, case: SamplerCase, seed: int
) -> None:
    circuit, values = case.pub()
    note(f"circuit:\n{circuit.draw(fold=-1)}")
    pub = (circuit,) if values is None else (circuit, values)

    data = SamplerV2(quiet_device, options={"seed": seed}).run([pub], shots=SHOTS).result()[0].data

    for index, bound in zip(np.ndindex(data.shape), bound_circuits(circuit, values), strict=True):
        assert_counts_follow(sampler_counts(data, circuit, index), exact_distribution(bound))


@given(case=estimator_cases(compiled=True, devices=(DEVICE,), within=WITHIN))
@WIDE
def test_exact_values_of_isa_circuits_on_the_wide_device(
    quiet_device: ParallelSimulatorBackend, case: EstimatorCase
) -> None:
    pub = case.pub()
    note_circuit(pub[0])

    evs = EstimatorV2(quiet_device).run([pub]).result()[0].data.evs

    np.testing.assert_allclose(evs, exact_expectations(*pub), rtol=0, atol=1e-9)


@given(
    case=estimator_cases(compiled=True, devices=(DEVICE,), within=WITHIN),
    seed=st.integers(0, 2**31),
)
@WIDE
def test_sampled_estimates_of_isa_circuits_on_the_wide_device(
    quiet_device: ParallelSimulatorBackend, case: EstimatorCase, seed: int
) -> None:
    pub = case.pub()
    note_circuit(pub[0])
    estimator = EstimatorV2(quiet_device, options={"seed": seed})

    evs = estimator.run([pub], precision=PRECISION).result()[0].data.evs

    spreads = np.broadcast_to(np.vectorize(spread, otypes=[float])(pub[1]), evs.shape)
    shots = math.ceil(1 / PRECISION**2)
    assert_estimates_close(evs, exact_expectations(*pub), spreads, shots)
