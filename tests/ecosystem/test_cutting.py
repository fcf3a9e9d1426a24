"""qiskit-addon-cutting: a cut circuit's subexperiments through our SamplerV2, as through Aer's.

The subexperiments carry mid-circuit measurements (the quasi-probability decomposition's)
in a second classical register; the reconstruction multiplies each subexperiment's
estimates across partitions and weighs them by the decomposition's coefficients.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.providers import BackendV2
from qiskit.quantum_info import PauliList, Statevector
from qiskit_addon_cutting import (
    generate_cutting_experiments,
    partition_problem,
    reconstruct_expectation_values,
)
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qiskit_divi import ParallelSimulatorBackend, SamplerV2

from .stats import assert_within

SHOTS = 10_000
OBSERVABLES = PauliList(["ZZII", "IZZI", "ZIIZ", "XXII", "IIZZ"])


def circuit() -> QuantumCircuit:
    """Two pairs of qubits entangled by one CNOT across the cut (between qubits 1 and 2)."""
    circuit = QuantumCircuit(4)
    for qubit, angle in enumerate([0.3, 0.5, 0.7, 0.9]):
        circuit.ry(angle, qubit)
    circuit.cx(0, 1)
    circuit.cx(2, 3)
    circuit.cx(1, 2)
    circuit.rx(0.4, 1)
    circuit.ry(0.6, 2)
    return circuit


@pytest.mark.slow
def test_reconstructed_expectation_values(simulator: ParallelSimulatorBackend) -> None:
    """Each subexperiment's estimate of a ±1 quantity, from n shots, has variance at most
    1/n; a product of two independent ones (the two partitions), at most 2/n + 1/n**2.
    Weighted by coefficients c_k over independent subexperiments, a reconstructed value
    has variance at most sum(c_k**2) (2/n + 1/n**2): ours must be within z of that of the
    exact value, and within z sqrt(2) of it of Aer's independent reconstruction."""
    problem = partition_problem(
        circuit=circuit(), partition_labels="AABB", observables=OBSERVABLES
    )
    subexperiments, coefficients = generate_cutting_experiments(
        circuits=problem.subcircuits, observables=problem.subobservables, num_samples=np.inf
    )

    def reconstruct(backend: BackendV2, sampler: object) -> np.ndarray:
        results = {
            label: sampler.run(transpile(circuits, backend, seed_transpiler=1)).result()
            for label, circuits in subexperiments.items()
        }
        return np.array(
            reconstruct_expectation_values(results, coefficients, problem.subobservables)
        )

    ours = reconstruct(
        simulator, SamplerV2(simulator, options={"seed": 71, "default_shots": SHOTS})
    )
    aer = reconstruct(AerSimulator(), AerSampler(seed=72, default_shots=SHOTS))
    exact = [Statevector(circuit()).expectation_value(pauli).real for pauli in OBSERVABLES]
    weight = sum(c**2 for c, _ in coefficients)
    sigma = np.sqrt(weight * (2 / SHOTS + 1 / SHOTS**2))
    assert_within(
        np.concatenate([ours, ours]),
        np.concatenate([aer, exact]),
        np.repeat([np.sqrt(2) * sigma, sigma], len(OBSERVABLES)),
    )
