"""ParallelSimulatorBackend copies and pickles like Aer's backends, as Qiskit libraries expect.

Copies in this process share the engine (its warm pool) and the job queue; a pickle
rebuilds an engine from the settings. Either way the copy samples exactly what the
original does for the same seed.
"""

from __future__ import annotations

import copy
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import DiviProvider, ParallelSimulatorBackend
from qiskit_divi.simulator import SimulationEngine

from .circuits import bell, qaoa

SEED = 1234


@pytest.fixture(scope="module")
def manila():
    backend = ParallelSimulatorBackend(
        qiskit_backend=FakeManilaV2(), n_processes=2, seed_simulator=SEED, shots=2000
    )
    yield backend
    backend.close()


def counts_of(backend: ParallelSimulatorBackend) -> list[dict[str, int]]:
    """Counts of a batch big enough to be split over the pool, plus a noisy Bell pair."""
    rng = np.random.default_rng(5)
    circuits = [bell()] + [qaoa(5, rng) for _ in range(30)]
    return backend.run(circuits).result().get_counts()


def test_a_deep_copy_shares_the_engine_and_queue_but_not_the_options(manila):
    twin = copy.deepcopy(manila)

    assert twin.engine is manila.engine and twin.execution.runner is manila.execution.runner
    twin.set_options(shots=10)
    assert (twin.options.shots, manila.options.shots) == (10, 2000)


def test_a_deep_copy_samples_what_the_original_does(manila):
    assert counts_of(copy.deepcopy(manila)) == counts_of(manila)


def test_a_pickled_backend_rebuilds_its_engine_and_samples_the_same(manila):
    restored = pickle.loads(pickle.dumps(manila))

    assert isinstance(restored.engine, SimulationEngine) and restored.engine is not manila.engine
    assert (restored.target.num_qubits, restored.n_processes) == (5, 2)
    assert restored.options.seed_simulator == SEED
    try:
        assert counts_of(restored) == counts_of(manila)
    finally:
        restored.close()


def test_a_pickled_backend_leaves_its_executor_behind_and_uses_a_private_pool():
    with ThreadPoolExecutor(2) as executor:
        backend = ParallelSimulatorBackend(executor=executor, seed_simulator=SEED)
        restored = pickle.loads(pickle.dumps(backend))
        expected = counts_of(backend)
    try:
        assert restored.engine._executor is None and restored.n_processes == 2
        assert counts_of(restored) == expected
    finally:
        restored.close()


def test_a_backend_from_a_provider_copies_and_pickles_without_the_token():
    token = "sim-copy-SECRET-token"
    provider = DiviProvider(auth_token=token, api_url="https://qoro.example/api")
    backend = provider.get_backend("parallel_simulator", n_processes=1, seed_simulator=SEED)

    data = pickle.dumps(backend)
    assert token.encode() not in data
    assert pickle.loads(data).provider is None
    twin = copy.deepcopy(backend)
    assert twin.provider is not None and twin.engine is backend.engine
    assert twin.run(bell()).result().get_counts() == backend.run(bell()).result().get_counts()
