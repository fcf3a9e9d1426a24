"""Canned Qoro answers and request readers for the QoroBackend and QoroJob tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests_mock

from qiskit_divi.outcomes import Outcomes
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.codec import encode_histogram, unpack_circuit
from qiskit_divi.qoro.execution import retrieve
from qiskit_divi.qoro.job import QoroJob
from qiskit_divi.qoro.protocol import QPU, QPUSystem, SimulatorCluster

API = "https://qoro.example/api"
TOKEN = "tok-3b7f-SECRET-9e1c"
JOB_ID = "7d3c1f0e-5a4b-4c2d-9e8f-000000000001"

CLUSTER = SimulatorCluster(name="qoro_maestro", access_level="public", supports_expval=True)
QPU_SYSTEM = QPUSystem(
    name="qoro_qpu",
    access_level="public",
    qpus=(QPU(nickname="q5", q_bits=5, status="online", system_kind="superconducting"),),
)


def url(path: str) -> str:
    return f"{API}/{path}"


def histogram(counts: Mapping[str, int]) -> dict[str, Any]:
    """A result value as the service sends it, for flat-bitstring counts."""
    return encode_histogram(Outcomes.from_counts(counts, len(next(iter(counts)))))


def results_page(results: Mapping[str, Any], next_url: str | None = None) -> dict[str, Any]:
    return {
        "results": [{"label": label, "results": value} for label, value in results.items()],
        "next": next_url,
    }


def submitted_circuits(mock: requests_mock.Mocker) -> dict[str, str]:
    """label -> OpenQASM text of every circuit the client uploaded."""
    circuits: dict[str, str] = {}
    for request in mock.request_history:
        if request.path.endswith("/add_circuits/"):
            for label, packed in request.json()["circuits"].items():
                circuits[label] = unpack_circuit(packed)
    return circuits


def known_by_id(client: QoroClient, job_id: str = JOB_ID) -> QoroJob:
    """The job as ``DiviProvider.retrieve_job`` rebuilds it from its id (which asks the
    service for its status once)."""
    return QoroJob(None, retrieve(client, job_id, polling_interval=0.01))


def mock_submission(mock: requests_mock.Mocker, job_id: str = JOB_ID) -> None:
    mock.post(url("job/init/"), json={"job_id": job_id}, status_code=201)
    mock.post(url(f"job/{job_id}/add_circuits/"), json={})


def mock_finished(
    mock: requests_mock.Mocker, results: Mapping[str, Any], job_id: str = JOB_ID
) -> None:
    mock.get(url(f"job/{job_id}/status/"), json={"status": "COMPLETED"})
    mock.get(url(f"job/{job_id}/resultsV2/?limit=100&offset=0"), json=results_page(results))


def serve_counts(
    mock: requests_mock.Mocker,
    counts_of: Callable[[str], Mapping[str, int]],
    job_id: str = JOB_ID,
) -> None:
    """A finished job whose results answer each uploaded circuit (by its OpenQASM text)."""
    mock_submission(mock, job_id)
    mock.get(url(f"job/{job_id}/status/"), json={"status": "COMPLETED"})

    def results(request: Any, context: Any) -> dict[str, Any]:
        circuits = submitted_circuits(mock)
        return results_page(
            {label: histogram(counts_of(qasm)) for label, qasm in circuits.items()}
        )

    mock.get(url(f"job/{job_id}/resultsV2/?limit=100&offset=0"), json=results)
