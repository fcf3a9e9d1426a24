"""Fixtures for the Qoro client tests: a requests mock that fails on anything unmocked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock

from qiskit_divi.qoro.protocol import API_KEY_ENV, API_URL_ENV


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
