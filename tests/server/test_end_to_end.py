"""QoroService and QoroClient against the local server: every job type, big jobs, many
clients, and identical results through injected faults."""

from __future__ import annotations

import math
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2

from qiskit_divi.backends.qoro_service import QoroService
from qiskit_divi.exceptions import (
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
)
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.codec import chunk_circuits, pack_circuit
from qiskit_divi.qoro.protocol import MAX_BODY_BYTES, JobType, QoroJobStatus
from qiskit_divi.qoro.retry import RetrySettings
from qiskit_divi.server import FaultPlan, LocalServer

from .conftest import SEED, TOKENS
from .helpers import bell, heavy, rotated

pytestmark = pytest.mark.timeout(300)

FAST_RETRIES = RetrySettings(max_retries=12, backoff_factor=0.001, backoff_max=0.01)


def qasm(circuit: QuantumCircuit | str) -> str:
    return circuit if isinstance(circuit, str) else qasm2.dumps(circuit)


def basis_state(value: int, width: int = 8) -> QuantumCircuit:
    """Prepares and measures |value>: its only outcome is ``format(value, "0{width}b")``."""
    circuit = QuantumCircuit(width, width)
    for qubit in range(width):
        if value >> qubit & 1:
            circuit.x(qubit)
    circuit.measure(range(width), range(width))
    return circuit


def client_for(server: LocalServer, token: str | None = None) -> QoroClient:
    return QoroClient(
        auth_token=token or server.token,
        api_url=server.url,
        retry=FAST_RETRIES,
        request_timeout=60,
    )


def service_for(
    server: LocalServer, shots: int = 1000, token: str | None = None, dialect: str = "2026"
) -> QoroService:
    return QoroService(
        auth_token=token or server.token,
        shots=shots,
        polling_interval=0.02,
        api_url=server.url,
        dialect=dialect,
    )


def run(service: QoroService, circuits, job_type=JobType.SIMULATE, **kwargs) -> dict:
    """Submit, wait and fetch as the Backends Guide does; results by label."""
    job_id = service.submit_circuits(circuits, job_type, **kwargs)
    service.poll_job_status(job_id, loop_until_complete=True, timeout=240)
    return {entry["label"]: entry["results"] for entry in service.get_job_results(job_id)}


def test_the_service_reaches_the_server_and_lists_its_systems(server):
    service = service_for(server)
    service.test_connection()
    (qpu,) = service.fetch_qpu_systems()
    assert (qpu.name, qpu.num_qubits, qpu.qpus[0].online) == ("fake_manila", 5, True)
    assert [s.name for s in service.client.fetch_simulator_clusters()] == ["qoro_maestro"]
    with pytest.raises(ConnectionError, match="refused the API token"):
        service_for(server, token="not-a-token").test_connection()


def test_simulate(server):
    counts = run(service_for(server, shots=4000), {"ry": rotated(1.1)})["ry"]
    p = math.sin(1.1 / 2) ** 2
    assert sum(counts.values()) == 4000
    assert abs(counts["1"] - 4000 * p) <= 5 * math.sqrt(4000 * p * (1 - p))


def test_execute_on_the_noisy_qpu(server):
    service = service_for(server, shots=2000)
    counts = run(service, {"bell": bell()}, JobType.EXECUTE, system_name="fake_manila")["bell"]
    assert sum(counts.values()) == 2000 and counts["00"] + counts["11"] > 0.8 * 2000


def test_estimate(server):
    circuit = QuantumCircuit(3)
    circuit.x(2)
    circuit.ry(2 * math.pi / 3, 0)
    values = run(service_for(server), {"s": circuit}, JobType.ESTIMATE, observables="ZII;IIZ;XII")
    assert values["s"]["ZII"] == pytest.approx(math.cos(2 * math.pi / 3))
    assert values["s"]["IIZ"] == pytest.approx(-1.0)
    assert values["s"]["XII"] == pytest.approx(math.sin(2 * math.pi / 3))


def test_circuit_cut(server):
    # Only the 2025 wire cuts on the server (the 2026 client refuses, see test_dialects).
    service = service_for(server, shots=500, dialect="2025")
    counts = run(service, {"c": bell()}, JobType.CIRCUIT_CUT)["c"]
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 500


def test_250_circuits_come_back_by_label_over_several_pages(server):
    circuits = {f"state{k}": basis_state(k) for k in range(256)}
    results = run(service_for(server, shots=8), circuits)
    assert results == {f"state{k}": {format(k, "08b"): 8} for k in range(256)}


@pytest.mark.slow
def test_a_job_over_one_mebibyte_travels_in_several_chunks(server):
    angles = np.random.default_rng(5).uniform(0, 2 * math.pi, size=(400, 250))
    circuits = {}
    for i, row in enumerate(angles):  # random angles keep the packed text from shrinking
        gates = "".join(f"rz({float(angle)!r}) q[{j % 4}];\n" for j, angle in enumerate(row))
        circuits[f"big{i}"] = (
            f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[4];\ncreg c[4];\n{gates}'
            f"x q[{i % 4}];\nmeasure q -> c;\n"
        )
    packed = {label: pack_circuit(qasm(c)) for label, c in circuits.items()}
    assert sum(len(p) for p in packed.values()) > 1024 * 1024
    assert len(chunk_circuits(packed)) >= 2
    assert max(sum(len(k) + len(v) + 6 for k, v in c.items()) for c in chunk_circuits(packed)) > (
        0.9 * MAX_BODY_BYTES
    )  # a chunk filled near the cap is accepted
    results = run(service_for(server, shots=50), circuits)
    assert set(results) == set(circuits)
    assert results == {f"big{i}": {format(1 << (i % 4), "04b"): 50} for i in range(400)}


@pytest.mark.slow
def test_cancel_and_delete():
    with LocalServer(tokens=TOKENS, workers=1) as busy_server:
        service = service_for(busy_server, shots=100)
        busy = service.submit_circuits(heavy(2, seed=1))
        queued = service.submit_circuits({"b": bell()})
        (answer,) = service.cancel_job(queued)
        assert answer["circuits_cancelled"] == 1
        with pytest.raises(JobCancelledError):
            service.get_job_results(queued)
        assert service.poll_job_status([busy, queued], loop_until_complete=True) == [
            QoroJobStatus.COMPLETED,
            QoroJobStatus.CANCELLED,
        ]
        service.delete_job([busy, queued])
        with pytest.raises(JobNotFoundError):
            service.get_job_status(busy)


def test_a_failed_job_raises_with_the_servers_reason(server):
    wide = QuantumCircuit(40, 40)
    wide.h(range(40))
    wide.t(range(40))
    wide.measure(range(40), range(40))
    service = service_for(server, shots=10)
    job_id = service.submit_circuits({"too_wide": wide})
    assert service.poll_job_status(job_id, loop_until_complete=True) == [QoroJobStatus.FAILED]
    with pytest.raises(JobFailedError, match="'too_wide': 40 qubits"):
        service.get_job_results(job_id)


@pytest.mark.slow
def test_eight_concurrent_clients_lose_and_cross_nothing(server):
    def one_client(index: int) -> dict[str, tuple[int, dict]]:
        service = service_for(server, shots=16, token=TOKENS[index % 2])
        jobs = {
            service.submit_circuits({f"k{value}": basis_state(value)}, tag=f"client{index}"): value
            for value in range(index * 25, index * 25 + 25)
        }
        service.poll_job_status(list(jobs), loop_until_complete=True, timeout=240)
        return {job_id: (value, run_results(service, job_id)) for job_id, value in jobs.items()}

    with ThreadPoolExecutor(8) as pool:
        per_client = list(pool.map(one_client, range(8)))
    for index, found in enumerate(per_client):
        assert len(found) == 25
        for value, results in found.values():
            assert results == {f"k{value}": {format(value, "08b"): 16}}
        stranger = service_for(server, token=TOKENS[(index + 1) % 2])
        for job_id in found:
            with pytest.raises(JobNotFoundError):
                stranger.get_job_status(job_id)


def run_results(service: QoroService, job_id: str) -> dict:
    return {entry["label"]: entry["results"] for entry in service.get_job_results(job_id)}


def count_jobs(server: LocalServer) -> int:
    db = sqlite3.connect(server.db_path)
    try:
        return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    finally:
        db.close()


@pytest.mark.slow
def test_through_faults_the_client_gets_the_same_results_and_one_job_per_submission():
    submissions = [
        ({f"ry{i}": rotated(0.2 * i) for i in range(30)}, {"shots": 300}),
        ({f"s{k}": basis_state(k) for k in range(150)}, {"shots": 10}),
        ({"bell": bell()}, {"job_type": JobType.EXECUTE, "system_name": "fake_manila"}),
        ({"e": bell(measure=False)}, {"job_type": JobType.ESTIMATE, "observables": "ZZ;XX"}),
    ] * 3

    def run_all(faults: FaultPlan | None) -> tuple[list[dict], LocalServer, int]:
        with LocalServer(tokens=TOKENS, seed=SEED, faults=faults) as server:
            with client_for(server) as client:  # the client: its retries can be made quick
                results = []
                for circuits, options in submissions:
                    job_id = client.submit_job(
                        {label: qasm(c) for label, c in circuits.items()},
                        **{"job_type": JobType.SIMULATE, "shots": 200, **options},
                    )
                    client.wait_for_job(job_id, polling_interval=0.02, timeout=240)
                    results.append(client.job_results(job_id))
            return results, server, count_jobs(server)

    clean, _, clean_jobs = run_all(None)
    faulty, server, faulty_jobs = run_all(FaultPlan(rate=0.3, seed=11, retry_after=0))
    assert faulty == clean
    assert faulty_jobs == clean_jobs == len(submissions)
    injected = server.injected_faults
    assert sum(injected.values()) > 20
    assert len(injected) == 6  # every kind of fault was dealt at least once
