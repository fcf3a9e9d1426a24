"""QoroService, Divi's documented face of the Qoro client, against a fake service."""

from __future__ import annotations

from collections import deque
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

from qoro.fake import FakeQoro
from qoro.wire import API_URL, BELL_QASM, TOKEN


@pytest.fixture
def fake(http) -> FakeQoro:
    return FakeQoro(http)


@pytest.fixture
def service(fake) -> QoroService:
    return QoroService(TOKEN, shots=100, api_url=API_URL, dialect="2025")


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


def test_connection_test_passes_against_a_live_service(service, http):
    service.test_connection()

    assert http.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_refused_token_is_a_builtin_connection_error_without_the_token(fake):
    service = QoroService("wrong-token", api_url=API_URL)

    with pytest.raises(ConnectionError, match=r"refused the API token.*HTTP 401") as info:
        service.test_connection()

    assert isinstance(info.value, QoroConnectionError)
    assert "wrong-token" not in str(info.value)


def test_unreachable_service_is_a_builtin_connection_error(http):
    http.get(API_URL, exc=requests.ConnectionError("refused"))

    with pytest.raises(ConnectionError):
        QoroService(TOKEN, api_url=API_URL).test_connection()


def test_fetch_qpu_systems(service):
    assert [s.name for s in service.fetch_qpu_systems()] == ["qoro_maestro", "ibm_fez"]


def test_clusters_and_credits_are_the_clients(service, http):
    http.get(f"{API_URL}/credits/", json={"balance": "9.50", "total_used": "0.50"})
    http.get(
        f"{API_URL}/credits/transactions/?page=3&page_size=7",
        json={"count": 0, "total_pages": 1, "results": []},
        complete_qs=True,
    )

    assert [c.name for c in service.fetch_simulator_clusters()] == ["qoro_maestro"]
    assert service.get_credit_balance().balance == Decimal("9.50")
    assert service.get_credit_transactions(page=3, page_size=7).results == ()


def test_the_service_speaks_2026_unless_told_otherwise():
    assert QoroService(TOKEN, api_url=API_URL).client.dialect is Dialect.V2026
    assert QoroService(TOKEN, api_url=API_URL, dialect="2025").client.dialect is Dialect.V2025


# -- submitting -----------------------------------------------------------------------


def test_submit_takes_qasm_and_quantum_circuits_as_one_job(service, fake):
    job_id = service.submit_circuits({"text": BELL_QASM, "object": _bell()})

    job = fake.jobs[job_id]
    assert job.finalized and job.init["job_type"] == "SIMULATE" and job.init["shots"] == 100
    assert job.circuits["text"] == BELL_QASM
    assert Operator(
        parse_qasm("object", job.circuits["object"]).remove_final_measurements(False)
    ) == (Operator(_bell().remove_final_measurements(False)))


def test_submit_passes_job_type_tag_and_system(service, fake):
    job_id = service.submit_circuits(
        {"a": BELL_QASM}, job_type=JobType.EXECUTE, tag="run-7", system_name="ibm_fez"
    )

    init = fake.jobs[job_id].init
    assert (init["job_type"], init["tag"], init["qpu_system_name"]) == (
        "EXECUTE",
        "run-7",
        "ibm_fez",
    )


@pytest.mark.parametrize("observables", ["ZZ;XX", ["ZZ", "XX"]])
def test_estimate_job_sends_the_observables(service, fake, observables):
    job_id = service.submit_circuits(
        {"a": BELL_QASM}, job_type=JobType.ESTIMATE, observables=observables
    )

    assert fake.jobs[job_id].observables == "ZZ;XX"
    assert fake.jobs[job_id].init["job_type"] == "EXPECTATION"
    assert service.get_job_results(job_id) == [{"label": "a", "results": {"ZZ": 0.5, "XX": 0.5}}]


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
    service, http, circuits, kwargs, error, match
):
    with pytest.raises(error, match=match):
        service.submit_circuits(circuits, **kwargs)

    assert http.call_count == 0


def test_circuit_with_unbound_parameters_is_named(service, http):
    circuit = QuantumCircuit(1)
    circuit.rx(Parameter("theta"), 0)

    with pytest.raises(InvalidCircuitError, match=r"'ansatz'.*theta"):
        service.submit_circuits({"ansatz": circuit})

    assert http.call_count == 0


def test_circuit_cut_takes_one_circuit(service, fake):
    job_id = service.submit_circuits({"big": BELL_QASM}, job_type=JobType.CIRCUIT_CUT)

    assert fake.jobs[job_id].init["job_type"] == "CIRCUIT_CUT"


# -- job ids, one or many -------------------------------------------------------------


def test_status_of_one_id_or_many(service, fake):
    first = service.submit_circuits({"a": BELL_QASM})
    second = service.submit_circuits({"b": BELL_QASM})
    fake.jobs[second].statuses = deque(["RUNNING"])

    assert service.get_job_status(first) == [JobStatus.COMPLETED]
    assert service.get_job_status([first, second]) == [JobStatus.COMPLETED, JobStatus.RUNNING]


@pytest.mark.parametrize(
    ("job_ids", "error"), [([], InvalidInputError), (7, TypeError), ([7], TypeError)]
)
def test_bad_job_ids_are_refused(service, job_ids, error):
    with pytest.raises(error):
        service.get_job_status(job_ids)


def test_results_of_many_jobs_come_as_one_list_of_labels(service, fake):
    first = service.submit_circuits({"a": BELL_QASM, "b": BELL_QASM})
    second = service.submit_circuits({"c": BELL_QASM})

    results = service.get_job_results([first, second])

    assert [r["label"] for r in results] == ["a", "b", "c"]
    assert all(r["results"] == {"00": 50, "11": 50} for r in results)


def test_results_across_pages(service, fake):
    circuits = {f"c{i}": BELL_QASM for i in range(230)}
    job_id = service.submit_circuits(circuits)

    assert [r["label"] for r in service.get_job_results(job_id)] == list(circuits)


def test_results_of_a_failed_job_raise_with_the_reason(service, fake):
    job_id = service.submit_circuits({"a": BELL_QASM})
    fake.fail(job_id, "qubit 3 is broken")

    with pytest.raises(JobFailedError, match="qubit 3 is broken"):
        service.get_job_results(job_id)


def test_cancel_and_delete_take_one_id_or_many(service, fake):
    ids = [service.submit_circuits({"a": BELL_QASM}) for _ in range(2)]
    for job_id in ids:
        fake.jobs[job_id].statuses = deque(["RUNNING"])

    answers = service.cancel_job(ids)

    assert [a["status"] for a in answers] == ["CANCELLED", "CANCELLED"]
    with pytest.raises(JobCancelledError):
        service.get_job_results(ids[0])
    with pytest.raises(JobNotCancellableError):
        service.cancel_job(ids[0])
    service.delete_job(ids[0])
    service.delete_job(ids[1:])
    assert fake.jobs == {}


# -- polling --------------------------------------------------------------------------


def test_poll_once_without_looping(service, fake, virtual_time):
    job_id = service.submit_circuits({"a": BELL_QASM})
    fake.jobs[job_id].statuses = deque(["RUNNING", "COMPLETED"])

    assert service.poll_job_status(job_id) == [JobStatus.RUNNING]
    assert virtual_time == []


def test_poll_until_complete_reports_each_round(service, fake, virtual_time):
    ids = [service.submit_circuits({"a": BELL_QASM}) for _ in range(2)]
    fake.jobs[ids[0]].statuses = deque(["PENDING", "RUNNING", "COMPLETED"])
    fake.jobs[ids[1]].statuses = deque(["RUNNING", "FAILED"])
    rounds = []

    final = service.poll_job_status(ids, loop_until_complete=True, poll_callback=rounds.append)

    assert final == [JobStatus.COMPLETED, JobStatus.FAILED]
    assert rounds == [
        [JobStatus.PENDING, JobStatus.RUNNING],
        [JobStatus.RUNNING, JobStatus.FAILED],
        [JobStatus.COMPLETED, JobStatus.FAILED],
    ]
    assert virtual_time[0] == service.polling_interval


def test_poll_times_out(service, fake, virtual_time):
    job_id = service.submit_circuits({"a": BELL_QASM})
    fake.jobs[job_id].statuses = deque(["RUNNING"])

    with pytest.raises(JobTimeoutError, match=job_id):
        service.poll_job_status(job_id, loop_until_complete=True, timeout=20)

    assert sum(virtual_time) == pytest.approx(20)


def test_progress_bar_only_when_asked_or_interactive(service, fake, virtual_time, capsys):
    job_id = service.submit_circuits({"a": BELL_QASM})

    service.poll_job_status(job_id, loop_until_complete=True)
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest

    service.poll_job_status(job_id, loop_until_complete=True, progress=True)
    err = capsys.readouterr().err
    assert "Qoro jobs" in err and "1/1" in err and "COMPLETED=1" in err
