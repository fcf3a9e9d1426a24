"""QoroService, Divi's documented face of the Qoro client: whole workflows against the
local server (seeded, so its counts are reproducible), and what must be exact about
requests (nothing sent, status polling) under requests-mock."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
import requests
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator

from qiskit_divi.backends import JobFailedError, JobStatus, JobType, QoroService
from qiskit_divi.circuits import parse_qasm
from qiskit_divi.exceptions import (
    InvalidCircuitError,
    InvalidInputError,
    JobCancelledError,
    JobNotCancellableError,
    JobTimeoutError,
    QoroConnectionError,
)
from qiskit_divi.qoro.protocol import Dialect
from qiskit_divi.server import DEFAULT_SYSTEMS

from qoro.wire import API_URL, JOB_ID, TOKEN, status_body
from server.helpers import Api, stored_jobs
from simulator.circuits import BELL_QASM, assert_distribution


@pytest.fixture
def service(server) -> QoroService:
    """A service of the local server, polled briskly."""
    return QoroService(
        server.token, shots=100, polling_interval=0.02, api_url=server.url, dialect="2025"
    )


@pytest.fixture
def mocked(http) -> QoroService:
    """A service of the mocked address: any request the test did not mock fails it."""
    return QoroService(TOKEN, shots=100, api_url=API_URL, dialect="2025")


def finished(service: QoroService, *job_ids: str) -> None:
    service.poll_job_status(list(job_ids), loop_until_complete=True, progress=False)


def pending(server) -> str:
    """A job the server holds PENDING: created, and never given its circuits."""
    return Api(server.url, server.token).init()


def assert_bell_counts(counts: dict[str, int], shots: int) -> None:
    assert sum(counts.values()) == shots
    assert_distribution(counts, {"00": 0.5, "11": 0.5})


def _bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


# -- construction and connection ------------------------------------------------------


def test_settings_are_checked_and_the_repr_hides_the_token():
    service = QoroService(TOKEN, shots=10, polling_interval=0.5, api_url=API_URL)

    assert (service.shots, service.polling_interval) == (10, 0.5)
    assert TOKEN not in repr(service) and API_URL in repr(service)
    with pytest.raises(InvalidInputError, match="shots"):
        QoroService(TOKEN, shots=0, api_url=API_URL)
    with pytest.raises(InvalidInputError, match="polling_interval"):
        QoroService(TOKEN, polling_interval=0, api_url=API_URL)


def test_connection_test_passes_against_a_live_service(mocked, http):
    http.get(API_URL, json={})

    mocked.test_connection()

    assert http.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_connection_test_passes_against_the_local_server(service, sent):
    service.test_connection()

    assert [(r.method, r.url) for r in sent] == [("GET", service.client.api_url)]


def test_refused_token_is_a_builtin_connection_error_without_the_token(server):
    service = QoroService("wrong-token", api_url=server.url)

    with pytest.raises(ConnectionError, match=r"refused the API token.*HTTP 401") as info:
        service.test_connection()

    assert isinstance(info.value, QoroConnectionError)
    assert "wrong-token" not in str(info.value)


def test_unreachable_service_is_a_builtin_connection_error(http):
    http.get(API_URL, exc=requests.ConnectionError("refused"))

    with pytest.raises(ConnectionError):
        QoroService(TOKEN, api_url=API_URL).test_connection()


def test_fetch_qpu_systems(service):
    qpu_systems = [s.name for s in DEFAULT_SYSTEMS if s.fake_backend is not None]
    assert [s.name for s in service.fetch_qpu_systems()] == qpu_systems == ["fake_manila"]


def test_clusters_are_the_servers(service):
    clusters = [s.name for s in DEFAULT_SYSTEMS if s.fake_backend is None]
    assert [c.name for c in service.fetch_simulator_clusters()] == clusters == ["qoro_maestro"]


def test_credits_are_the_clients(mocked, http):
    http.get(f"{API_URL}/credits/", json={"balance": "9.50", "total_used": "0.50"})
    http.get(
        f"{API_URL}/credits/transactions/?page=3&page_size=7",
        json={"count": 0, "total_pages": 1, "results": []},
        complete_qs=True,
    )

    assert mocked.get_credit_balance().balance == Decimal("9.50")
    assert mocked.get_credit_transactions(page=3, page_size=7).results == ()


def test_the_service_speaks_2026_unless_told_otherwise():
    assert QoroService(TOKEN, api_url=API_URL).client.dialect is Dialect.V2026
    assert QoroService(TOKEN, api_url=API_URL, dialect="2025").client.dialect is Dialect.V2025


# -- submitting -----------------------------------------------------------------------


def test_submit_takes_qasm_and_quantum_circuits_as_one_job(service, server):
    job_id = service.submit_circuits({"text": BELL_QASM, "object": _bell()})

    job = stored_jobs(server)[job_id]
    assert job["finalized"] and job["job_type"] == "SIMULATE" and job["shots"] == 100
    assert job["circuits"]["text"] == BELL_QASM
    assert Operator(
        parse_qasm("object", job["circuits"]["object"]).remove_final_measurements(False)
    ) == (Operator(_bell().remove_final_measurements(False)))
    finished(service, job_id)
    for result in service.get_job_results(job_id):
        assert_bell_counts(result["results"], 100)


def test_submit_passes_job_type_tag_and_system(service, server):
    job_id = service.submit_circuits(
        {"a": BELL_QASM}, job_type=JobType.EXECUTE, tag="run-7", system_name="fake_manila"
    )

    job = stored_jobs(server)[job_id]
    assert (job["job_type"], job["tag"], job["system"]) == ("EXECUTE", "run-7", "fake_manila")


@pytest.mark.parametrize("observables", ["ZZ;XX", ["ZZ", "XX"]])
def test_estimate_job_sends_the_observables(service, server, observables):
    job_id = service.submit_circuits(
        {"a": BELL_QASM}, job_type=JobType.ESTIMATE, observables=observables
    )

    job = stored_jobs(server)[job_id]
    assert job["observables"] == "ZZ;XX" and job["job_type"] == "EXPECTATION"
    finished(service, job_id)
    # The Bell state is a +1 eigenstate of both ZZ and XX.
    ((label, values),) = ((r["label"], r["results"]) for r in service.get_job_results(job_id))
    assert label == "a" and values == pytest.approx({"ZZ": 1.0, "XX": 1.0}, abs=1e-9)


@pytest.mark.parametrize(
    ("circuits", "kwargs", "error", "match"),
    [
        (
            {"ok": BELL_QASM, "bad": "OPENQASM 2.0; qreg q[1]; hh q[0];"},
            {},
            InvalidCircuitError,
            "'bad'",
        ),
        (
            {"wide": BELL_QASM},
            {"job_type": JobType.ESTIMATE, "observables": "ZZZ"},
            InvalidCircuitError,
            "'wide': has 2 qubits",
        ),
        (
            {"a": BELL_QASM},
            {"job_type": JobType.ESTIMATE, "observables": "ZQ"},
            InvalidInputError,
            "'ZQ'",
        ),
        (
            {"a": BELL_QASM},
            {"job_type": JobType.ESTIMATE, "observables": "ZZ;Z"},
            InvalidInputError,
            "acts on 1",
        ),
        ({"a": BELL_QASM}, {"job_type": JobType.ESTIMATE}, InvalidInputError, "needs observables"),
        (
            {"a": BELL_QASM, "b": BELL_QASM},
            {"job_type": JobType.CIRCUIT_CUT},
            InvalidInputError,
            "exactly one",
        ),
        ({}, {}, InvalidInputError, "empty"),
        ({"a": 42}, {}, TypeError, "'a'"),
    ],
)
def test_bad_submissions_fail_before_anything_is_sent(
    mocked, http, circuits, kwargs, error, match
):
    with pytest.raises(error, match=match):
        mocked.submit_circuits(circuits, **kwargs)

    assert http.call_count == 0


def test_circuit_with_unbound_parameters_is_named(mocked, http):
    circuit = QuantumCircuit(1)
    circuit.rx(Parameter("theta"), 0)
    circuit.measure_all()

    with pytest.raises(InvalidCircuitError, match=r"'ansatz'.*theta"):
        mocked.submit_circuits({"ansatz": circuit})

    assert http.call_count == 0


def test_circuit_cut_takes_one_circuit(service, server):
    job_id = service.submit_circuits({"big": BELL_QASM}, job_type=JobType.CIRCUIT_CUT)

    assert stored_jobs(server)[job_id]["job_type"] == "CIRCUIT_CUT"


# -- job ids, one or many -------------------------------------------------------------


def test_status_of_one_id_or_many(service, server):
    first = service.submit_circuits({"a": BELL_QASM})
    second = pending(server)
    finished(service, first)

    assert service.get_job_status(first) == [JobStatus.COMPLETED]
    assert service.get_job_status([first, second]) == [JobStatus.COMPLETED, JobStatus.PENDING]


@pytest.mark.parametrize(
    ("job_ids", "error"), [([], InvalidInputError), (7, TypeError), ([7], TypeError)]
)
def test_bad_job_ids_are_refused(service, job_ids, error):
    with pytest.raises(error):
        service.get_job_status(job_ids)


def test_results_of_many_jobs_come_as_one_list_of_labels(service):
    first = service.submit_circuits({"a": BELL_QASM, "b": BELL_QASM})
    second = service.submit_circuits({"c": BELL_QASM})
    finished(service, first, second)

    results = service.get_job_results([first, second])

    assert [r["label"] for r in results] == ["a", "b", "c"]
    for result in results:
        assert_bell_counts(result["results"], 100)


def test_results_across_pages(service):
    circuits = {f"c{i}": BELL_QASM for i in range(230)}
    job_id = service.submit_circuits(circuits)
    finished(service, job_id)

    assert [r["label"] for r in service.get_job_results(job_id)] == list(circuits)


def test_results_of_a_failed_job_raise_with_the_reason(service):
    """The server's engine cannot hold 40 qubits, and says so."""
    wide = QuantumCircuit(40, 40)
    wide.h(range(40))
    wide.t(range(40))
    wide.measure(range(40), range(40))
    job_id = service.submit_circuits({"a": BELL_QASM, "wide": wide})
    finished(service, job_id)

    with pytest.raises(JobFailedError, match="40 qubits"):
        service.get_job_results(job_id)


def test_cancel_and_delete_take_one_id_or_many(service, server):
    ids = [pending(server) for _ in range(2)]

    answers = service.cancel_job(ids)

    assert [a["status"] for a in answers] == ["CANCELLED", "CANCELLED"]
    with pytest.raises(JobCancelledError):
        service.get_job_results(ids[0])
    with pytest.raises(JobNotCancellableError):
        service.cancel_job(ids[0])
    service.delete_job(ids[0])
    service.delete_job(ids[1:])
    assert not set(ids) & set(stored_jobs(server))


# -- polling --------------------------------------------------------------------------


def script_statuses(http, job_id: str, *statuses: str) -> None:
    """The job answers these statuses, one per poll; the last one stays."""
    http.get(f"{API_URL}/job/{job_id}/status/", [{"json": status_body(s)} for s in statuses])


SECOND_JOB = JOB_ID.replace("7c0e", "8d1f")


def test_poll_once_without_looping(mocked, http, virtual_time):
    script_statuses(http, JOB_ID, "RUNNING", "COMPLETED")

    assert mocked.poll_job_status(JOB_ID) == [JobStatus.RUNNING]
    assert virtual_time == []


def test_poll_until_complete_reports_each_round(mocked, http, virtual_time):
    ids = [JOB_ID, SECOND_JOB]
    script_statuses(http, ids[0], "PENDING", "RUNNING", "COMPLETED")
    script_statuses(http, ids[1], "RUNNING", "FAILED")
    rounds = []

    final = mocked.poll_job_status(ids, loop_until_complete=True, poll_callback=rounds.append)

    assert final == [JobStatus.COMPLETED, JobStatus.FAILED]
    assert rounds == [
        [JobStatus.PENDING, JobStatus.RUNNING],
        [JobStatus.RUNNING, JobStatus.FAILED],
        [JobStatus.COMPLETED, JobStatus.FAILED],
    ]
    assert virtual_time[0] == mocked.polling_interval


def test_poll_times_out(mocked, http, virtual_time):
    script_statuses(http, JOB_ID, "RUNNING")

    with pytest.raises(JobTimeoutError, match=JOB_ID):
        mocked.poll_job_status(JOB_ID, loop_until_complete=True, timeout=20)

    assert sum(virtual_time) == pytest.approx(20)


def test_progress_bar_only_when_asked_or_interactive(service, capsys):
    job_id = service.submit_circuits({"a": BELL_QASM})

    service.poll_job_status(job_id, loop_until_complete=True)
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest

    service.poll_job_status(job_id, loop_until_complete=True, progress=True)
    err = capsys.readouterr().err
    assert "Qoro jobs" in err and "1/1" in err and "COMPLETED=1" in err


# -- one job through the execution core ---------------------------------------------------


def _rotation() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.rx(Parameter("theta"), 0)
    circuit.measure(0, 0)
    return circuit


def test_a_plan_is_checked_as_a_submission_and_sends_nothing(mocked, http):
    plan = mocked.submit_circuits(
        {"a": BELL_QASM, "b": _bell()}, shots={"a": 10, "b": 10}, dry_run=True
    )

    (job,) = plan.jobs
    assert job.labels == ("a", "b") and job.shots == {"a": 10, "b": 10}
    with pytest.raises(InvalidCircuitError, match="'bad'"):
        mocked.submit_circuits({"bad": "OPENQASM 2.0; qreg q[1]; hh q[0];"}, dry_run=True)
    assert http.call_count == 0


def test_terms_travel_and_come_back_in_the_users_order(service, server):
    job_id = service.submit_circuits({"a": BELL_QASM}, JobType.ESTIMATE, observables="XX;ZZ;IY")

    assert stored_jobs(server)[job_id]["observables"] == "XX;ZZ;IY"
    finished(service, job_id)
    (entry,) = service.get_job_results(job_id)
    assert list(entry["results"]) == ["XX", "ZZ", "IY"]
    assert entry["results"]["XX"] == pytest.approx(1.0) and entry["results"]["IY"] == 0


def test_bound_parameter_sets_travel_under_the_users_row_labels(service, server):
    circuit = _rotation()

    job_id = service.submit_parameter_sets(circuit, {"z": [0.0], "a": [1.0]}, shots=30)

    job = stored_jobs(server)[job_id]
    assert list(job["circuits"]) == ["z", "a"] and job["shots"] == 30
    travelled = parse_qasm("a", job["circuits"]["a"]).remove_final_measurements(False)
    bound = circuit.assign_parameters([1.0]).remove_final_measurements(False)
    assert Operator(travelled) == Operator(bound)


def test_template_rows_travel_under_the_users_row_labels(server, sent):
    service = QoroService(server.token, polling_interval=0.02, api_url=server.url)  # 2026
    circuit = _rotation()
    circuit.remove_final_measurements()

    job_id = service.submit_parameter_sets(
        circuit, {"z": [0.0], "a": [1.0]}, JobType.ESTIMATE, observables="Z"
    )

    (upload,) = [r.body for r in sent if r.url.endswith("/add_circuits/")]
    assert b'"parameter_sets"' in upload and b'"circuits"' not in upload  # one template
    finished(service, job_id)
    values = {e["label"]: e["results"]["Z"] for e in service.get_job_results(job_id)}
    assert values == {"z": pytest.approx(1.0), "a": pytest.approx(math.cos(1.0))}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"observables": "ZZ"}, "only apply to ESTIMATE"),
        ({"job_type": JobType.ESTIMATE, "observables": {"a": "ZZ", "b": "XX"}}, "2025 wire"),
        ({"shots": {"a": 10, "b": 0}}, "shots of 'b'"),
        ({"shots": {"a": 10}}, r"shots by label.*\['b'\]"),
        ({"shots": {"a": 10, "b": 20}}, "dialect='2026'"),
    ],
)
def test_what_one_job_cannot_carry_is_refused_before_sending(mocked, http, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        mocked.submit_circuits({"a": BELL_QASM, "b": BELL_QASM}, **kwargs)

    assert http.call_count == 0


def test_a_sampled_circuit_must_measure_something(mocked, http):
    with pytest.raises(InvalidCircuitError, match=r"'idle'.*measures nothing"):
        mocked.submit_circuits({"idle": QuantumCircuit(1)})

    assert http.call_count == 0
