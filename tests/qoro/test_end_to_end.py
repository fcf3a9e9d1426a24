"""QoroBackend and QoroJob over real HTTP against the local Qoro-compatible server.

Distributions are checked against exact probabilities with 5-sigma binomial bounds; the
server samples with a fixed seed.
"""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Clbit
from qiskit.primitives import BackendSamplerV2
from qiskit.providers import JobStatus as QiskitJobStatus
from qiskit.quantum_info import Statevector
from qiskit_aer import AerSimulator

from qiskit_divi.exceptions import (
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
)
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.execution import retrieve
from qiskit_divi.qoro.job import QoroJob
from qiskit_divi.server import LocalServer

from simulator.circuits import ghz

SEED = 20251124


def within_five_sigma(count: int, shots: int, p: float) -> bool:
    return abs(count - shots * p) <= 5 * math.sqrt(shots * p * (1 - p))


def heavy(n: int) -> list[QuantumCircuit]:
    """Circuits that keep a server worker busy for a while (16 entangled qubits, deep)."""
    circuits = []
    for i in range(n):
        qc = QuantumCircuit(16, 16, name=f"heavy{i}")
        for layer in range(40):
            qc.rx(0.1 * (i + layer + 1), range(16))
            for q in range(15):
                qc.cx(q, q + 1)
        qc.measure(range(16), range(16))
        circuits.append(qc)
    return circuits


@pytest.fixture(scope="module")
def server_settings() -> dict[str, Any]:
    return {"seed": SEED}


@pytest.fixture(scope="module")
def client(server: LocalServer) -> QoroClient:
    return QoroClient(server.token, server.url)


@pytest.fixture(scope="module")
def maestro(client: QoroClient) -> QoroBackend:
    (cluster,) = [c for c in client.fetch_simulator_clusters() if c.name == "qoro_maestro"]
    return QoroBackend(cluster, client, polling_interval=0.05)


@pytest.fixture(scope="module")
def manila(client: QoroClient) -> QoroBackend:
    (system,) = client.fetch_qpu_systems()
    return QoroBackend(system, client, polling_interval=0.05)


def test_bell_and_ghz_follow_their_exact_distributions(maestro):
    shots = 4000
    circuits = [ghz(2), ghz(3), ghz(5)]
    result = maestro.run(circuits, shots=shots).result(timeout=120)

    for circuit, counts in zip(circuits, result.get_counts(), strict=True):
        n = circuit.num_qubits
        assert set(counts) <= {"0" * n, "1" * n}
        assert sum(counts.values()) == shots
        assert within_five_sigma(counts.get("0" * n, 0), shots, 0.5)
    assert [r.header["name"] for r in result.results] == ["ghz2", "ghz3", "ghz5"]


def test_counts_follow_a_rotation_and_split_registers(maestro):
    from qiskit import ClassicalRegister, QuantumRegister

    theta, shots = 1.1, 3000
    qc = QuantumCircuit(QuantumRegister(2), ClassicalRegister(1, "a"), ClassicalRegister(1, "b"))
    qc.ry(theta, 0)
    qc.x(1)
    qc.measure(0, 0)
    qc.measure(1, 1)
    counts = maestro.run(qc, shots=shots).result(timeout=120).get_counts()

    assert set(counts) <= {"1 0", "1 1"}
    assert within_five_sigma(counts.get("1 1", 0), shots, math.sin(theta / 2) ** 2)


def test_250_circuits_travel_in_one_job_and_come_back_in_order(maestro):
    circuits = []
    for i in range(250):
        qc = QuantumCircuit(3, 3, name=f"pattern{i}")
        for bit in range(3):
            if (i >> bit) & 1:
                qc.x(bit)
        qc.measure(range(3), range(3))
        circuits.append(qc)
    job = maestro.run(circuits, shots=20)
    result = job.result(timeout=300)

    assert result.job_id == job.job_id()
    assert len(result.results) == 250
    assert result.get_counts() == [{format(i % 8, "03b"): 20} for i in range(250)]


def test_initialize_travels_as_resets_and_gates_and_follows_its_distribution(maestro):
    shots = 4000
    qc = QuantumCircuit(2, name="prepared")
    qc.x(0)  # overwritten: initialize resets first
    qc.initialize([0.6, 0, 0.48j, 0.64], [0, 1])
    qc.h(0)
    qc.measure_all()
    probabilities = Statevector(qc.remove_final_measurements(inplace=False)).probabilities_dict()

    counts = maestro.run(qc, shots=shots).result(timeout=120).get_counts()

    assert sum(counts.values()) == shots
    assert set(counts) <= {outcome for outcome, p in probabilities.items() if p > 1e-12}
    for outcome, p in probabilities.items():
        assert within_five_sigma(counts.get(outcome, 0), shots, p)


def test_a_noisy_qpu_runs_execute_jobs(manila):
    shots = 2000
    job = manila.run(ghz(2), shots=shots)
    counts = job.result(timeout=120).get_counts()

    assert manila.options.job_type.name == "EXECUTE"
    assert sum(counts.values()) == shots
    # Noise spreads some shots onto 01 and 10, but Bell correlations dominate.
    assert counts.get("00", 0) + counts.get("11", 0) > 0.8 * shots


def test_backend_sampler_v2_samples_from_the_service(maestro):
    qc = QuantumCircuit(1, name="rot")
    qc.ry(np.pi / 3, 0)
    qc.measure_all()
    shots = 4000
    result = BackendSamplerV2(backend=maestro).run([qc], shots=shots).result()
    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == shots
    assert within_five_sigma(counts.get("1", 0), shots, np.sin(np.pi / 6) ** 2)


def test_a_job_the_service_cannot_run_fails_with_its_reason(maestro):
    wide = QuantumCircuit(40, 40, name="too_wide")
    wide.h(range(40))
    wide.t(range(40))
    wide.measure(range(40), range(40))
    job = maestro.run([ghz(2), wide], shots=10)

    with pytest.raises(JobFailedError, match="40 qubits") as caught:
        job.result(timeout=120)
    assert caught.value.job_id == job.job_id()
    assert job.status() is QiskitJobStatus.ERROR


def test_a_deep_copy_keeps_the_credentials_it_was_given(maestro, monkeypatch, tmp_path):
    """The client was made with an explicit token; with none in the environment (or a
    ``.env`` file), a copy still reaches the server: it shares the client."""
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    twin = copy.deepcopy(maestro)
    twin.set_options(shots=1000)

    assert twin.client is maestro.client and maestro.options.shots != 1000
    job = twin.run(ghz(3))
    counts = copy.deepcopy(job).result(timeout=120).get_counts()
    assert set(counts) <= {"000", "111"} and sum(counts.values()) == 1000
    assert within_five_sigma(counts.get("000", 0), 1000, 0.5)


def test_loose_shared_and_reordered_classical_bits_read_as_aer_reads_the_circuit(maestro):
    """The text sent lays bits out its own way (a bit in two registers declared in each
    and measured into the last, bits in none as one more register, a register's bits in
    its own order); the outcomes come back in the circuit's order all the same."""
    bits = [Clbit() for _ in range(4)]
    circuit = QuantumCircuit(QuantumRegister(3, "q"), bits, name="shared")
    circuit.add_register(ClassicalRegister(bits=bits[:2], name="a"))
    circuit.add_register(ClassicalRegister(bits=bits[1:3], name="b"))
    circuit.x([0, 1])
    circuit.measure([0, 1, 2], [bits[0], bits[1], bits[3]])
    loose = QuantumCircuit(2, 3, name="loose")
    loose.add_bits([Clbit()])
    loose.x(1)
    loose.measure([0, 1, 1], [1, 2, 3])
    reordered = QuantumCircuit(QuantumRegister(2, "q"), bits[:2], name="reordered")
    reordered.add_register(ClassicalRegister(bits=bits[1::-1], name="r"))
    reordered.x(0)
    reordered.measure([0, 1], bits[:2])

    circuits = [circuit, loose, reordered]
    result = maestro.run(circuits, shots=20).result(timeout=120)
    expected = AerSimulator().run(circuits, shots=20).result()
    assert result.get_counts() == expected.get_counts() == [{"00 11": 20}, {"110": 20}, {"01": 20}]


def test_pickles_of_a_backend_and_its_job_carry_no_token(maestro, server):
    job = maestro.run(ghz(2), shots=10)
    for thing in (maestro, job, copy.deepcopy(maestro)):
        assert server.token.encode() not in pickle.dumps(thing)
    job.result(timeout=120)


@pytest.mark.slow
def test_cancel_a_queued_job_and_a_timeout_then_a_late_result():
    with LocalServer(workers=1, seed=SEED) as single:
        client = QoroClient(single.token, single.url)
        (cluster,) = client.fetch_simulator_clusters()
        backend = QoroBackend(cluster, client, polling_interval=0.05)
        busy = backend.run(heavy(8), shots=100)
        queued = backend.run([ghz(2), ghz(3)], shots=100)
        late = backend.run(ghz(4), shots=100)

        queued.cancel()
        assert queued.status() is QiskitJobStatus.CANCELLED
        with pytest.raises(JobCancelledError):
            queued.result(timeout=60)

        with pytest.raises(JobTimeoutError):
            late.result(timeout=0.2)
        again = QoroJob(None, retrieve(QoroClient(single.token, single.url), late.job_id()))
        assert again.result(timeout=300).get_counts() == late.result(timeout=300).get_counts()
        assert busy.result(timeout=300).get_counts(0)
