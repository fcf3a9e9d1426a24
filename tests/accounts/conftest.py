"""Fixtures for accounts, the job journal and the command line: an in-memory OS keyring,
a private journal, and a local Qoro-compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from qiskit_divi.journal import JOURNAL_ENV
from qiskit_divi.server import LocalServer


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
    """An in-memory keyring as the OS keyring (the root conftest takes it away after)."""
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    return ring


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A journal of this test's own."""
    path = tmp_path / "journal" / "jobs.sqlite3"
    monkeypatch.setenv(JOURNAL_ENV, str(path))
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(seed=11) as running:
        yield running


@pytest.fixture
def clean_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials in the environment and an empty working directory."""
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.delenv("QORO_API_URL", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work
