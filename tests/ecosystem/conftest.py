"""Our backends and their Aer twins, shared by every client's tests.

Each backend of ours has an Aer counterpart that the same script runs on: the ideal
simulator and ``AerSimulator()``, the FakeManilaV2-noisy simulator (and the local
server's FakeManilaV2 "QPU") and ``AerSimulator.from_backend(FakeManilaV2())``. The
backends live for the whole session so their warm pools serve every module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import DiviProvider
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.server import LocalServer
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

#: Seeds the local server's sampling, so Qoro results are reproducible too.
SERVER_SEED = 2024


@pytest.fixture(scope="session")
def fake_manila() -> FakeManilaV2:
    """The device the noisy backends imitate (its properties are the reference values)."""
    return FakeManilaV2()


@pytest.fixture(scope="session")
def simulator() -> Iterator[ParallelSimulatorBackend]:
    backend = ParallelSimulatorBackend(n_processes=2)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def noisy_simulator(fake_manila: FakeManilaV2) -> Iterator[ParallelSimulatorBackend]:
    backend = ParallelSimulatorBackend(qiskit_backend=fake_manila, n_processes=2)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def aer() -> AerSimulator:
    return AerSimulator()


@pytest.fixture(scope="session")
def noisy_aer(fake_manila: FakeManilaV2) -> AerSimulator:
    return AerSimulator.from_backend(fake_manila)


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer(seed=SERVER_SEED) as running:
        yield running


@pytest.fixture(scope="session")
def provider(server: LocalServer) -> DiviProvider:
    return DiviProvider(auth_token=server.token, api_url=server.url)


@pytest.fixture(scope="session")
def qoro(provider: DiviProvider) -> QoroBackend:
    """The server's noiseless simulator cluster."""
    backend = provider.get_backend("qoro", polling_interval=0.02, timeout=120)
    assert isinstance(backend, QoroBackend)
    return backend


@pytest.fixture(scope="session")
def qoro_qpu(provider: DiviProvider) -> QoroBackend:
    """The server's noisy 5-qubit "QPU", played by FakeManilaV2."""
    backend = provider.get_backend("fake_manila", polling_interval=0.02, timeout=120)
    assert isinstance(backend, QoroBackend)
    return backend
