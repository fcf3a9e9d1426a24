"""Fixtures for the documentation tests: each page and example runs in a clean place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qiskit_divi.qoro.protocol import API_KEY_ENV, API_URL_ENV


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No Qoro credentials from the machine, an empty working directory, and every
    environment variable a page sets undone afterwards."""
    saved = dict(os.environ)
    monkeypatch.chdir(tmp_path)
    for name in (API_KEY_ENV, API_URL_ENV):
        os.environ.pop(name, None)
    try:
        yield tmp_path
    finally:
        os.environ.clear()
        os.environ.update(saved)
