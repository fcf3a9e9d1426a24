"""A grid search of QAOA angles for MaxCut, as one batch on the parallel simulator.

Every (gamma, beta) pair of a grid is one circuit; the whole grid runs as a single
batch, spread over the simulator's worker processes. The best angles' most frequent
bitstrings are then checked against the true maximum cut, found by brute force.

Run: python examples/qaoa_batch.py
"""

import itertools
import time

import numpy as np
from qiskit import QuantumCircuit

from qiskit_divi.backends import ParallelSimulator

NODES = 8
# A ring with two chords: small enough to brute-force, not trivial to cut.
EDGES = [(i, (i + 1) % NODES) for i in range(NODES)] + [(0, 4), (2, 6)]
GRID = 8  # GRID x GRID angle pairs
SHOTS = 1000


def qaoa_circuit(gamma: float, beta: float) -> QuantumCircuit:
    """One QAOA layer for MaxCut on EDGES."""
    circuit = QuantumCircuit(NODES, name=f"qaoa_{gamma:.3f}_{beta:.3f}")
    circuit.h(range(NODES))
    for a, b in EDGES:
        circuit.rzz(2 * gamma, a, b)
    circuit.rx(2 * beta, range(NODES))
    circuit.measure_all()
    return circuit


def cut_size(bitstring: str) -> int:
    """Edges cut by the partition a bitstring describes (qubit 0 is the rightmost bit)."""
    side = bitstring[::-1]
    return sum(side[a] != side[b] for a, b in EDGES)


def mean_cut(counts: dict[str, int]) -> float:
    return sum(cut_size(bits) * n for bits, n in counts.items()) / sum(counts.values())


def main() -> None:
    angles = list(itertools.product(np.linspace(0, np.pi, GRID), np.linspace(0, np.pi / 2, GRID)))
    batch = {f"angles_{i}": qaoa_circuit(g, b) for i, (g, b) in enumerate(angles)}

    simulator = ParallelSimulator(shots=SHOTS, seed=7)
    start = time.perf_counter()
    results = simulator.submit_circuits(batch)
    elapsed = time.perf_counter() - start
    simulator.close()
    print(
        f"{len(results)} circuits x {SHOTS} shots on up to {simulator.n_processes} "
        f"processes: {elapsed:.2f} s"
    )

    scores = [mean_cut(entry["results"]) for entry in results]
    best = int(np.argmax(scores))
    gamma, beta = angles[best]
    print(f"best angles: gamma={gamma:.3f}, beta={beta:.3f}, mean cut {scores[best]:.3f}")

    optimum = max(cut_size(format(k, f"0{NODES}b")) for k in range(2**NODES))
    counts = results[best]["results"]
    top = sorted(counts, key=counts.get, reverse=True)[:5]
    found = max(cut_size(bits) for bits in top)
    print(f"five most frequent partitions cut up to {found} edges; the maximum is {optimum}")
    print(f"random guessing cuts {len(EDGES) / 2:.1f} edges on average")
    if scores[best] <= len(EDGES) / 2:
        raise SystemExit("QAOA did no better than random partitions")


if __name__ == "__main__":
    main()
