"""How a real device's noise erodes GHZ states as they grow, on the parallel simulator.

The same GHZ circuits of 2 to 5 qubits run twice: on an ideal simulator, and with the
noise and connectivity of IBM's 5-qubit Manila device (qiskit-ibm-runtime's
FakeManilaV2). Their "GHZ weight", P(0...0) + P(1...1), is 1 when ideal and falls as
noise accumulates with every added CNOT.

Run: python examples/noisy_study.py
"""

from qiskit import QuantumCircuit
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi.backends import ParallelSimulator

SHOTS = 4000
WIDTHS = range(2, 6)


def ghz(num_qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits, name=f"ghz_{num_qubits}")
    circuit.h(0)
    for qubit in range(num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def ghz_weight(counts: dict[str, int], num_qubits: int) -> float:
    hits = counts.get("0" * num_qubits, 0) + counts.get("1" * num_qubits, 0)
    return hits / sum(counts.values())


def main() -> None:
    batch = {f"ghz_{n}": ghz(n) for n in WIDTHS}
    ideal = ParallelSimulator(shots=SHOTS, seed=11)
    # The circuits use H and CX on a line; the simulator transpiles them for
    # Manila's native gates and coupling map before adding its noise.
    noisy = ParallelSimulator(shots=SHOTS, seed=11, qiskit_backend=FakeManilaV2())

    ideal_results = ideal.submit_circuits(batch)
    noisy_results = noisy.submit_circuits(batch)

    print("qubits  ideal  FakeManilaV2")
    weights = []
    for n, clean, dirty in zip(WIDTHS, ideal_results, noisy_results, strict=True):
        weights.append(ghz_weight(dirty["results"], n))
        print(f"{n:>6}  {ghz_weight(clean['results'], n):5.3f}  {weights[-1]:12.3f}")

    print(f"noise costs {1 - weights[-1]:.1%} of the 5-qubit GHZ weight")
    if not weights[0] > weights[-1]:
        raise SystemExit("a longer chain of noisy gates should not do better")


if __name__ == "__main__":
    main()
