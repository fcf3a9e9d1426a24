"""Qiskit's own tooling on a QoroBackend: transpile, preset pass managers, and the
backend primitives, which call run() and read counts or per-shot memory."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter
from qiskit.circuit.library import QFTGate
from qiskit.primitives import BackendEstimatorV2, BackendSamplerV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from .wire import QPU_SYSTEM, serve_counts, submitted_circuits

BELL_COUNTS = {"00": 509, "11": 515}


def qft_circuit() -> QuantumCircuit:
    qc = QuantumCircuit(4, 4, name="qft")
    qc.x([0, 2])
    qc.append(QFTGate(4), range(4))
    qc.swap(0, 3)
    qc.measure(range(4), range(4))
    return qc


def test_transpile_targets_the_qelib1_gates_without_routing(qpu_backend):
    out = transpile(qft_circuit(), qpu_backend, optimization_level=1, seed_transpiler=1)
    assert set(out.count_ops()) <= set(qpu_backend.target.operation_names)
    # All-to-all: no layout or routing, so the circuit keeps its width.
    assert out.num_qubits == 4 < QPU_SYSTEM.num_qubits


def test_a_preset_pass_manager_output_runs_as_sent(mock, cluster_backend):
    pm = generate_preset_pass_manager(optimization_level=2, backend=cluster_backend)
    out = pm.run(qft_circuit())
    assert set(out.count_ops()) <= set(cluster_backend.target.operation_names)
    serve_counts(mock, lambda qasm: {"0101": 3})
    assert cluster_backend.run(out, shots=3).result().get_counts() == {"0101": 3}


def test_backend_sampler_v2_reads_the_memory(mock, cluster_backend):
    theta = Parameter("theta")
    qc = QuantumCircuit(2, name="bell")
    qc.ry(theta, 0)
    qc.cx(0, 1)
    qc.measure_all()
    serve_counts(mock, lambda qasm: BELL_COUNTS)

    sampler = BackendSamplerV2(backend=cluster_backend)
    result = sampler.run([(qc, [np.pi / 2, np.pi / 3])], shots=1024).result()

    bits = result[0].data.meas
    assert bits.shape == (2,) and bits.num_shots == 1024
    assert bits.get_counts(0) == BELL_COUNTS
    assert bits.get_counts(1) == BELL_COUNTS
    sent = submitted_circuits(mock)
    first, second = sent.values()
    assert "ry(pi/2)" in first and "ry(pi/3)" in second


def test_backend_estimator_v2_works_from_the_counts(mock, cluster_backend):
    qc = QuantumCircuit(2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    serve_counts(mock, lambda qasm: BELL_COUNTS)

    estimator = BackendEstimatorV2(backend=cluster_backend)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("ZI")]
    result = estimator.run([(qc, observables)], precision=1 / 32).result()

    zz, zi = result[0].data.evs
    assert zz == 1.0
    assert zi == (509 - 515) / 1024  # Z on qubit 1: +1 for 00, -1 for 11
