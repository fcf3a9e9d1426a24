"""Honest tenants' request latency on a local Qoro server while two hostile tenants attack it.

Run ``.venv/bin/python benchmarks/server_load.py`` (``--quick`` for a smoke run; not in
CI). It starts ``qiskit-divi serve`` on 127.0.0.1 in a process of its own, then at once:

- 16 honest clients submit 20 jobs each (``job/init/``, ``add_circuits``, status polls,
  ``resultsV2``), one after another, each a circuit whose outcome is certain, so every
  result is checked exactly;
- two hostile tenants send, for as long as the honest clients work (bounded in count),
  the attacks the server's limits stop: registers of millions of bits, nested gate
  definitions (deep, or expanding to billions of gates), shots past 2**63, and jobs
  whose state vector passes their memory budget.

It prints the honest requests' latency (p50, p95, max; the target for p95 is < 100 ms),
what the hostile requests got, and fails if any honest job did not complete with the
exact counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

import requests
from qiskit import QuantumCircuit, qasm2

from qiskit_divi.qoro.codec import decode_histogram, pack_circuit

HONEST_TOKEN, HOSTILE_TOKEN = "honest-token", "hostile-token"
SHOTS = 100
WIDTH = 5
HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
MAX_HOSTILE_REQUESTS = 2000  # per hostile tenant: the attack loops stop by themselves


def nested(depth: int, calls: int) -> str:
    lines = [HEADER, "gate g0 a { " + "h a; " * calls + "}"]
    lines += [f"gate g{i} a {{ " + f"g{i - 1} a; " * calls + "}" for i in range(1, depth)]
    return "\n".join([*lines, f"qreg q[1];\ncreg c[1];\ng{depth - 1} q[0];\nmeasure q -> c;"])


def greedy(num_qubits: int) -> str:
    """A job whose state vector takes 16 * 2**num_qubits bytes."""
    return HEADER + f"qreg q[{num_qubits}];\ncreg c[{num_qubits}];\nh q;\nt q;\nmeasure q -> c;"


#: (attack, job/init/ body, circuit text): items 1 and 2 of issue 14.
ATTACKS = [
    ("qreg q[4000000]", {"shots": 10}, HEADER + "qreg q[4000000];"),
    ("creg c[1100000]", {"shots": 10}, HEADER + "qreg q[1];\ncreg c[1100000];"),
    ("gate nesting 40", {"shots": 10}, nested(40, 1)),
    ("gate nesting 17 x3", {"shots": 10}, nested(17, 3)),
    ("shots 2**63", {"shots": 2**63}, HEADER + "qreg q[1];\ncreg c[1];\nmeasure q -> c;"),
    ("27-qubit state", {"shots": 10}, greedy(27)),
]


class Tenant:
    """Plain HTTP calls as one token, timing each."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.latencies: list[tuple[str, float]] = []  # (endpoint, seconds)

    def call(self, method: str, path: str, body: object = None) -> requests.Response:
        start = time.perf_counter()
        answer = self.session.request(method, f"{self.url}/{path}", json=body, timeout=120)
        endpoint = path.rstrip("/").rsplit("/", 1)[-1] if "job/" in path else path
        self.latencies.append((endpoint, time.perf_counter() - start))
        return answer

    def submit(self, init: dict[str, object], text: str) -> requests.Response:
        answer = self.call("POST", "job/init/", {"job_type": "SIMULATE", **init})
        if answer.status_code != 201:
            return answer
        job_id = answer.json()["job_id"]
        body = {"circuits": {"c": pack_circuit(text)}, "finalized": "true"}
        answer = self.call("POST", f"job/{job_id}/add_circuits/", body)
        answer.job_id = job_id  # type: ignore[attr-defined]
        return answer


def certain(value: int) -> tuple[str, str]:
    """A circuit whose every shot reads ``value``, and that outcome as a bitstring."""
    circuit = QuantumCircuit(WIDTH, WIDTH)
    for bit in range(WIDTH):
        if value >> bit & 1:
            circuit.x(bit)
    circuit.measure(range(WIDTH), range(WIDTH))
    return qasm2.dumps(circuit), format(value, f"0{WIDTH}b")


def honest(tenant: Tenant, client: int, jobs: int, failures: list[str]) -> None:
    for job in range(jobs):
        text, outcome = certain((client * jobs + job) % 2**WIDTH)
        answer = tenant.submit({"shots": SHOTS}, text)
        if answer.status_code != 200:
            failures.append(f"client {client} job {job}: {answer.status_code} {answer.text}")
            continue
        job_id = answer.job_id  # type: ignore[attr-defined]
        while (status := tenant.call("GET", f"job/{job_id}/status/").json())["status"] in (
            "PENDING",
            "RUNNING",
        ):
            time.sleep(0.05)
        if status["status"] != "COMPLETED":
            failures.append(f"client {client} job {job}: {status}")
            continue
        (result,) = tenant.call("GET", f"job/{job_id}/resultsV2/").json()["results"]
        counts = decode_histogram(result["results"]).get_counts()
        if counts != {outcome: SHOTS}:
            failures.append(f"client {client} job {job}: {counts}, not {outcome}: {SHOTS}")


def hostile(tenant: Tenant, done: threading.Event, outcomes: Counter[str]) -> None:
    for index in range(MAX_HOSTILE_REQUESTS):
        if done.is_set():
            return
        name, init, text = ATTACKS[index % len(ATTACKS)]
        outcomes[f"{name}: HTTP {tenant.submit(init, text).status_code}"] += 1


def report(name: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(
        f"{name:<22}{len(ordered):>6}{1000 * statistics.median(ordered):>11.1f}"
        f"{1000 * p95:>11.1f}{1000 * ordered[-1]:>11.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 clients x 5 jobs")
    parser.add_argument("--port", type=int, default=8787, help="loopback port to serve on")
    parser.add_argument("--hostile", type=int, default=2, help="hostile tenants (0: a baseline)")
    args = parser.parse_args()
    clients, jobs = (4, 5) if args.quick else (16, 20)
    port = args.port

    with tempfile.TemporaryDirectory() as folder:
        command = ["serve", "--port", str(port), "--db", f"{folder}/jobs.sqlite3"]
        command += ["--seed", "1", "--job-memory-mb", "1024", "--log-level", "warning"]
        process = subprocess.Popen(
            [sys.executable, "-m", "qiskit_divi.cli", *command],
            env={**os.environ, "QORO_SERVER_TOKENS": f"{HONEST_TOKEN},{HOSTILE_TOKEN}"},
        )
        url = f"http://127.0.0.1:{port}/api"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    requests.get(url, timeout=5)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.1)
            run(url, clients, jobs, args.hostile)
        finally:
            process.terminate()
            process.wait(120)


def run(url: str, clients: int, jobs: int, hostile_tenants: int) -> None:
    tenants = [Tenant(url, HONEST_TOKEN) for _ in range(clients)]
    attackers = [Tenant(url, HOSTILE_TOKEN) for _ in range(hostile_tenants)]
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    done = threading.Event()
    threads = [threading.Thread(target=hostile, args=(a, done, outcomes)) for a in attackers]
    threads += [
        threading.Thread(target=honest, args=(tenant, client, jobs, failures))
        for client, tenant in enumerate(tenants)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads[len(attackers) :]:
        thread.join()
    elapsed = time.perf_counter() - start
    done.set()
    for thread in threads[: len(attackers)]:
        thread.join()

    print(f"{clients} honest clients x {jobs} jobs, {hostile_tenants} hostile, {elapsed:.1f} s")
    timed = [timing for tenant in tenants for timing in tenant.latencies]
    print("honest requests        count     p50 ms     p95 ms     max ms")
    for endpoint in sorted({endpoint for endpoint, _ in timed}):
        report(endpoint, [seconds for name, seconds in timed if name == endpoint])
    report("all (target p95 < 100)", [seconds for _, seconds in timed])
    print("hostile requests:")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {count:6d}  {outcome}")
    print(f"honest jobs with wrong or missing results: {len(failures)}")
    for failure in failures[:10]:
        print("  ", failure)
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
