"""A primitive job over Qoro jobs, against a mocked service: status of several jobs, cancel,
timeouts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock
from qiskit.primitives import PrimitiveResult
from qiskit.providers import JobStatus

from qiskit_divi.exceptions import JobNotCancellableError, JobTimeoutError
from qiskit_divi.primitives.job import DiviPrimitiveJob
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.execution import QoroHandle
from qiskit_divi.qoro.protocol import SimulatorCluster

API = "https://qoro.example/api"
IDS = ["job-a", "job-b"]


@pytest.fixture
def mock() -> Iterator[requests_mock.Mocker]:
    """Any request nobody mocked fails the test."""
    with requests_mock.Mocker() as m:
        yield m


@pytest.fixture
def backend() -> QoroBackend:
    client = QoroClient(auth_token="token-xyz", api_url=API, max_retry_time=1.0)
    cluster = SimulatorCluster(name="qoro_maestro", access_level="public", supports_expval=True)
    return QoroBackend(cluster, client, polling_interval=0.01)


def statuses(mock: requests_mock.Mocker, **by_id: str) -> None:
    for job_id, status in by_id.items():
        mock.get(f"{API}/job/{job_id}/status/", json={"status": status})


def never_finished(*results: object) -> PrimitiveResult:
    raise AssertionError("no result expected")


def job(backend: QoroBackend) -> DiviPrimitiveJob:
    handle = QoroHandle(backend.client, IDS, never_finished, polling_interval=0.01)
    return DiviPrimitiveJob(handle, never_finished)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("COMPLETED", "COMPLETED", JobStatus.DONE),
        ("COMPLETED", "RUNNING", JobStatus.RUNNING),
        ("PENDING", "RUNNING", JobStatus.RUNNING),
        ("PENDING", "COMPLETED", JobStatus.QUEUED),
        ("CANCELLED", "RUNNING", JobStatus.CANCELLED),
        ("FAILED", "CANCELLED", JobStatus.ERROR),
    ],
)
def test_status_is_the_most_telling_of_the_jobs(
    mock: requests_mock.Mocker, backend: QoroBackend, a: str, b: str, expected: JobStatus
) -> None:
    statuses(mock, **{"job-a": a, "job-b": b})
    primitive_job = job(backend)
    assert primitive_job.status() is expected
    final = {JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED}
    assert primitive_job.in_final_state() == (expected in final)


def test_cancel_cancels_only_the_jobs_still_going(
    mock: requests_mock.Mocker, backend: QoroBackend
) -> None:
    statuses(mock, **{"job-a": "COMPLETED", "job-b": "RUNNING"})
    cancel = mock.post(f"{API}/job/job-b/cancel/", json={"status": "CANCELLED"})
    job(backend).cancel()
    assert cancel.call_count == 1


def test_a_job_that_finished_meanwhile_cannot_be_cancelled(
    mock: requests_mock.Mocker, backend: QoroBackend
) -> None:
    statuses(mock, **{"job-a": "RUNNING", "job-b": "RUNNING"})
    mock.post(f"{API}/job/job-a/cancel/", status_code=409, json={"detail": "finished"})
    with pytest.raises(JobNotCancellableError):
        job(backend).cancel()


def test_result_gives_up_after_the_timeout_and_names_the_jobs(
    mock: requests_mock.Mocker, backend: QoroBackend
) -> None:
    statuses(mock, **{"job-a": "COMPLETED", "job-b": "PENDING"})
    with pytest.raises(JobTimeoutError, match="job-b"):
        job(backend).result(timeout=0.05)


def test_job_id_names_every_qoro_job(backend: QoroBackend) -> None:
    primitive_job = job(backend)
    assert primitive_job.job_id() == "job-a,job-b"
    assert primitive_job.job_ids == IDS
    assert "token-xyz" not in repr(primitive_job)
