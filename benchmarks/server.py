"""Per-job overhead of the local Qoro server, against the same work done in-process.

Run ``.venv/bin/python benchmarks/server.py`` (``--quick`` for a smoke run). A job is a
few small circuits: the reference is ``SimulationEngine.sample`` on them, parsed, in this
process; a round trip is ``QoroClient`` submitting the same circuits to a ``LocalServer``
on loopback (``job/init/`` + ``add_circuits``), polling its status without pause until it
is final, and fetching its results. Times are medians over many jobs, the two measured
interleaved in the same run.

Columns:
  direct      SimulationEngine(n_processes=1).sample on parsed circuits, in this process, as
              a server worker process runs a job (ms)
  round trip  submit + wait + results through HTTP, SQLite and the server's worker (ms)
  overhead    round trip minus direct (ms): what the server and the wire add per job
  ratio       round trip / direct
  submit, wait, results   the round trip's three parts (ms)
"""

from __future__ import annotations

import argparse
import statistics
import time

from qiskit import QuantumCircuit, qasm2

from qiskit_divi.circuits import parse_qasm
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.protocol import JobType
from qiskit_divi.server import LocalServer
from qiskit_divi.simulator import SimulationEngine

SHOTS = 1000
SEED = 1234


def ghz(num_qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits)
    circuit.h(0)
    for qubit in range(1, num_qubits):
        circuit.cx(0, qubit)
    circuit.measure_all()
    return circuit


def round_trip(client: QoroClient, circuits: dict[str, str]) -> tuple[float, float, float]:
    """Seconds to submit, to see the job final (polling without pause), to fetch results."""
    start = time.perf_counter()
    job_id = client.submit_job(circuits, job_type=JobType.SIMULATE, shots=SHOTS)
    submitted = time.perf_counter()
    while not client.job_status(job_id).status.is_final:
        pass
    finished = time.perf_counter()
    results = client.job_results(job_id)
    fetched = time.perf_counter()
    assert len(results) == len(circuits)
    return submitted - start, finished - submitted, fetched - finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few jobs only")
    jobs = 10 if parser.parse_args().quick else 100

    print(f"{jobs} jobs per size, {SHOTS} shots, medians in ms")
    print(
        f"{'job':<18}{'direct':>8}{'round trip':>12}{'overhead':>10}{'ratio':>8}"
        f"{'submit':>8}{'wait':>8}{'results':>9}"
    )
    with LocalServer(seed=SEED, workers=2) as server:
        client = QoroClient(auth_token=server.token, api_url=server.url)
        engine = SimulationEngine(n_processes=1)  # as in the server's worker processes
        for n_circuits, width in ((1, 5), (10, 5), (10, 12)):
            qasm = {f"ghz{i}": qasm2.dumps(ghz(width)) for i in range(n_circuits)}
            parsed = [parse_qasm(label, text) for label, text in qasm.items()]
            direct, parts = [], []
            for _ in range(jobs):
                start = time.perf_counter()
                engine.sample(parsed, shots=SHOTS, seed=SEED)
                direct.append(time.perf_counter() - start)
                parts.append(round_trip(client, qasm))
            d = statistics.median(direct) * 1e3
            submit, wait, fetch = (statistics.median(p) * 1e3 for p in zip(*parts, strict=True))
            total = statistics.median(sum(p) for p in parts) * 1e3
            print(
                f"{f'{n_circuits} x {width}q GHZ':<18}{d:8.1f}{total:12.1f}{total - d:10.1f}"
                f"{total / d:8.1f}{submit:8.1f}{wait:8.1f}{fetch:9.1f}"
            )
        engine.close()
        client.close()


if __name__ == "__main__":
    main()
