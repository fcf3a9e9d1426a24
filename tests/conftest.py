"""Fixtures shared by the test folders that talk to the local Qoro-compatible server.

A folder that needs a server set up differently defines its own ``server`` fixture,
which takes precedence there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qiskit_divi import DiviProvider
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.server import LocalServer

#: Seeds the local server's sampling, so Qoro results are reproducible too.
SERVER_SEED = 99


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(seed=SERVER_SEED) as running:
        yield running


@pytest.fixture(scope="module")
def provider(server: LocalServer) -> DiviProvider:
    return DiviProvider(auth_token=server.token, api_url=server.url)


@pytest.fixture(scope="module")
def qoro(provider: DiviProvider) -> QoroBackend:
    """The server's noiseless simulator cluster, polled briskly."""
    backend = provider.get_backend("qoro", polling_interval=0.02, timeout=120)
    assert isinstance(backend, QoroBackend)
    return backend


@pytest.fixture(scope="module")
def qpu(provider: DiviProvider) -> QoroBackend:
    """The server's 5-qubit noisy "QPU" (FakeManilaV2), which computes no expectation values."""
    backend = provider.get_backend("fake_manila", polling_interval=0.02, timeout=120)
    assert isinstance(backend, QoroBackend)
    return backend
