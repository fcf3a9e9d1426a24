"""Fault injection over real sockets: which faults hit which endpoint, reproducibly."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
import requests

from qiskit_divi.exceptions import InvalidInputError
from qiskit_divi.qoro.protocol import JobType
from qiskit_divi.server import Fault, FaultPlan, LocalServer
from qiskit_divi.server.faults import faults_for
from qiskit_divi.server.store import Store

from .helpers import Api, bell, packed

pytestmark = pytest.mark.timeout(120)

ALWAYS = FaultPlan(rate=1.0, seed=7, retry_after=0)


def outcome(call) -> int | str:
    """The status code of a request, or ``"dropped"`` when the connection was cut."""
    try:
        return call().status_code
    except requests.ConnectionError:
        return "dropped"


def count_rows(server: LocalServer, table: str) -> int:
    db = sqlite3.connect(server.db_path)
    try:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/api/job/init/", {Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE}),
        ("POST", "/api/job/x/cancel/", {Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE}),
        (
            "DELETE",
            "/api/job/x",
            {Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE, Fault.BAD_GATEWAY, Fault.DROPPED},
        ),
        ("POST", "/api/job/x/add_circuits/", set(Fault)),
        ("GET", "/api/job/x/status/", set(Fault)),
    ],
)
def test_each_endpoint_meets_only_faults_a_correct_client_can_recover_from(method, path, allowed):
    assert set(faults_for(method, path)) == allowed


def test_a_fault_rate_outside_0_to_1_is_refused():
    with pytest.raises(InvalidInputError, match="fault rate"):
        FaultPlan(rate=1.5)


def test_job_init_is_only_ever_refused_outright_and_creates_nothing():
    with LocalServer(faults=ALWAYS) as server:
        api = Api(server.url, server.token)
        answers = [api.post("job/init/", {"job_type": "SIMULATE", "shots": 5}) for _ in range(40)]
        assert {a.status_code for a in answers} == {429, 503}
        assert {a.headers["Retry-After"] for a in answers} == {"0"}
        assert all("injected fault" in a.json()["detail"] for a in answers)
        assert count_rows(server, "jobs") == 0


def test_reads_meet_every_fault_including_dropped_connections():
    with LocalServer(faults=ALWAYS) as server:
        api = Api(server.url, server.token)
        seen = Counter(outcome(lambda: api.get("qpusystem/")) for _ in range(60))
        assert set(seen) == {429, 503, 502, "dropped"}
        assert sum(server.injected_faults.values()) == 60


def test_the_same_seed_deals_the_same_faults():
    def run() -> list[int | str]:
        with LocalServer(faults=FaultPlan(rate=0.5, seed=3)) as server:
            api = Api(server.url, server.token)
            return [outcome(lambda: api.get("simulatorcluster/")) for _ in range(30)]

    first = run()
    assert first == run()
    assert 200 in first and len(set(first)) > 2


def test_a_chunk_whose_answer_is_lost_is_stored_once_when_sent_again(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    store = Store(db)  # a job made beforehand: job/init/ would only be refused at rate 1
    job_id = store.create_job(
        store.owner("test-token"),
        tag="t",
        job_type=JobType.SIMULATE,
        system="qoro_maestro",
        shots=10,
    )
    store.close()
    chunk = {"circuits": {"a": packed(bell()), "b": packed(bell())}, "finalized": "false"}
    with LocalServer(db_path=db, faults=ALWAYS) as server:
        api = Api(server.url, server.token)
        for _ in range(30):
            outcome(lambda: api.post(f"job/{job_id}/add_circuits/", chunk))
        lost_after_running = (
            server.injected_faults[Fault.BAD_GATEWAY_AFTER]
            + (server.injected_faults[Fault.DROPPED_AFTER])
        )
        assert lost_after_running >= 2  # the chunk was stored, then sent again
        assert count_rows(server, "circuits") == 2
