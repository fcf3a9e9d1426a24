"""Fixtures for DiviProvider: a clean environment (no token, no .env) and a request trap.

requests-mock answers only what a test mocks; any other request fails the test, so a
test that mocks nothing also proves that no request was made.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock

from .helpers import API, QPU_SYSTEMS, SIMULATOR_CLUSTERS, TOKEN


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No credentials anywhere: no environment variables and no .env up the tree."""
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.delenv("QORO_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def mock() -> Iterator[requests_mock.Mocker]:
    with requests_mock.Mocker() as m:
        yield m


@pytest.fixture
def service(mock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch) -> requests_mock.Mocker:
    """A token and URL in the environment, and a service listing two QPUs and a cluster."""
    monkeypatch.setenv("QORO_API_KEY", TOKEN)
    monkeypatch.setenv("QORO_API_URL", API)
    mock.get(f"{API}/simulatorcluster/", json=SIMULATOR_CLUSTERS)
    mock.get(f"{API}/qpusystem/", json=QPU_SYSTEMS)
    return mock
