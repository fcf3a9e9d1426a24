"""QoroBackend.run and QoroJob against requests-mock: the exact requests, every status,
and how the service's answers become a Qiskit Result."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2
from qiskit.providers import JobStatus as QiskitJobStatus
from qiskit.result import Result

from qiskit_divi.exceptions import (
    CorruptResultError,
    JobCancelledError,
    JobFailedError,
    JobNotCancellableError,
    JobTimeoutError,
)
from qiskit_divi.execution import SampleWork
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.execution import retrieve
from qiskit_divi.qoro.job import ExperimentHeader, QoroJob
from qiskit_divi.qoro.rules import submission_label

from .wire import (
    JOB_ID,
    TOKEN,
    histogram,
    mock_finished,
    mock_submission,
    results_page,
    submitted_circuits,
    url,
)
from simulator.circuits import ghz

STATUS_URL = url(f"job/{JOB_ID}/status/")


def known_by_id(client: QoroClient, job_id: str = JOB_ID) -> QoroJob:
    """The job as ``DiviProvider.retrieve_job`` rebuilds it from its id (which asks the
    service for its status once)."""
    return QoroJob(None, retrieve(client, job_id, polling_interval=0.01))


# -- what run() sends


def test_run_sends_one_init_and_one_upload_exactly_as_the_protocol_says(
    mock, cluster_backend, bell
):
    mock_submission(mock)
    circuits = [bell, ghz(3, "ghz")]
    job = cluster_backend.run(circuits, shots=100)

    assert job.job_id() == JOB_ID
    init, upload = mock.request_history
    assert (init.method, init.url) == ("POST", url("job/init/"))
    assert init.json() == {
        "shots": 100,
        "tag": "default",
        "job_type": "SIMULATE",
        "qpu_system_name": "qoro_maestro",
        "use_packing": False,
    }
    assert upload.url == url(f"job/{JOB_ID}/add_circuits/")
    body = upload.json()
    assert {k: v for k, v in body.items() if k != "circuits"} == {
        "shots": 100,
        "mode": "append",
        "finalized": "true",
    }
    assert submitted_circuits(mock) == {
        "0_bell": qasm2.dumps(bell),
        "1_ghz": qasm2.dumps(circuits[1]),
    }
    for request in (init, upload):
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Content-Type"] == "application/json"


def test_a_qpu_backend_sends_execute_jobs_to_its_system(mock, qpu_backend, bell):
    mock_submission(mock)
    qpu_backend.run(bell, tag="calibration")
    init = mock.request_history[0].json()
    assert (init["job_type"], init["qpu_system_name"]) == ("EXECUTE", "qoro_qpu")
    assert (init["tag"], init["shots"]) == ("calibration", 1024)


def test_the_job_type_can_be_overridden_per_run(mock, qpu_backend, bell):
    mock_submission(mock)
    qpu_backend.run(bell, job_type="SIMULATE")
    assert mock.request_history[0].json()["job_type"] == "SIMULATE"


def test_run_options_do_not_change_the_backend_defaults(mock, cluster_backend, bell):
    mock_submission(mock)
    cluster_backend.run(bell, shots=7)
    assert cluster_backend.options.shots == 1024


# -- statuses


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("PENDING", QiskitJobStatus.QUEUED),
        ("RUNNING", QiskitJobStatus.RUNNING),
        ("COMPLETED", QiskitJobStatus.DONE),
        ("FAILED", QiskitJobStatus.ERROR),
        ("CANCELLED", QiskitJobStatus.CANCELLED),
    ],
)
def test_status_maps_every_qoro_status_onto_qiskits(mock, client, wire, expected):
    mock.get(STATUS_URL, json={"status": wire})
    assert known_by_id(client).status() is expected


def test_result_waits_through_pending_and_running(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=100)
    mock.get(
        STATUS_URL,
        [{"json": {"status": s}} for s in ("PENDING", "PENDING", "RUNNING", "COMPLETED")],
    )
    results = {"0_bell": histogram({"00": 48, "11": 52})}
    mock.get(url(f"job/{JOB_ID}/resultsV2/?limit=100&offset=0"), json=results_page(results))

    assert job.result().get_counts() == {"00": 48, "11": 52}
    assert job.status() is QiskitJobStatus.DONE
    statuses = [r for r in mock.request_history if r.url == STATUS_URL]
    assert len(statuses) >= 4


def test_a_failed_job_raises_with_the_servers_reason(mock, client):
    mock.get(STATUS_URL, json={"status": "FAILED", "error": "circuit 0_bell: unknown gate foo"})
    job = known_by_id(client)
    with pytest.raises(JobFailedError, match="unknown gate foo") as caught:
        job.result()
    assert caught.value.job_id == JOB_ID
    assert job.status() is QiskitJobStatus.ERROR


def test_a_cancelled_job_has_no_result(mock, client):
    mock.get(STATUS_URL, json={"status": "CANCELLED"})
    with pytest.raises(JobCancelledError):
        known_by_id(client).result()


def test_a_timeout_leaves_the_job_retrievable(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=10)
    mock.get(STATUS_URL, json={"status": "RUNNING"})
    with pytest.raises(JobTimeoutError, match=JOB_ID) as caught:
        job.result(timeout=0.05, wait=0.01)
    assert caught.value.job_ids == [JOB_ID]

    mock_finished(mock, {"0_bell": histogram({"00": 10})})
    assert job.result(timeout=5).get_counts() == {"00": 10}


def test_the_backend_timeout_option_is_the_default_wait(mock, client, bell):
    from qiskit_divi.qoro.backend import QoroBackend

    from .wire import CLUSTER

    backend = QoroBackend(CLUSTER, client, timeout=0.05, polling_interval=0.01)
    mock_submission(mock)
    job = backend.run(bell)
    mock.get(STATUS_URL, json={"status": "PENDING"})
    with pytest.raises(JobTimeoutError):
        job.result()


def test_cancel_asks_the_service(mock, client):
    mock.get(STATUS_URL, json={"status": "RUNNING"})
    cancel = mock.post(
        url(f"job/{JOB_ID}/cancel/"),
        json={"status": "CANCELLED", "job_id": JOB_ID, "circuits_cancelled": 2},
    )
    assert known_by_id(client).cancel() is True
    assert cancel.call_count == 1


def test_cancelling_a_finished_job_is_an_error(mock, client):
    mock.get(STATUS_URL, json={"status": "COMPLETED"})
    mock.post(url(f"job/{JOB_ID}/cancel/"), status_code=409, json={"detail": "job is final"})
    with pytest.raises(JobNotCancellableError):
        known_by_id(client).cancel()


def test_submit_is_refused_because_run_already_submitted(mock, client):
    from qiskit.providers import JobError

    mock.get(STATUS_URL, json={"status": "RUNNING"})
    with pytest.raises(JobError):
        known_by_id(client).submit()


# -- the Result


def registered_circuit() -> QuantumCircuit:
    qc = QuantumCircuit(
        QuantumRegister(3, "q"), ClassicalRegister(2, "a"), ClassicalRegister(1, "b")
    )
    qc.name = "split"
    qc.metadata = {"angle": 0.5}
    qc.x(0)
    qc.measure([0, 1, 2], [0, 1, 2])
    return qc


def test_results_are_matched_by_label_and_keyed_by_register(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run([registered_circuit(), bell], shots=10)
    # The service answers in another order: the result must follow submission order.
    mock_finished(
        mock,
        {
            "1_bell": histogram({"00": 4, "11": 6}),
            "0_split": histogram({"001": 7, "101": 3}),
        },
    )
    result = job.result()

    assert isinstance(result, Result)
    assert result.get_counts(0) == {"0 01": 7, "1 01": 3}
    assert result.get_counts("bell") == {"00": 4, "11": 6}
    assert [r.header["name"] for r in result.results] == ["split", "bell"]
    assert result.results[0].header["metadata"] == {"angle": 0.5}
    assert [r.shots for r in result.results] == [10, 10]
    assert (result.job_id, result.backend_name, result.success) == (JOB_ID, "qoro_maestro", True)
    assert result.metadata == {"qoro_job_id": JOB_ID}


def test_results_are_fetched_across_pages(mock, cluster_backend):
    circuits = [ghz(2, f"c{i}") for i in range(150)]
    mock_submission(mock)
    job = cluster_backend.run(circuits, shots=5)
    labels = list(submitted_circuits(mock))
    values = {label: histogram({format(i % 4, "02b"): 5}) for i, label in enumerate(labels)}
    mock.get(STATUS_URL, json={"status": "COMPLETED"})
    first, rest = dict(list(values.items())[:100]), dict(list(values.items())[100:])
    base = url(f"job/{JOB_ID}/resultsV2/")
    mock.get(f"{base}?limit=100&offset=0", json=results_page(first, f"{base}?offset=100"))
    mock.get(f"{base}?limit=100&offset=100", json=results_page(rest))

    counts = job.result().get_counts()
    assert counts == [{format(i % 4, "02b"): 5} for i in range(150)]


def test_memory_lists_every_counted_shot_in_a_fixed_order(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=100, memory=True)
    mock_finished(mock, {"0_bell": histogram({"00": 30, "01": 1, "11": 69})})

    memory = job.result().get_memory(0)
    assert Counter(memory) == {"00": 30, "01": 1, "11": 69}
    label = submission_label(0, bell)
    work = [SampleWork(bell, 100, label=label)]
    handle = cluster_backend.execution.retrieve_sample(JOB_ID, work)
    again = QoroJob(None, handle, headers=[ExperimentHeader.of(label, bell)])
    assert again.result().get_memory(0) == memory


def test_results_without_memory_carry_none(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=10)
    mock_finished(mock, {"0_bell": histogram({"00": 10})})
    assert "memory" not in job.result().data(0)


def test_a_result_is_kept_once_fetched(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=10)
    mock_finished(mock, {"0_bell": histogram({"11": 10})})
    first = job.result()
    calls = mock.call_count
    assert job.result() is first
    assert job.status() is QiskitJobStatus.DONE
    assert mock.call_count == calls


def test_a_missing_or_stray_label_is_corruption_not_a_wrong_result(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run([bell, ghz(2, "pair")], shots=10)
    mock_finished(mock, {"0_bell": histogram({"00": 10}), "7_other": histogram({"00": 10})})
    with pytest.raises(
        CorruptResultError, match=r"missing \['1_pair'\].*unexpected \['7_other'\]"
    ):
        job.result()


def test_many_stray_labels_are_named_a_few_at_a_time(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=10)
    stray = {f"{i}_x": histogram({"00": 10}) for i in range(1, 101)}
    mock_finished(mock, {"0_bell": histogram({"00": 10}), **stray})
    with pytest.raises(CorruptResultError, match=r"'5_x'\] and 95 more\)$"):
        job.result()


def test_counts_that_are_not_the_shots_asked_are_corruption(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=1000)
    mock_finished(mock, {"0_bell": histogram({"00": 3, "11": 4})})
    with pytest.raises(CorruptResultError, match=r"'0_bell' counts 7 shots, but 1000 were asked"):
        job.result()


def test_a_huge_count_with_memory_is_refused_before_any_shot_is_listed(
    mock, cluster_backend, bell
):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=1024, memory=True)
    # 2**40 shots listed one by one would take 8 TiB.
    mock_finished(mock, {"0_bell": histogram({"00": 2**40})})
    with pytest.raises(CorruptResultError, match=r"counts 1099511627776 shots, but 1024"):
        job.result()


def test_a_job_known_by_id_reports_the_shots_counted(mock, client):
    mock_finished(mock, {"0_bell": histogram({"00": 3, "11": 4})})
    assert known_by_id(client).result().results[0].shots == 7


def test_outcomes_wider_than_the_circuit_are_corruption(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell, shots=10)
    mock_finished(mock, {"0_bell": histogram({"000": 10})})
    with pytest.raises(CorruptResultError, match=r"'0_bell'.*\[3\] bits, expected 2"):
        job.result()


# -- jobs known only by id (as DiviProvider.retrieve_job makes them)


def test_a_job_known_by_id_restores_order_and_names_from_the_labels(mock, client):
    mock_finished(
        mock,
        {"1_second": histogram({"11": 3}), "0_first": histogram({"01": 3})},
    )
    result = known_by_id(client).result()
    assert [r.header["name"] for r in result.results] == ["first", "second"]
    assert result.get_counts() == [{"01": 3}, {"11": 3}]
    assert result.backend_name is None


def test_foreign_labels_keep_the_services_order(mock, client):
    mock_finished(mock, {"zeta": histogram({"1": 2}), "alpha": histogram({"0": 2})})
    result = known_by_id(client).result()
    assert [r.header["name"] for r in result.results] == ["zeta", "alpha"]


def test_expectation_values_are_kept_as_they_came(mock, client):
    mock_finished(mock, {"0_ansatz": {"ZZ": 0.5, "XI": -0.25}})
    result = known_by_id(client).result()
    assert result.data(0)["expectation_values"] == {"ZZ": 0.5, "XI": -0.25}


# -- the token stays out of reprs and pickles


def test_the_token_is_not_in_a_jobs_repr(mock, cluster_backend, bell):
    mock_submission(mock)
    job = cluster_backend.run(bell)
    assert TOKEN not in repr(job) and JOB_ID in repr(job)


def test_a_pickled_job_holds_no_token_and_works_with_the_environments(
    mock, cluster_backend, bell, monkeypatch
):
    mock_submission(mock)
    data = pickle.dumps(cluster_backend.run(bell, shots=10))
    assert TOKEN.encode() not in data

    monkeypatch.setenv("QORO_API_KEY", "token-from-env")
    job = pickle.loads(data)
    mock_finished(mock, {"0_bell": histogram({"00": 4, "11": 6})})
    assert job.result().get_counts() == {"00": 4, "11": 6}
    assert mock.last_request.headers["Authorization"] == "Bearer token-from-env"
    assert job.backend().name == "qoro_maestro"
