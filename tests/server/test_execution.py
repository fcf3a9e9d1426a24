"""Jobs run by the local server: values, job types, pagination, cancel, failure, restarts."""

from __future__ import annotations

import math
import sqlite3

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from qiskit_divi.qoro.codec import decode_histogram
from qiskit_divi.server import LocalServer

from .conftest import SEED, TOKENS
from .helpers import Api, bell, heavy, rotated

pytestmark = pytest.mark.timeout(300)


def within_five_sigma(count: int, shots: int, p: float) -> bool:
    return abs(count - shots * p) <= 5 * math.sqrt(shots * p * (1 - p)) + 1


# -- values -----------------------------------------------------------------------------------


def test_simulate_counts_follow_the_circuits_probabilities(alice):
    thetas = [0.0, 0.7, math.pi / 2, 2.5, math.pi]
    job_id = alice.submit({f"ry{i}": rotated(t) for i, t in enumerate(thetas)}, shots=4000)
    assert alice.wait(job_id)["status"] == "COMPLETED"
    results = alice.results(job_id)
    assert list(results) == [f"ry{i}" for i in range(len(thetas))]
    for i, theta in enumerate(thetas):
        assert results[f"ry{i}"]["encoding"] == "qh1" and results[f"ry{i}"]["n_bits"] == 1
        counts = decode_histogram(results[f"ry{i}"]).get_counts()
        assert sum(counts.values()) == 4000
        assert within_five_sigma(counts.get("1", 0), 4000, math.sin(theta / 2) ** 2)


def test_bell_pairs_are_correlated_and_balanced(alice):
    job_id = alice.submit({"bell": bell()}, shots=4000)
    alice.wait(job_id)
    counts = decode_histogram(alice.results(job_id)["bell"]).get_counts()
    assert set(counts) == {"00", "11"}
    assert within_five_sigma(counts["11"], 4000, 0.5)


def test_several_registers_travel_as_one_bit_string(alice):
    low, high = ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    circuit = QuantumCircuit(QuantumRegister(3, "q"), low, high)
    circuit.x([1, 2])
    circuit.measure(0, low[0])
    circuit.measure([1, 2], [high[0], high[1]])
    job_id = alice.submit({"regs": circuit}, shots=50)
    alice.wait(job_id)
    result = alice.results(job_id)["regs"]
    assert result["n_bits"] == 3
    # Classical bit 0 rightmost, no register spaces.
    assert decode_histogram(result).get_counts() == {"110": 50}


def test_expectation_values_are_exact_and_big_endian_on_the_wire(alice):
    circuit = QuantumCircuit(2, 2)
    circuit.x(0)  # qubit 0 in |1>
    circuit.h(1)  # qubit 1 in |+>
    circuit.measure([0, 1], [0, 1])  # removed for expectation values
    job_id = alice.submit({"state": circuit}, "EXPECTATION", observables="ZI;IZ;IX;XI;ZX")
    assert alice.wait(job_id)["status"] == "COMPLETED"
    values = alice.results(job_id)["state"]
    expected = {"ZI": -1.0, "IZ": 0.0, "IX": 1.0, "XI": 0.0, "ZX": -1.0}
    assert values.keys() == expected.keys()
    for term, value in expected.items():
        assert values[term] == pytest.approx(value, abs=1e-9)


def test_execute_on_the_fake_qpu_is_noisy(alice):
    job_id = alice.submit({"bell": bell()}, "EXECUTE", "fake_manila", shots=4000)
    assert alice.wait(job_id)["status"] == "COMPLETED"
    counts = decode_histogram(alice.results(job_id)["bell"]).get_counts()
    assert sum(counts.values()) == 4000
    wrong = counts.get("01", 0) + counts.get("10", 0)
    assert 0 < wrong < 0.2 * 4000  # the backend's noise shows, and the pair still mostly agrees


def test_circuit_cut_runs_its_one_circuit_as_a_sampling_job(alice):
    job_id = alice.submit({"only": bell()}, "CIRCUIT_CUT", shots=2000)
    assert alice.wait(job_id)["status"] == "COMPLETED"
    counts = decode_histogram(alice.results(job_id)["only"]).get_counts()
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 2000


def test_the_same_submission_samples_the_same_counts_on_a_seeded_server(alice):
    circuits = {f"ry{i}": rotated(0.3 * i) for i in range(4)}
    first, second = alice.submit(circuits, shots=500), alice.submit(circuits, shots=500)
    alice.wait(first)
    alice.wait(second)
    assert alice.results(first) == alice.results(second)


# -- pagination -----------------------------------------------------------------------------


def test_results_come_in_pages_of_100_with_next_links(alice):
    circuits = {f"c{i:03d}": rotated(0.01 * i) for i in range(250)}
    job_id = alice.submit(circuits, shots=20)
    alice.wait(job_id)
    url = f"job/{job_id}/resultsV2/?limit=100&offset=0"
    sizes, labels = [], []
    while url is not None:
        page = alice.session.get(url if url.startswith("http") else f"{alice.url}/{url}").json()
        sizes.append(len(page["results"]))
        labels += [r["label"] for r in page["results"]]
        assert page["count"] == 250
        url = page["next"]
        if url is not None:
            assert url.startswith(alice.url) and f"offset={sum(sizes)}" in url
    assert sizes == [100, 100, 50]
    assert labels == list(circuits)


def test_a_page_can_start_anywhere(alice):
    job_id = alice.submit({f"c{i}": rotated(0.1) for i in range(12)}, shots=10)
    alice.wait(job_id)
    page = alice.get(f"job/{job_id}/resultsV2/?limit=5&offset=9").json()
    assert [r["label"] for r in page["results"]] == ["c9", "c10", "c11"]
    assert page["next"] is None
    assert alice.get(f"job/{job_id}/resultsV2/?offset=50").json()["results"] == []


# -- failure and cancel ---------------------------------------------------------------------


def test_a_circuit_the_simulator_cannot_hold_fails_its_job_with_a_reason(alice):
    wide = QuantumCircuit(40, 40)
    wide.h(range(40))
    wide.t(range(40))
    wide.measure(range(40), range(40))
    job_id = alice.submit({"fine": bell(), "too_wide": wide}, shots=10)
    status = alice.wait(job_id)
    assert status["status"] == "FAILED"
    assert "'too_wide'" in status["error"] and "40 qubits" in status["error"]
    answer = alice.get(f"job/{job_id}/resultsV2/")
    assert answer.status_code == 400
    assert "FAILED" in answer.json()["detail"] and "too_wide" in answer.json()["detail"]
    assert alice.get("").status_code == 200


def attempts(server: LocalServer, job_id: str) -> int:
    db = sqlite3.connect(server.db_path)
    try:
        return db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    finally:
        db.close()


@pytest.mark.slow
def test_cancel_stops_a_queued_job_before_it_runs():
    with LocalServer(tokens=TOKENS, workers=1, seed=SEED) as server:
        api = Api(server.url, server.token)
        busy = api.submit(heavy(2, seed=1), shots=100)
        queued = api.submit({"a": bell(), "b": bell()}, shots=100)
        answer = api.post(f"job/{queued}/cancel/")
        assert answer.status_code == 200
        assert answer.json()["circuits_cancelled"] == 2
        assert api.wait(busy)["status"] == "COMPLETED"
        assert api.status(queued)["status"] == "CANCELLED"
        assert attempts(server, queued) == 0  # never started


# -- restarts -------------------------------------------------------------------------------


def test_finished_results_survive_a_restart(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    with LocalServer(tokens=TOKENS, db_path=db, seed=SEED) as server:
        api = Api(server.url, server.token)
        done = api.submit({"bell": bell()}, shots=300)
        api.wait(done)
        before = api.results(done)
        still_open = api.init(shots=10)
        api.add(still_open, {"a": bell()}, final=False)
    with LocalServer(tokens=TOKENS, db_path=db, seed=SEED) as server:
        api = Api(server.url, server.token)
        assert api.status(done)["status"] == "COMPLETED"
        assert api.results(done) == before
        assert api.add(still_open, {"b": bell()}).status_code == 200  # finish it now
        assert api.wait(still_open)["status"] == "COMPLETED"
        assert set(api.results(still_open)) == {"a", "b"}
    assert db.exists()


@pytest.mark.slow
def test_a_restart_mid_queue_loses_no_job(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    with LocalServer(tokens=TOKENS, db_path=db, workers=1, seed=SEED) as server:
        api = Api(server.url, server.token)
        jobs = [api.submit(heavy(1, seed=i), shots=64) for i in range(6)]
        pending_at_stop = [j for j in jobs if api.status(j)["status"] != "COMPLETED"]
    assert pending_at_stop  # the restart really cut into the queue
    with LocalServer(tokens=TOKENS, db_path=db, workers=2, seed=SEED) as server:
        api = Api(server.url, server.token)
        for job_id in jobs:
            assert api.wait(job_id)["status"] == "COMPLETED"
            results = api.results(job_id)
            assert len(results) == 1
            assert all(decode_histogram(r).num_shots == 64 for r in results.values())
