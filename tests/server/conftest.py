"""Fixtures for the local server's tests: running servers and plain-HTTP clients for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qiskit_divi.server import LocalServer

from .helpers import Api

TOKENS = ("alice-token", "bob-token")
SEED = 1234


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """One server, two tokens, shared by a module's tests that do not restart it."""
    with LocalServer(tokens=TOKENS, seed=SEED) as running:
        yield running


@pytest.fixture
def alice(server: LocalServer) -> Api:
    return Api(server.url, TOKENS[0])


@pytest.fixture
def bob(server: LocalServer) -> Api:
    return Api(server.url, TOKENS[1])
