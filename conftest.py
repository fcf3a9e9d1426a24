"""What every test shares: no test reads or writes the user's own saved accounts, OS
keyring or job journal, in this process or in any process it starts; and the local
Qoro-compatible server with its backends, for the folders that talk to it.

At the repository's root rather than in ``tests/``: tests/dask's workers import their
own ``conftest`` by name, and ``tests/`` comes before ``tests/dask`` on ``sys.path``
once the top-level test modules are collected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from qiskit_divi import DiviProvider
from qiskit_divi.accounts import ACCOUNTS_ENV
from qiskit_divi.journal import JOURNAL_ENV
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.server import LocalServer

#: Child processes pick keyring's "no keyring" backend by this variable of keyring's own.
_KEYRING_ENV = "PYTHON_KEYRING_BACKEND"


_SCRATCH = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Point accounts and journal at a session folder before any fixture submits a job,
    and take the OS keyring away."""
    scratch = config.stash[_SCRATCH] = Path(tempfile.mkdtemp(prefix="qiskit-divi-tests-"))
    os.environ[ACCOUNTS_ENV] = str(scratch / "accounts.json")
    os.environ[JOURNAL_ENV] = str(scratch / "jobs.sqlite3")
    os.environ[_KEYRING_ENV] = "keyring.backends.fail.Keyring"
    keyring.set_keyring(fail.Keyring())


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(config.stash[_SCRATCH], ignore_errors=True)


@pytest.fixture(autouse=True)
def _private_accounts(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Iterator[None]:
    """Each test starts with no saved account and no keyring (tests of the keyring set one)."""
    folder = tmp_path_factory.mktemp("accounts")
    monkeypatch.setenv(ACCOUNTS_ENV, str(folder / "accounts.json"))
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(fail.Keyring())


# -- the local Qoro-compatible server, for the folders that talk to it ---------------------
# (a folder that needs a server set up differently defines its own ``server`` fixture,
# which takes precedence there)

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
