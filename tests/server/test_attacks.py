"""Attacks on a real ``qiskit-divi serve`` process and on in-process servers: a server
killed with ``kill -9``, two servers on one database, SIGTERM in the middle of an upload,
and a job past its memory budget. Every server listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import multiprocessing
import signal
import socket
import sqlite3
from urllib.parse import urlsplit

import pytest
from qiskit import QuantumCircuit

from qiskit_divi.cli import main
from qiskit_divi.exceptions import ServerDatabaseError
from qiskit_divi.server import Limits, LocalServer

from .helpers import (
    Api,
    alive,
    bell,
    descendants,
    heavy,
    packed,
    read_answer,
    serve,
    wait_until,
)

pytestmark = pytest.mark.timeout(300)


def stop(process) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(60)
    process.stderr.close()


def test_a_second_server_on_a_database_in_use_refuses_to_start_naming_it(tmp_path, capsys):
    db = tmp_path / "jobs.sqlite3"
    with LocalServer(db_path=db) as server:
        with pytest.raises(ServerDatabaseError, match="in use by another qiskit-divi server"):
            LocalServer(db_path=db).start()
        with pytest.raises(SystemExit) as exit_info:
            main(["serve", "--token", "t", "--db", str(db)])
        assert exit_info.value.code == 2
        assert f"{db} is in use by another qiskit-divi server" in capsys.readouterr().err
        assert Api(server.url, server.token).get("").status_code == 200  # the first serves on


def test_serve_names_an_unusable_database_path_without_a_traceback(tmp_path, capsys):
    db = tmp_path / "no-such-folder" / "jobs.sqlite3"
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--token", "t", "--db", str(db)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"cannot open or create the server's database {db}" in error
    assert "Traceback" not in error


@pytest.mark.slow
def test_kill_9_of_serve_takes_its_worker_processes_along_and_a_restart_runs_the_job(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    process, url = serve(db, "--workers", "1")
    try:
        api = Api(url, "secret")
        job_id = api.submit(heavy(3, seed=2), shots=10)
        wait_until(lambda: api.status(job_id)["status"] == "RUNNING", what="running")
        # the job's worker, the processes checking circuits, multiprocessing's helper
        wait_until(lambda: len(descendants(process.pid)) >= 3, what="workers started")
        below = descendants(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(60)
        wait_until(lambda: not any(alive(pid) for pid in below), what="every worker gone")
    finally:
        stop(process)
    process, url = serve(db, "--workers", "1")
    try:
        api = Api(url, "secret")
        assert api.wait(job_id, timeout=240)["status"] == "COMPLETED"
        assert len(api.results(job_id)) == 3
    finally:
        stop(process)


def raw_post(url: str, path: str, body: bytes) -> socket.socket:
    """A POST whose headers and first bytes are sent; the rest is the caller's to send."""
    address = urlsplit(url)
    client = socket.create_connection((address.hostname, address.port), timeout=120)
    client.sendall(
        f"POST {address.path}/{path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        "Authorization: Bearer secret\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    return client


def stored(db) -> tuple[list[tuple[str, int]], int]:
    with sqlite3.connect(db) as connection:
        jobs = connection.execute("SELECT status, finalized FROM jobs").fetchall()
        circuits = connection.execute("SELECT COUNT(*) FROM circuits").fetchone()[0]
    connection.close()
    return jobs, circuits


@pytest.mark.slow
@pytest.mark.parametrize("finishes", [True, False])
def test_sigterm_during_a_slow_upload_answers_what_was_stored(tmp_path, finishes):
    db = tmp_path / "jobs.sqlite3"
    process, url = serve(db, "--body-seconds", "3")
    try:
        job_id = Api(url, "secret").init(shots=10)
        body = json.dumps({"circuits": {"b": packed(bell())}, "finalized": "true"}).encode()
        with raw_post(url, f"job/{job_id}/add_circuits/", body) as client:
            process.send_signal(signal.SIGTERM)
            if finishes:
                client.sendall(body[10:])
            answer = read_answer(client)
            process.wait(120)
    finally:
        stop(process)
    if finishes:
        assert answer.startswith("HTTP/1.1 200"), answer
        (status, finalized), circuits = stored(db)[0][0], stored(db)[1]
        assert (finalized, circuits) == (1, 1) and status in ("PENDING", "RUNNING", "COMPLETED")
    else:
        assert answer.startswith("HTTP/1.1 408"), answer
        assert stored(db) == ([("PENDING", 0)], 0)


def wide(num_qubits: int) -> QuantumCircuit:
    """A circuit whose state vector takes 16 * 2**num_qubits bytes."""
    circuit = QuantumCircuit(num_qubits, num_qubits)
    circuit.h(range(num_qubits))
    circuit.t(range(num_qubits))
    circuit.measure(range(num_qubits), range(num_qubits))
    return circuit


@pytest.mark.slow
def test_a_job_past_its_memory_budget_fails_and_the_next_runs():
    with LocalServer(limits=Limits(job_memory_mb=256), workers=1) as server:
        api = Api(server.url, server.token)
        greedy = api.submit({"wide": wide(27)}, shots=10)  # 2 GiB of state vector
        status = api.wait(greedy)
        assert status["status"] == "FAILED"
        assert "memory" in status["error"]
        honest = api.submit({"bell": bell()}, shots=10)
        assert api.wait(honest)["status"] == "COMPLETED"


@pytest.mark.slow
def test_cancel_over_http_ends_the_worker_process():
    def workers() -> set[int]:
        """Job workers of every server in this process (other tests' may still run)."""
        return {
            child.pid
            for child in multiprocessing.active_children()
            if child.name.startswith("qoro-server-worker") and child.pid is not None
        }

    others = workers()
    with LocalServer(workers=1) as server:
        api = Api(server.url, server.token)
        job_id = api.submit(heavy(3, seed=4), shots=10)
        wait_until(lambda: api.status(job_id)["status"] == "RUNNING", what="running")
        wait_until(lambda: bool(workers() - others), what="a worker")
        (pid,) = workers() - others
        assert api.post(f"job/{job_id}/cancel/").status_code == 200
        wait_until(lambda: not alive(pid), what=f"worker {pid} ended")
        assert api.status(job_id)["status"] == "CANCELLED"
