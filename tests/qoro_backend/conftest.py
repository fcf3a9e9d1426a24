"""Fixtures for QoroBackend and QoroJob: a client, two systems, and a requests-mock trap.

Any request nobody mocked fails the test (requests-mock raises ``NoMockAddress``), so a
test that expects no traffic only needs to mock nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock
from qiskit import QuantumCircuit

from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.client import QoroClient

from .helpers import API, CLUSTER, QPU_SYSTEM, TOKEN


@pytest.fixture
def mock() -> Iterator[requests_mock.Mocker]:
    with requests_mock.Mocker() as m:
        yield m


@pytest.fixture
def client() -> QoroClient:
    return QoroClient(auth_token=TOKEN, api_url=API, max_retry_time=1.0, dialect="2025")


@pytest.fixture
def cluster_backend(client: QoroClient) -> QoroBackend:
    return QoroBackend(CLUSTER, client, polling_interval=0.01)


@pytest.fixture
def qpu_backend(client: QoroClient) -> QoroBackend:
    return QoroBackend(QPU_SYSTEM, client, polling_interval=0.01)


@pytest.fixture
def bell() -> QuantumCircuit:
    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc
