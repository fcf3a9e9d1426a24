"""How many Qoro jobs a primitive run creates, and the bytes a parametric PUB sends as a
template against bound circuits, through SamplerV2 and EstimatorV2 on a ``LocalServer``.

Run ``.venv/bin/python benchmarks/one_job.py`` (``--points N`` for the sweep's size,
200 by default; ``--quick`` for 20). Two parts:

1. **Jobs per run.** A SamplerV2 run of three PUBs with three different shot counts
   (a parametric PUB among them), and an EstimatorV2 run of three PUBs of two widths
   with different observables, on the same simulator cluster over each wire dialect.
   Jobs are counted in the server's store. The 2026 wire carries per-circuit shots,
   per-circuit observables and templates, so each run is one job; the 2025 wire carries
   one shot count and one set of terms per job, so runs split.
2. **Bytes of a sweep.** The 16-qubit, 3-layer ansatz of ``benchmarks/templates.py`` (48
   parameters), N random points, 100 shots, through SamplerV2 on the 2026 wire: as one
   parametric PUB (it travels as one template with N rows) and as N PUBs of circuits
   bound beforehand (N bound circuits). Both are one job; bytes are every request body
   the client sent, ``job/init/`` included.
"""

from __future__ import annotations

import argparse
import sqlite3
import time

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from templates import QUBITS, SEED, BodyCounter, ansatz

from qiskit_divi import DiviProvider, EstimatorV2, SamplerV2
from qiskit_divi.server import LocalServer

SHOTS = 100


def jobs_on(server: LocalServer) -> int:
    with sqlite3.connect(server.db_path) as db:
        return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def small_ansatz(width: int) -> QuantumCircuit:
    theta = ParameterVector("t", 2 * width)
    circuit = QuantumCircuit(width)
    for q in range(width):
        circuit.ry(theta[q], q)
    for q in range(width - 1):
        circuit.cx(q, q + 1)
    for q in range(width):
        circuit.rz(theta[width + q], q)
    return circuit


def jobs_per_run(server: LocalServer, provider: DiviProvider) -> list[tuple[str, str, int]]:
    rng = np.random.default_rng(SEED)
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    sweep = small_ansatz(3)
    measured = sweep.measure_all(inplace=False)
    sampler_pubs = [
        (measured, rng.uniform(0, np.pi, (5, sweep.num_parameters)), 300),
        (bell, None, 500),
        (bell, None, 700),
    ]
    narrow = small_ansatz(2)
    estimator_pubs = [
        (sweep, [["ZZI", "XIX"]], rng.uniform(0, np.pi, (4, 1, sweep.num_parameters))),
        (narrow, "ZX", rng.uniform(0, np.pi, narrow.num_parameters)),
        (sweep, "YYY", rng.uniform(0, np.pi, sweep.num_parameters)),
    ]
    rows = []
    for dialect in ("2026", "2025"):
        backend = provider.get_backend("qoro", dialect=dialect, polling_interval=0.02)
        before = jobs_on(server)
        SamplerV2(backend).run(sampler_pubs).result()
        rows.append(("SamplerV2, 3 shot counts", dialect, jobs_on(server) - before))
        before = jobs_on(server)
        EstimatorV2(backend).run(estimator_pubs).result()
        rows.append(("EstimatorV2, 3 observables", dialect, jobs_on(server) - before))
    return rows


def sweep_bytes(provider: DiviProvider, points: int) -> list[tuple[str, int, int, float]]:
    backend = provider.get_backend("qoro", polling_interval=0.05)
    counter = BodyCounter(backend.client)
    circuit = ansatz(per_layer=False)
    values = np.random.default_rng(SEED).uniform(0, 2 * np.pi, (points, circuit.num_parameters))
    rows = []
    for way, pubs in (
        ("one parametric PUB", [(circuit, values)]),
        ("bound PUBs", [circuit.assign_parameters(row) for row in values]),
    ):
        counter.reset()
        start = time.perf_counter()
        result = SamplerV2(backend).run(pubs, shots=SHOTS).result()
        elapsed = time.perf_counter() - start
        assert sum(r.data.c.size for r in result) == points
        rows.append((way, counter.uploads, counter.bytes, elapsed))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200, help="points of the sweep")
    parser.add_argument("--quick", action="store_true", help="a 20-point sweep")
    args = parser.parse_args()
    points = 20 if args.quick else args.points
    with LocalServer(seed=SEED) as server:
        provider = DiviProvider(auth_token=server.token, api_url=server.url)
        jobs = jobs_per_run(server, provider)
        sweep = sweep_bytes(provider, points)

    print(f"{'run':<28}{'wire':>6}{'jobs':>6}")
    for name, dialect, count in jobs:
        print(f"{name:<28}{dialect:>6}{count:>6}")
    print(
        f"\n{points}-point sweep of a {QUBITS}-qubit ansatz, {SHOTS} shots, SamplerV2, 2026 wire"
    )
    print(f"{'way':<22}{'uploads':>8}{'bytes':>12}{'total':>9}")
    for way, uploads, size, elapsed in sweep:
        print(f"{way:<22}{uploads:>8}{size:>12,}{elapsed:>8.2f}s")
    print(f"the template sends {sweep[1][2] / sweep[0][2]:.1f}x fewer bytes")


if __name__ == "__main__":
    main()
