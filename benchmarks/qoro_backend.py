"""What QoroBackend and QoroJob add to a Qoro job, against the client doing the same job.

Run ``.venv/bin/python benchmarks/qoro_backend.py`` (``--quick`` for a smoke run). Both
sides send the same circuits to one ``LocalServer`` on loopback and wait with the same
polling: the reference is ``QoroClient`` given OpenQASM text already exported
(``submit_job`` + ``wait_for_job`` + ``job_results``); the backend side is
``QoroBackend.run(circuits).result()``, which also checks and exports the circuits and
builds a ``qiskit.result.Result``. Medians over interleaved repetitions.

Columns:
  client     the reference round trip (ms)
  backend    run() + result() (ms)
  ratio      backend / client
"""

from __future__ import annotations

import argparse
import statistics
import time

from qiskit import QuantumCircuit, qasm2

from qiskit_divi import DiviProvider
from qiskit_divi.qoro.protocol import JobType
from qiskit_divi.qoro.rules import submission_label
from qiskit_divi.server import LocalServer

SHOTS = 1000
POLL = 0.002


def ghz(num_qubits: int, index: int) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits, name=f"ghz{index}")
    circuit.h(0)
    for qubit in range(1, num_qubits):
        circuit.cx(0, qubit)
    circuit.measure_all()
    return circuit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15

    print(f"{'circuits':>8} {'client':>10} {'backend':>10} {'ratio':>7}")
    with LocalServer(seed=1) as server:
        provider = DiviProvider(auth_token=server.token, api_url=server.url)
        backend = provider.get_backend("qoro", shots=SHOTS, polling_interval=POLL)
        client = backend.client
        for size in (1, 10, 250):
            circuits = [ghz(6, i) for i in range(size)]
            qasm = {submission_label(i, c): qasm2.dumps(c) for i, c in enumerate(circuits)}
            client_times, backend_times = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                job_id = client.submit_job(qasm, job_type=JobType.SIMULATE, shots=SHOTS)
                client.wait_for_job(job_id, polling_interval=POLL)
                client.job_results(job_id)
                client_times.append(time.perf_counter() - start)

                start = time.perf_counter()
                backend.run(circuits).result()
                backend_times.append(time.perf_counter() - start)
            reference = statistics.median(client_times) * 1e3
            ours = statistics.median(backend_times) * 1e3
            print(f"{size:>8} {reference:>10.1f} {ours:>10.1f} {ours / reference:>7.2f}")


if __name__ == "__main__":
    main()
