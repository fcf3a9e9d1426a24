"""A Bell pair on the parallel simulator, the Qiskit way and the Divi way.

Run: python examples/bell.py
"""

from qiskit import QuantumCircuit

from qiskit_divi import DiviProvider
from qiskit_divi.backends import ParallelSimulator

SHOTS = 4000


def bell_pair() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def main() -> None:
    bell = bell_pair()

    # Qiskit-native: a BackendV2 from the provider, a JobV1, a qiskit Result.
    backend = DiviProvider().get_backend("parallel_simulator", seed_simulator=2024)
    counts = backend.run(bell, shots=SHOTS).result().get_counts()
    print(f"Qiskit API  {backend.name}: {dict(sorted(counts.items()))}")

    # Divi's documented API: labelled circuits in, plain dictionaries out.
    simulator = ParallelSimulator(shots=SHOTS, seed=2024)
    (entry,) = simulator.submit_circuits({"bell": bell})
    print(f"Divi API    ParallelSimulator: {dict(sorted(entry['results'].items()))}")

    correlated = (counts.get("00", 0) + counts.get("11", 0)) / SHOTS
    print(f"P(00) + P(11) = {correlated:.3f} (an ideal Bell pair gives exactly 1)")
    if correlated != 1.0:
        raise SystemExit("an ideal Bell pair measured anticorrelated outcomes")


if __name__ == "__main__":
    main()
