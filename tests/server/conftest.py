"""Fixtures for the local server's tests: running servers, plain-HTTP clients for them,
and a job store of a test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qiskit_divi.server import LocalServer
from qiskit_divi.server.store import Store

from .helpers import Api

TOKENS = ("alice-token", "bob-token")
SEED = 1234


@pytest.fixture(scope="session")
def server_settings() -> dict[str, Any]:
    """Two tokens, for a module's tests that do not restart the server."""
    return {"tokens": TOKENS, "seed": SEED}


@pytest.fixture
def alice(server: LocalServer) -> Api:
    return Api(server.url, TOKENS[0])


@pytest.fixture
def bob(server: LocalServer) -> Api:
    return Api(server.url, TOKENS[1])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "jobs.sqlite3")
    try:
        yield store
    finally:
        store.close()
