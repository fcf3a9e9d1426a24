"""Helpers for tests that talk to the local server: a plain-HTTP client, circuits to send,
the jobs as the server stored them, and Python code run against it in a new process."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests
from qiskit import QuantumCircuit, qasm2

from qiskit_divi.qoro.codec import pack_circuit, unpack_circuit
from qiskit_divi.qoro.protocol import API_KEY_ENV, API_URL_ENV
from qiskit_divi.server import TOKENS_ENV, LocalServer


class Api:
    """Plain ``requests`` calls against a server's API, as one token."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(f"{self.url}/{path}", timeout=30, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(f"{self.url}/{path}", json=body, timeout=30, **kwargs)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(f"{self.url}/{path}", timeout=30)

    def init(self, job_type: str = "SIMULATE", system: str = "qoro_maestro", **extra: Any) -> str:
        body = {"tag": "test", "job_type": job_type, "qpu_system_name": system, **extra}
        answer = self.post("job/init/", body)
        assert answer.status_code == 201, answer.text
        return answer.json()["job_id"]

    def add(
        self, job_id: str, circuits: Mapping[str, Any], *, final: bool = True, **extra: Any
    ) -> requests.Response:
        body = {
            "circuits": {label: packed(c) for label, c in circuits.items()},
            "mode": "append",
            "finalized": "true" if final else "false",
            **extra,
        }
        return self.post(f"job/{job_id}/add_circuits/", body)

    def submit(
        self,
        circuits: Mapping[str, Any],
        job_type: str = "SIMULATE",
        system: str = "qoro_maestro",
        **extra: Any,
    ) -> str:
        if job_type != "EXPECTATION":
            extra.setdefault("shots", 1000)
        job_id = self.init(job_type, system)
        answer = self.add(job_id, circuits, **extra)
        assert answer.status_code == 200, answer.text
        return job_id

    def status(self, job_id: str) -> dict[str, Any]:
        answer = self.get(f"job/{job_id}/status/")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        """Poll until the job is final (a poll with a deadline, not a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while (status := self.status(job_id))["status"] in ("PENDING", "SCHEDULED", "RUNNING"):
            assert time.monotonic() < deadline, f"job {job_id} still {status['status']}"
            time.sleep(0.02)
        return status

    def results(self, job_id: str) -> dict[str, Any]:
        """Every page of a finished job's results, by label."""
        results: dict[str, Any] = {}
        url: str | None = f"{self.url}/job/{job_id}/resultsV2/?limit=100&offset=0"
        while url is not None:
            answer = self.session.get(url, timeout=30)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            results.update((r["label"], r["results"]) for r in page["results"])
            url = page["next"]
        return results


def stored_jobs(server: LocalServer) -> dict[str, dict[str, Any]]:
    """Every job in the server's store, oldest first, by id: its columns, and its circuits
    as OpenQASM text and shots per circuit, by label."""
    with sqlite3.connect(server.db_path) as db:
        db.row_factory = sqlite3.Row
        jobs = {row["id"]: dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY rowid")}
        for job in jobs.values():
            job["circuits"], job["circuit_shots"] = {}, {}
        for row in db.execute("SELECT * FROM circuits ORDER BY job_id, position"):
            jobs[row["job_id"]]["circuits"][row["label"]] = unpack_circuit(row["payload"])
            jobs[row["job_id"]]["circuit_shots"][row["label"]] = row["shots"]
    return jobs


def packed(circuit: QuantumCircuit | str) -> str:
    """A circuit as the wire carries it; strings are sent as they are (for bad input)."""
    return circuit if isinstance(circuit, str) else pack_circuit(qasm2.dumps(circuit))


def bell(measure: bool = True) -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2 if measure else 0)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure([0, 1], [0, 1])
    return circuit


def rotated(theta: float) -> QuantumCircuit:
    """One qubit with P(1) = sin^2(theta / 2), measured."""
    circuit = QuantumCircuit(1, 1)
    circuit.ry(theta, 0)
    circuit.measure(0, 0)
    return circuit


def heavy(n: int, seed: int) -> dict[str, QuantumCircuit]:
    """Circuits that keep a worker busy for a while: 13 entangled qubits, 300 layers.

    Narrower than Aer's threshold for multithreading a state (14 qubits), so the time one
    takes does not depend on how many cores other work leaves free.
    """
    circuits = {}
    for i in range(n):
        circuit = QuantumCircuit(13, 13)
        for layer in range(300):
            circuit.rx(0.1 * (i + seed + layer + 1), range(13))
            for q in range(12):
                circuit.cx(q, q + 1)
        circuit.measure(range(13), range(13))
        circuits[f"heavy{i}"] = circuit
    return circuits


def serve(db: Path, *options: str, tokens: str = "secret") -> tuple[subprocess.Popen[str], str]:
    """``qiskit-divi serve`` in a process of its own on a free port; it and its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qiskit_divi.cli",
            "serve",
            "--port",
            "0",
            "--db",
            str(db),
            *options,
        ],
        env={**os.environ, TOKENS_ENV: tokens},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    output = ""
    while not (match := re.search(r"running on (http://127\.0\.0\.1:\d+)", output)):
        line = process.stderr.readline()
        assert line, output
        output += line
    return process, match.group(1) + "/api"


def run_elsewhere(server: LocalServer, code: str, *args: str, cwd: Path | None = None) -> str:
    """What ``python -c code *args`` prints in a new process whose account, from the
    environment, is the server's; the process must succeed."""
    env = {**os.environ, API_KEY_ENV: server.token, API_URL_ENV: server.url}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (Linux: read from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.update(children)
        todo.extend(children)
    return found


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    """Poll ``condition`` until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not {what or condition}"
        time.sleep(0.05)


def qasm_job(text: str) -> dict[str, str]:
    """One circuit given as OpenQASM text, as the wire carries it."""
    return {"c": pack_circuit(text)}


def read_answer(client: socket.socket) -> str:
    """An HTTP answer with a JSON body, however many reads it arrives in."""
    answer = b""
    while not answer.endswith(b"}") and (part := client.recv(65536)):
        answer += part
    return answer.decode()
