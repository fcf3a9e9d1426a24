"""Dry runs: every face checks and plans its work, sends nothing (asserted against the
local server's own store and the requests made), and the plan is what the real run then
sends (jobs, uploads, bytes) or runs (batches, memory)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import DiviProvider, EstimatorV2, JobType, SamplerV2
from qiskit_divi.backends import QoroService
from qiskit_divi.exceptions import CircuitTooWideError
from qiskit_divi.qoro.client import JobPlan
from qiskit_divi.qoro.execution import SubmissionPlan
from qiskit_divi.server.store import job_cost
from qiskit_divi.simulator.backend import ParallelSimulatorBackend
from qiskit_divi.simulator.execution import SimulationPlan

from server.helpers import stored_jobs
from simulator.circuits import ghz


def rotations(n: int) -> QuantumCircuit:
    theta = Parameter("theta")
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(theta * (q + 1), q)
    qc.measure_all()
    return qc


def posts(sent: list) -> list[tuple[str, int]]:
    """(path, body bytes) of every POST made."""
    return [(r.url.rsplit("/api/", 1)[1], len(r.body)) for r in sent if r.method == "POST"]


def assert_matches(plan: SubmissionPlan, requests_sent: list[tuple[str, int]]) -> None:
    """The plan's jobs, uploads and bytes are the requests the real run then made."""
    inits = [size for path, size in requests_sent if path == "job/init/"]
    uploads = [size for path, size in requests_sent if path.endswith("add_circuits/")]
    assert len(plan.jobs) == len(inits)
    assert plan.uploads == len(uploads)
    assert [job.init_bytes for job in plan.jobs] == pytest.approx(inits, rel=0.01)
    planned = [upload.bytes for job in plan.jobs for upload in job.uploads]
    assert planned == pytest.approx(uploads, rel=0.01)


def test_backend_dry_run_sends_no_job_and_plans_what_the_run_sends(server, journal_path, sent):
    backend = DiviProvider(auth_token=server.token, api_url=server.url).get_backend("qoro")
    circuits = [ghz(2), ghz(3), ghz(4)]
    before = len(stored_jobs(server))
    plan = backend.run(circuits, shots=300, tag="dry", dry_run=True)

    assert len(stored_jobs(server)) == before and not posts(sent)
    assert not journal_path.exists()
    (job,) = plan.jobs
    assert isinstance(job, JobPlan) and job.job_type is JobType.SIMULATE
    assert (job.circuits, job.templates, job.rows) == (3, 0, 0)
    assert job.shots == dict.fromkeys(job.labels, 300)
    assert job.init["tag"] == "dry" and job.uploads[-1].circuits == 3
    assert job.cost is None  # the client knows no credit rule unless told

    sent.clear()
    backend.run(circuits, shots=300, tag="dry").result()
    assert len(stored_jobs(server)) == before + 1
    assert_matches(plan, posts(sent))


def test_dry_run_is_checked_like_the_run(server):
    provider = DiviProvider(auth_token=server.token, api_url=server.url)
    backend = provider.get_backend("fake_manila")
    before = len(stored_jobs(server))
    with pytest.raises(CircuitTooWideError):
        backend.run([ghz(2), ghz(6)], dry_run=True)
    assert len(stored_jobs(server)) == before


def test_primitive_dry_runs_plan_every_qoro_job_and_its_cost(server, journal_path, sent):
    backend = DiviProvider(auth_token=server.token, api_url=server.url).get_backend("qoro")
    backend.client.cost_rule = job_cost
    sampler = SamplerV2(backend)
    pubs = [(rotations(2), np.linspace(0, 1, 4)), (ghz(3), None, 2000)]
    before = len(stored_jobs(server))
    plan = sampler.run(pubs, shots=500, dry_run=True)

    assert len(stored_jobs(server)) == before and not posts(sent)
    # One job on the 2026 wire: the two shot counts travel as shot groups.
    assert [sorted(set(job.shots.values())) for job in plan.jobs] == [[500, 2000]]
    assert plan.circuits == 5
    assert plan.cost == Decimal("4.00")  # 4 x 500 shots + 1 x 2000 shots, 1 per 1000

    sampler.run(pubs, shots=500).result()
    assert_matches(plan, posts(sent))

    estimator = EstimatorV2(backend)
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    observables = [SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.5)]), SparsePauliOp("XX")]
    sent.clear()
    plan = estimator.run([(bell, observables)], dry_run=True)
    assert not posts(sent)
    (job,) = plan.jobs
    assert job.job_type is JobType.ESTIMATE and job.shots == {}
    assert plan.cost == Decimal("1.00")
    estimator.run([(bell, observables)]).result()
    assert_matches(plan, posts(sent))


def test_service_dry_run(server, journal_path, sent):
    service = QoroService(server.token, shots=100, api_url=server.url)
    before = len(stored_jobs(server))
    plan = service.submit_circuits({"a": ghz(2), "b": ghz(2)}, dry_run=True)
    assert len(stored_jobs(server)) == before and not posts(sent)
    assert plan.jobs[0].labels == ("a", "b") and plan.jobs[0].shots == {"a": 100, "b": 100}
    job_id = service.submit_circuits({"a": ghz(2), "b": ghz(2)})
    service.poll_job_status(job_id, loop_until_complete=True, progress=False)
    assert_matches(plan, posts(sent))


def test_simulator_dry_run_plans_batches_processes_and_memory():
    backend = ParallelSimulatorBackend(n_processes=2)
    circuits = [ghz(3)] * 40 + [ghz(10)]
    plan = backend.run(circuits, shots=100, dry_run=True)
    assert isinstance(plan, SimulationPlan)
    (batch,) = plan.batches
    assert batch.items == tuple(range(41)) and batch.circuits == 41 and batch.shots == 100
    # 41 small circuits are cheaper to run in one chunk than to ship to two workers.
    assert batch.chunks == 1 and batch.processes == 1
    assert plan.memory_per_circuit == (16 * 2**3,) * 40 + (16 * 2**10,)

    noisy = ParallelSimulatorBackend(qiskit_backend=FakeManilaV2())
    plan = noisy.run([ghz(3)], dry_run=True)
    assert plan.memory_per_circuit == (16 * 4**3,)
    reset = QuantumCircuit(2, 2)
    reset.h(0)
    reset.reset(0)
    reset.measure([0, 1], [0, 1])
    assert backend.run(reset, dry_run=True).memory_per_circuit == (16 * 4**2,)


def test_estimator_dry_run_on_the_simulator_lists_its_batches():
    backend = ParallelSimulatorBackend(n_processes=1)
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    plan = EstimatorV2(backend).run(
        [(bell, observables), (bell, observables, None, 0.1)], dry_run=True
    )
    exact, sampled = plan.batches
    assert exact.items == (0,) and exact.shots is None
    # ZZ and ZI share a basis, XX needs another: qubit-wise-commuting groups, so two basis circuits
    assert sampled.items == (1,) and sampled.shots == 100 and sampled.circuits == 2
    assert plan.memory_per_circuit == (64, 64)
