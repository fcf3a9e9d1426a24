"""A parameter sweep as one template against as many bound circuits, on the 2026 wire.

Run ``.venv/bin/python benchmarks/templates.py`` (``--quick`` for a smoke run). The
circuit is a 16-qubit ansatz of 3 layers (an ``ry`` on every qubit, then a ``cx`` chain),
measured, in two forms: 48 parameters (one per ``ry``) or 3 (one per layer, shared by its
``ry`` gates); the sweep is 1000 random points. Both ways go through
``QoroClient`` to a ``LocalServer`` on loopback as one job each: the **bound** way sends
1000 circuits with their values written in (what binding each point and exporting it to
OpenQASM 2 gives), the **template** way sends the circuit once with 1000 rows of values.
Each way is timed from submission to fetched results; the bytes are every request body
the client sent for the job (``job/init/`` and the uploads).

Columns:
  params      parameters per point
  way         bound circuits or one template
  uploads     add_circuits requests
  bytes       request bytes sent for the job
  submit      seconds to plan and send the job
  total       seconds from submission to fetched results (the server binds and runs
              every point either way)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit import ParameterVector

from qiskit_divi.qoro.client import CircuitTemplate, QoroClient
from qiskit_divi.qoro.protocol import JobType
from qiskit_divi.server import LocalServer

QUBITS = 16
LAYERS = 3
SHOTS = 100
SEED = 1234


def ansatz(per_layer: bool) -> QuantumCircuit:
    """The parametric circuit: parameter ``t[k]`` is the ``k``-th ``ry``, or with
    ``per_layer`` the ``ry`` gates of layer ``k``."""
    theta = ParameterVector("t", LAYERS if per_layer else QUBITS * LAYERS)
    circuit = QuantumCircuit(QUBITS, QUBITS)
    for layer in range(LAYERS):
        for qubit in range(QUBITS):
            circuit.ry(theta[layer if per_layer else layer * QUBITS + qubit], qubit)
        for qubit in range(QUBITS - 1):
            circuit.cx(qubit, qubit + 1)
    circuit.measure(range(QUBITS), range(QUBITS))
    return circuit


def template_qasm(per_layer: bool) -> tuple[str, list[str]]:
    """The ansatz as OpenQASM 2 whose ``ry`` arguments name its parameters ``t0``, ...

    (Qiskit's OpenQASM 2 exporter writes only bound circuits.)
    """
    count = LAYERS if per_layer else QUBITS * LAYERS
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{QUBITS}];", f"creg c[{QUBITS}];"]
    for layer in range(LAYERS):
        for q in range(QUBITS):
            lines.append(f"ry(t{layer if per_layer else layer * QUBITS + q}) q[{q}];")
        lines += [f"cx q[{q}],q[{q + 1}];" for q in range(QUBITS - 1)]
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n", [f"t{k}" for k in range(count)]


class BodyCounter:
    """Adds up the bytes of every request body a client sends (a ``requests`` hook)."""

    def __init__(self, client: QoroClient) -> None:
        self.bytes = 0
        self.uploads = 0
        client._session.hooks["response"].append(self)  # the benchmark looks underneath

    def __call__(self, response, *args, **kwargs) -> None:
        body = response.request.body or b""
        self.bytes += len(body)
        self.uploads += response.request.url.endswith("/add_circuits/")

    def reset(self) -> None:
        self.bytes = self.uploads = 0


def timed(client: QoroClient, counter: BodyCounter, **job) -> tuple[float, float, dict]:
    counter.reset()
    start = time.perf_counter()
    job_id = client.submit_job(job_type=JobType.SIMULATE, **job)
    submitted = time.perf_counter()
    client.wait_for_job(job_id, polling_interval=0.05)
    results = client.job_results(job_id)
    return submitted - start, time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 50-point sweep")
    points = 50 if parser.parse_args().quick else 1000
    rng = np.random.default_rng(SEED)
    rows = []
    with LocalServer(seed=SEED) as server, QoroClient(server.token, server.url) as client:
        counter = BodyCounter(client)
        client.fetch_simulator_clusters()  # the listings once, before anything is timed
        client.fetch_qpu_systems()
        for per_layer in (False, True):
            circuit = ansatz(per_layer)
            values = rng.uniform(0, 2 * np.pi, size=(points, circuit.num_parameters))
            bound = {
                f"p{i}": qasm2.dumps(circuit.assign_parameters(row))
                for i, row in enumerate(values)
            }
            qasm, names = template_qasm(per_layer)
            sets = {f"p{i}": list(row) for i, row in enumerate(values)}
            template = CircuitTemplate(qasm, names, sets)
            for way, job in (
                ("bound circuits", {"circuits": bound, "shots": SHOTS}),
                ("one template", {"circuits": {}, "templates": [template], "shots": SHOTS}),
            ):
                submit, total, results = timed(client, counter, **job)
                assert sorted(results) == sorted(bound)
                assert all(sum(r.get_counts().values()) == SHOTS for r in results.values())
                rows.append((len(names), way, counter.uploads, counter.bytes, submit, total))

    print(f"{points}-point sweep of a {QUBITS}-qubit, {LAYERS}-layer ansatz, {SHOTS} shots")
    print(f"{'params':>6}  {'way':<16}{'uploads':>8}{'bytes':>12}{'submit':>9}{'total':>9}")
    for params, way, uploads, size, submit, total in rows:
        print(f"{params:>6}  {way:<16}{uploads:>8}{size:>12,}{submit:>8.2f}s{total:>8.2f}s")
    for bound_row, template_row in (rows[0:2], rows[2:4]):
        print(
            f"{bound_row[0]} parameters: the template sends "
            f"{bound_row[3] / template_row[3]:.1f}x fewer bytes"
        )


if __name__ == "__main__":
    main()
