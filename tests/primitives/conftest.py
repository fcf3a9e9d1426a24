"""Backends, circuits and exact references shared by the primitives' tests (the local
server and its backends come from the repository's ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import Statevector

from qiskit_divi.simulator.backend import ParallelSimulatorBackend


@pytest.fixture(scope="module")
def simulator() -> Iterator[ParallelSimulatorBackend]:
    """An ideal simulator whose warm pool serves a whole module."""
    backend = ParallelSimulatorBackend(n_processes=2)
    yield backend
    backend.close()


def two_register_circuit() -> QuantumCircuit:
    """Three qubits, two parameters, two registers measured out of qubit order."""
    a, b = Parameter("a"), Parameter("b")
    qubits = QuantumRegister(3, "q")
    alpha, beta = ClassicalRegister(2, "alpha"), ClassicalRegister(1, "beta")
    circuit = QuantumCircuit(qubits, alpha, beta, name="two_registers")
    circuit.ry(a, 0)
    circuit.rx(b, 1)
    circuit.cx(0, 2)
    circuit.h(1)
    circuit.measure(0, alpha[1])
    circuit.measure(1, beta[0])
    circuit.measure(2, alpha[0])
    return circuit


def ansatz(num_qubits: int, reps: int = 2) -> QuantumCircuit:
    """A small hardware-efficient ansatz: RY/RZ layers and a CX ladder, no measurements."""
    theta = ParameterVector("t", 2 * num_qubits * (reps + 1))
    circuit = QuantumCircuit(num_qubits, name=f"ansatz{num_qubits}")
    k = 0
    for layer in range(reps + 1):
        for qubit in range(num_qubits):
            circuit.ry(theta[k], qubit)
            circuit.rz(theta[k + 1], qubit)
            k += 2
        if layer < reps:
            for qubit in range(num_qubits - 1):
                circuit.cx(qubit, qubit + 1)
    return circuit


def register_probabilities(circuit: QuantumCircuit, register: str) -> dict[str, float]:
    """Exact outcome probabilities of one register of a bound circuit whose measurements
    all come last, each clbit measured once (bit 0 rightmost, as in counts)."""
    measured = {}
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            measured[instruction.clbits[0]] = instruction.qubits[0]
    creg = next(c for c in circuit.cregs if c.name == register)
    qargs = [circuit.find_bit(measured[bit]).index for bit in creg]
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    return state.probabilities_dict(qargs=qargs)


def assert_counts_match(counts: dict[str, int], probabilities: dict[str, float]) -> None:
    """Every outcome's count within 5 binomial standard deviations of its expectation
    (plus one count of slack for outcomes of vanishing probability)."""
    shots = sum(counts.values())
    for outcome in set(counts) | set(probabilities):
        p = probabilities.get(outcome, 0.0)
        bound = 5 * np.sqrt(shots * p * (1 - p)) + 1
        assert abs(counts.get(outcome, 0) - shots * p) <= bound, (outcome, counts, probabilities)
