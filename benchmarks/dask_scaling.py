"""A 14-qubit batch on a Dask cluster, one worker against two, and against the local engine.

Run ``.venv/bin/python benchmarks/dask_scaling.py`` (``--quick`` for a smoke run). A
``distributed.LocalCluster`` of two single-threaded worker processes on loopback runs
the batch as one chunk (one worker) and as two chunks (both workers); every method is
warmed first, and every time is the best of interleaved repetitions (see
``simulator.best_times``).

Rows (times, then ratios; lower is faster):
  floor         one direct ``AerSimulator().run(circuits)`` in this process
  floor 1t      the same with ``max_parallel_threads=1``, as a Dask worker runs Aer
                (``OMP_NUM_THREADS=1``): what one worker cannot beat
  engine n=1    SimulationEngine(n_processes=1): everything in this process
  engine n=2    SimulationEngine(n_processes=2), its private pool warm
  dask 1        SimulationEngine(executor=client, n_processes=1): one worker
  dask 2        SimulationEngine(executor=client): one chunk per worker thread, two
"""

from __future__ import annotations

import argparse

import numpy as np
from distributed import Client, LocalCluster
from qiskit_aer import AerSimulator

from qiskit_divi.simulator import SimulationEngine

from simulator import SEED, SHOTS, best_times, qaoa

QUBITS = 14


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 circuits, 2 repeats")
    parser.add_argument("--circuits", type=int, default=200, help="circuits in the batch")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions per method")
    args = parser.parse_args()
    count, repeats = (20, 2) if args.quick else (args.circuits, args.repeats)
    rng = np.random.default_rng(SEED)
    circuits = [qaoa(QUBITS, rng) for _ in range(count)]

    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: 8787 may be taken
        ) as cluster,
        Client(cluster) as client,
    ):
        aer, aer_1t = AerSimulator(), AerSimulator(max_parallel_threads=1)
        engines = {
            "engine n=1": SimulationEngine(n_processes=1),
            "engine n=2": SimulationEngine(n_processes=2),
            "dask 1": SimulationEngine(executor=client, n_processes=1),
            "dask 2": SimulationEngine(executor=client),
        }
        methods = {
            "floor": lambda: aer.run(circuits, shots=SHOTS, seed_simulator=SEED).result(),
            "floor 1t": lambda: aer_1t.run(circuits, shots=SHOTS, seed_simulator=SEED).result(),
        }
        for name, engine in engines.items():
            methods[name] = lambda engine=engine: engine.sample(circuits, shots=SHOTS, seed=SEED)
        best_times(methods, 1)  # warm: the private pool, and Aer imported on every worker
        times = best_times(methods, repeats)
        engines["engine n=2"].close()

    print(f"{count} x {QUBITS}-qubit QAOA circuits, {SHOTS} shots, best of {repeats}")
    print(f"{'method':12} {'time s':>8} {'vs floor':>9} {'vs engine n=1':>14}")
    for name, seconds in times.items():
        print(
            f"{name:12} {seconds:8.3f} {seconds / times['floor']:8.2f}x "
            f"{seconds / times['engine n=1']:13.2f}x"
        )
    print(f"scaling, dask 2 / dask 1: {times['dask 2'] / times['dask 1']:.2f}x")
    print(f"dask 1 / floor 1t:        {times['dask 1'] / times['floor 1t']:.2f}x")
    print(f"dask 2 / engine n=2:      {times['dask 2'] / times['engine n=2']:.2f}x")


if __name__ == "__main__":
    main()
