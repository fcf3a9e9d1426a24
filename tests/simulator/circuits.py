"""Test circuits and the exact-distribution check shared by the simulator tests."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Statevector
from scipy.stats import chi2_contingency

#: Outcomes may stray this many standard deviations from their expected count.
SIGMAS = 5


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def ghz(num_qubits: int, name: str | None = None) -> QuantumCircuit:
    """A GHZ state measured on every qubit, named ``ghz<num_qubits>`` unless named."""
    circuit = QuantumCircuit(num_qubits, name=name or f"ghz{num_qubits}")
    circuit.h(0)
    for qubit in range(num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def qaoa(num_qubits: int, rng: np.random.Generator, layers: int = 2) -> QuantumCircuit:
    """A QAOA ansatz on a ring with chords, random angles, measured."""
    circuit = QuantumCircuit(num_qubits, name="qaoa")
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


def random_measured(num_qubits: int, seed: int) -> QuantumCircuit:
    """A random circuit (gates Aer may not run directly) measured on every qubit."""
    circuit = random_circuit(num_qubits, depth=4, max_operands=3, seed=seed)
    circuit.name = f"random{seed}"
    circuit.measure_all()
    return circuit


def exact_probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    """Outcome probabilities of a circuit measured on every qubit, from its statevector."""
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    return state.probabilities_dict()


def assert_distribution(counts: Mapping[str, int], probabilities: Mapping[str, float]) -> None:
    """Counts agree with exact probabilities: nothing impossible, each count within 5 sigma."""
    shots = sum(counts.values())
    impossible = {outcome for outcome in counts if probabilities.get(outcome, 0) < 1e-12}
    assert not impossible, f"outcomes with zero probability were sampled: {impossible}"
    for outcome, p in probabilities.items():
        expected = shots * p
        spread = SIGMAS * np.sqrt(shots * p * (1 - p)) + 1
        assert abs(counts.get(outcome, 0) - expected) <= spread, (outcome, counts, expected)


#: Two samples of one distribution are told apart less often than this.
FALSE_ALARM_RATE = 1e-4


def assert_same_distribution(ours: Mapping[str, int], theirs: Mapping[str, int]) -> None:
    """Two samples come from one distribution: a chi-squared homogeneity test at
    ``FALSE_ALARM_RATE``, outcomes seen fewer than 10 times in all pooled into one bin."""
    outcomes = sorted(set(ours) | set(theirs))
    table = np.array([[ours.get(o, 0) for o in outcomes], [theirs.get(o, 0) for o in outcomes]])
    frequent = table.sum(axis=0) >= 10
    table = np.column_stack([table[:, frequent], table[:, ~frequent].sum(axis=1)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return  # one outcome only: both samples put every shot on it
    p_value = chi2_contingency(table, correction=False).pvalue
    assert p_value > FALSE_ALARM_RATE, (p_value, dict(ours), dict(theirs))


BELL_QASM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""
