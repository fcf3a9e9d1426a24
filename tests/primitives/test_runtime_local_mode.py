"""qiskit-ibm-runtime's local mode on our backends gives the numbers it gives on Aer.

Local mode deep-copies the backend on every call, then samples through ``backend.run``;
the same script on ``AerSimulator`` is the reference. Counts agree when every outcome's
two counts differ by at most five standard deviations of that difference; expectation
values when they differ by at most five combined standard errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime import Batch, EstimatorV2, SamplerV2, Session
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi.simulator.backend import ParallelSimulatorBackend

pytestmark = pytest.mark.filterwarnings(
    "ignore:The (Sampler|Estimator)V2 class is deprecated:DeprecationWarning"
)

SHOTS = 4000
MODES = ["backend", "batch", "session"]


@pytest.fixture(scope="module")
def noisy_manila() -> Iterator[ParallelSimulatorBackend]:
    backend = ParallelSimulatorBackend(qiskit_backend=FakeManilaV2(), n_processes=1)
    yield backend
    backend.close()


@pytest.fixture(params=["simulator", "qoro"])
def backend(request: pytest.FixtureRequest) -> BackendV2:
    return request.getfixturevalue(request.param)


@contextlib.contextmanager
def mode(kind: str, backend: BackendV2) -> Iterator[BackendV2 | Batch | Session]:
    """What a primitive is given: the backend itself, or a Batch or Session around it."""
    if kind == "backend":
        yield backend
        return
    with (Batch if kind == "batch" else Session)(backend=backend) as context:
        yield context


def entangled(measured: bool) -> QuantumCircuit:
    circuit = QuantumCircuit(3)
    circuit.ry(1.1, 0)
    circuit.cx(0, 1)
    circuit.rx(0.7, 2)
    circuit.cz(1, 2)
    if measured:
        circuit.measure_all()
    return circuit


def sample(kind: str, backend: BackendV2) -> dict[str, int]:
    isa = transpile(entangled(measured=True), backend, seed_transpiler=3)
    with mode(kind, backend) as where:
        result = SamplerV2(mode=where).run([isa], shots=SHOTS).result()
    return result[0].data.meas.get_counts()


def estimate(kind: str, backend: BackendV2) -> tuple[np.ndarray, np.ndarray]:
    isa = transpile(entangled(measured=False), backend, seed_transpiler=3)
    observables = [
        SparsePauliOp(label).apply_layout(isa.layout) for label in ("ZZI", "IXX", "ZIY")
    ]
    with mode(kind, backend) as where:
        result = EstimatorV2(mode=where).run([(isa, observables)], precision=0.02).result()
    return result[0].data.evs, result[0].data.stds


def assert_same_distribution(counts: dict[str, int], reference: dict[str, int]) -> None:
    for outcome in set(counts) | set(reference):
        ours, theirs = counts.get(outcome, 0), reference.get(outcome, 0)
        assert abs(ours - theirs) <= 5 * np.sqrt(ours + theirs) + 1, (outcome, counts, reference)


@pytest.mark.parametrize("kind", MODES)
def test_the_runtime_sampler_samples_as_on_aer(backend: BackendV2, kind: str) -> None:
    counts = sample(kind, backend)
    assert sum(counts.values()) == SHOTS
    assert_same_distribution(counts, sample(kind, AerSimulator()))


@pytest.mark.parametrize("kind", MODES)
def test_the_runtime_estimator_estimates_as_on_aer(backend: BackendV2, kind: str) -> None:
    evs, stds = estimate(kind, backend)
    reference, reference_stds = estimate(kind, AerSimulator())
    assert np.all(np.abs(evs - reference) <= 5 * np.hypot(stds, reference_stds) + 1e-9)


def test_a_seed_given_to_local_mode_reaches_the_simulator(
    noisy_manila: ParallelSimulatorBackend,
) -> None:
    isa = transpile(entangled(measured=True), noisy_manila, seed_transpiler=3)
    samples = []
    for _ in range(2):
        sampler = SamplerV2(mode=noisy_manila)
        sampler.options.simulator.seed_simulator = 42
        samples.append(sampler.run([isa], shots=SHOTS).result()[0].data.meas.get_counts())
    assert samples[0] == samples[1]
    aer_manila = AerSimulator.from_backend(FakeManilaV2())
    assert_same_distribution(samples[0], sample("backend", aer_manila))
