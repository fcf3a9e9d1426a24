"""What every test shares: no test reads or writes the user's own saved accounts, OS
keyring or job journal, in this process or in any process it starts; the fixtures that
isolate a test further (an in-memory keyring, a journal and a working directory of its
own, a requests mock); and the local Qoro-compatible server with its backends, for the
folders that talk to it.

At the repository's root rather than in ``tests/``: tests/dask's workers import their
own ``conftest`` by name, and ``tests/`` comes before ``tests/dask`` on ``sys.path``
once the top-level test modules are collected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import keyring
import pytest
import requests
import requests_mock
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from qiskit_divi import DiviProvider
from qiskit_divi.accounts import ACCOUNTS_ENV
from qiskit_divi.journal import JOURNAL_ENV
from qiskit_divi.qoro import polling
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.protocol import API_KEY_ENV, API_URL_ENV
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


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps passwords in a dict, standing in for the OS's."""

    priority = 1  # type: ignore[assignment]  # usable, but never chosen by keyring itself

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    """An in-memory keyring as the OS keyring (``_private_accounts`` takes it away after)."""
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    return ring


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A journal of this test's own."""
    path = tmp_path / "journal" / "jobs.sqlite3"
    monkeypatch.setenv(JOURNAL_ENV, str(path))
    return path


@pytest.fixture
def clean_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials in the environment and an empty working directory (a folder below
    the test's own, so a test can put a ``.env`` above it)."""
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.delenv(API_URL_ENV, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def mock() -> Iterator[requests_mock.Mocker]:
    """requests-mock: a request the test did not mock raises ``NoMockAddress``, so a test
    that mocks nothing proves that nothing was sent."""
    with requests_mock.Mocker() as mocker:
        yield mocker


@pytest.fixture
def http(mock: requests_mock.Mocker) -> Iterator[requests_mock.Mocker]:
    """The requests mock with a trap: a request no test registered fails the test, even
    when the code under test catches the error it raises."""
    unmocked: list[str] = []

    def trap(request, context):
        unmocked.append(f"{request.method} {request.url}")
        raise AssertionError(f"unmocked request: {request.method} {request.url}")

    mock.register_uri(requests_mock.ANY, requests_mock.ANY, json=trap)
    yield mock
    assert not unmocked, f"requests nobody mocked: {unmocked}"


@dataclass(frozen=True)
class Sent:
    """One HTTP request a test's code made, as it left the client."""

    method: str
    url: str
    body: bytes


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """Every HTTP request made through ``requests`` from now on, in order."""
    made: list[Sent] = []
    original = requests.Session.request

    def recording(self, method, url, *args, **kwargs):
        data = kwargs.get("data") or b""
        made.append(Sent(method, url, data.encode() if isinstance(data, str) else data))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", recording)
    return made


class VirtualClock:
    """A module's ``time`` whose sleeps advance the clock at once and are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType], VirtualClock]:
    """Puts a module's ``time`` on a virtual clock of its own: ``virtual_clock(polling)``."""

    def install(module: ModuleType) -> VirtualClock:
        clock = VirtualClock()
        monkeypatch.setattr(module, "time", clock)
        return clock

    return install


@pytest.fixture
def virtual_time(virtual_clock: Callable[[ModuleType], VirtualClock]) -> list[float]:
    """Polling sleeps advance a virtual clock instead of waiting; returns the sleeps."""
    return virtual_clock(polling).sleeps


# -- the local Qoro-compatible server, for the folders that talk to it ---------------------

#: Seeds the local server's sampling, so Qoro results are reproducible too.
SERVER_SEED = 99


@pytest.fixture(scope="session")
def server_settings() -> dict[str, Any]:
    """``LocalServer``'s arguments for ``server``: a folder or module that needs the
    server set up otherwise (its own seed, tokens) overrides this fixture, not ``server``."""
    return {"seed": SERVER_SEED}


@pytest.fixture(scope="module")
def server(server_settings: dict[str, Any]) -> Iterator[LocalServer]:
    """A local server per test module, so no module sees another's jobs."""
    with LocalServer(**server_settings) as running:
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
