"""Fixtures for the Qoro client tests: a requests mock that fails on anything unmocked,
and a scripted loopback server for what only real HTTP exercises (retries, timeouts)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests_mock

from qiskit_divi.qoro import polling
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.protocol import API_KEY_ENV, API_URL_ENV
from qiskit_divi.qoro.retry import RetrySettings

from .scripted import ScriptedServer
from .wire import API_URL, TOKEN


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Tests see only the credentials they set: no env vars, no stray ``.env`` file."""
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.delenv(API_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def http() -> Iterator[requests_mock.Mocker]:
    """requests-mock with a trap: any request no test registered fails the test."""
    unmocked: list[str] = []

    def trap(request, context):
        unmocked.append(f"{request.method} {request.url}")
        raise AssertionError(f"unmocked request: {request.method} {request.url}")

    with requests_mock.Mocker() as mocker:
        mocker.register_uri(requests_mock.ANY, requests_mock.ANY, json=trap)
        yield mocker
    assert not unmocked, f"requests nobody mocked: {unmocked}"


@pytest.fixture
def client(http: requests_mock.Mocker) -> QoroClient:
    """A client of the mocked service at ``wire.API_URL``."""
    return QoroClient(TOKEN, API_URL, dialect="2025")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted loopback server; a request it has no reply for fails the test."""
    scripted = ScriptedServer()
    scripted.start()
    yield scripted
    scripted.stop()
    assert not scripted.unscripted, f"requests nobody scripted: {scripted.unscripted}"


#: Retries without waiting, so retry tests stay fast.
NO_WAIT = RetrySettings(max_retries=3, backoff_factor=0.0)


@pytest.fixture
def real_client(server: ScriptedServer) -> QoroClient:
    """A client of the scripted server, over real HTTP, retrying without waits."""
    return QoroClient(TOKEN, server.url, request_timeout=2.0, retry=NO_WAIT, dialect="2025")


@pytest.fixture
def virtual_time(monkeypatch):
    """Polling sleeps advance a virtual clock instead of waiting; returns the sleeps."""
    now, sleeps = [0.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(polling, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=sleep))
    return sleeps
