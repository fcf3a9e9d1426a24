"""The local simulator against the floor: one direct ``AerSimulator().run(list)`` call.

Run ``.venv/bin/python benchmarks/simulator.py`` (``--quick`` for a smoke run). Every
time is the best of several interleaved repetitions, so other load on the machine skews
the ratios as little as possible; every ratio divides by the floor measured in the same
run on the same parsed circuits.

Columns (ratios to the floor; lower is faster):
  one-by-one   a direct Aer call per circuit
  engine n=1   SimulationEngine(n_processes=1): everything in this process
  engine n=2   SimulationEngine(n_processes=2), pool warm (started by an earlier call)
  cold n=2     the same engine's first call, pool start-up included
  qasm n=2     ParallelSimulator(n_processes=2).submit_circuits on OpenQASM 2 text
               (parsing included; the floor is given circuits already parsed)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit, qasm2
from qiskit.providers import BackendV2
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi.backends import ParallelSimulator
from qiskit_divi.simulator import SimulationEngine
from qiskit_divi.simulator.device import smallest_fake_backend
from qiskit_divi.simulator.runs import TRANSPILE_LEVEL

SHOTS = 1000
SEED = 1234


@dataclass
class Workload:
    name: str
    circuits: list[QuantumCircuit]
    noise: BackendV2 | str | None = None  # a fake backend, "auto", or None


def qaoa(num_qubits: int, rng: np.random.Generator, layers: int = 2) -> QuantumCircuit:
    """QAOA layers on a ring with chords (rzz, rx), random angles, measured."""
    circuit = QuantumCircuit(num_qubits)
    circuit.h(range(num_qubits))
    edges = [(i, (i + 1) % num_qubits) for i in range(num_qubits)]
    edges += [(i, (i + num_qubits // 2) % num_qubits) for i in range(num_qubits // 2)]
    for _ in range(layers):
        gamma, beta = rng.uniform(0, np.pi, 2)
        for a, b in edges:
            circuit.rzz(gamma, a, b)
        circuit.rx(2 * beta, range(num_qubits))
    circuit.measure_all()
    return circuit


def workloads(quick: bool) -> list[Workload]:
    rng = np.random.default_rng(SEED)

    def batch(count: int, num_qubits: int, noise: BackendV2 | str | None = None) -> Workload:
        count = max(2, count // 10) if quick else count
        name = f"{count} x {num_qubits}q" + (f" {_noise_name(noise)}" if noise else "")
        return Workload(name, [qaoa(num_qubits, rng) for _ in range(count)], noise)

    return [
        batch(10, 6),
        batch(1000, 6),
        batch(200, 10),
        batch(200, 14),
        batch(20, 20),
        batch(200, 5, FakeManilaV2()),
        batch(200, 6, "auto"),
        batch(8, 10, "auto"),
    ]


def _noise_name(noise: BackendV2 | str) -> str:
    return noise if isinstance(noise, str) else noise.name


def floor_simulator(workload: Workload) -> tuple[AerSimulator, list[QuantumCircuit]]:
    """What a user would run directly: Aer for the device, circuits transpiled for it."""
    if workload.noise is None:
        return AerSimulator(), workload.circuits
    backend = workload.noise
    if isinstance(backend, str):
        backend = smallest_fake_backend(max(c.num_qubits for c in workload.circuits), "batch")
    manager = generate_preset_pass_manager(
        TRANSPILE_LEVEL, target=backend.target, seed_transpiler=SEED
    )
    return AerSimulator.from_backend(backend), manager.run(workload.circuits)


def best_times(methods: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The best wall time of each method over interleaved repetitions."""
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(repeats):
        for name, run in methods.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure(workload: Workload, repeats: int) -> dict[str, float]:
    simulator, runnable = floor_simulator(workload)
    options = {"qiskit_backend": workload.noise}
    serial = SimulationEngine(n_processes=1, **options)
    pooled = SimulationEngine(n_processes=2, **options)
    texts = {f"c{i}": qasm2.dumps(c) for i, c in enumerate(workload.circuits)}
    documented = ParallelSimulator(shots=SHOTS, n_processes=2, seed=SEED, **options)

    start = time.perf_counter()
    pooled.sample(workload.circuits, shots=SHOTS, seed=SEED)
    cold = time.perf_counter() - start
    documented.submit_circuits(texts)  # warm its pool too

    def one_by_one() -> None:
        for circuit in runnable:
            simulator.run(circuit, shots=SHOTS, seed_simulator=SEED).result()

    times = best_times(
        {
            "floor": lambda: simulator.run(runnable, shots=SHOTS, seed_simulator=SEED).result(),
            "transpile": lambda: floor_simulator(workload),
            "one-by-one": one_by_one,
            "engine n=1": lambda: serial.sample(workload.circuits, shots=SHOTS, seed=SEED),
            "engine n=2": lambda: pooled.sample(workload.circuits, shots=SHOTS, seed=SEED),
            "qasm n=2": lambda: documented.submit_circuits(texts),
        },
        repeats,
    )
    pooled.close()
    documented.close()
    if workload.noise is None:
        del times["transpile"]
    else:  # the engine transpiles; so does the user who calls Aer directly
        times["floor"] += times.pop("transpile")
    times["cold n=2"] = cold
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of each batch, 2 repeats")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions per method")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    columns = ["one-by-one", "engine n=1", "engine n=2", "cold n=2", "qasm n=2"]
    print(f"{'workload':24} {'floor s':>8} " + " ".join(f"{c:>11}" for c in columns))
    for workload in workloads(args.quick):
        times = measure(workload, repeats)
        floor = times["floor"]
        ratios = " ".join(f"{times[c] / floor:>10.2f}x" for c in columns)
        print(f"{workload.name:24} {floor:8.3f} {ratios}", flush=True)


if __name__ == "__main__":
    main()
