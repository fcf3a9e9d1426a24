"""Fixtures for the Qoro client, QoroBackend and QoroJob tests: a client of the mocked
service (the repository's ``conftest.py`` holds the requests mock), backends on two of its
systems, and the scripted fault server for what only real HTTP exercises (retries,
timeouts, broken answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock
from qiskit import QuantumCircuit

from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.protocol import API_KEY_ENV, API_URL_ENV
from qiskit_divi.qoro.retry import RetrySettings

from .scripted import ScriptedServer
from .wire import API_URL, CLUSTER, QPU_SYSTEM, TOKEN
from simulator import circuits


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Tests see only the credentials they set: no env vars, no stray ``.env`` file."""
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.delenv(API_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def client(http: requests_mock.Mocker) -> QoroClient:
    """A client of the mocked service at ``wire.API_URL``."""
    return QoroClient(TOKEN, API_URL, max_retry_time=1.0, dialect="2025")


@pytest.fixture
def cluster_backend(client: QoroClient) -> QoroBackend:
    return QoroBackend(CLUSTER, client, polling_interval=0.01)


@pytest.fixture
def qpu_backend(client: QoroClient) -> QoroBackend:
    return QoroBackend(QPU_SYSTEM, client, polling_interval=0.01)


@pytest.fixture
def bell() -> QuantumCircuit:
    return circuits.bell()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """The scripted fault server on loopback; a request it has no reply for fails the test."""
    scripted = ScriptedServer()
    scripted.start()
    yield scripted
    scripted.stop()
    assert not scripted.unscripted, f"requests nobody scripted: {scripted.unscripted}"


#: Retries without waiting, so retry tests stay fast.
NO_WAIT = RetrySettings(max_retries=3, backoff_factor=0.0)


@pytest.fixture
def real_client(scripted: ScriptedServer) -> QoroClient:
    """A client of the scripted server, over real HTTP, retrying without waits."""
    return QoroClient(TOKEN, scripted.url, request_timeout=2.0, retry=NO_WAIT, dialect="2025")
