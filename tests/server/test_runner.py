"""The job runner without HTTP: worker processes that die, and shutdowns mid-run."""

from __future__ import annotations

import os
import signal
import time

import pytest
from qiskit import qasm2

from qiskit_divi.qoro.codec import pack_circuit
from qiskit_divi.qoro.protocol import JobType, QoroJobStatus
from qiskit_divi.server.config import DEFAULT_SYSTEMS, check_systems
from qiskit_divi.server.runner import Runner
from qiskit_divi.server.store import Store

from .helpers import heavy

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

OWNER = "o" * 64


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "jobs.sqlite3")
    try:
        yield store
    finally:
        store.close()


def busy_job(store: Store) -> str:
    job_id = store.create_job(
        OWNER, tag="t", job_type=JobType.SIMULATE, system="qoro_maestro", shots=10
    )
    circuits = {label: pack_circuit(qasm2.dumps(c)) for label, c in heavy(3, seed=5).items()}
    store.add_circuits(OWNER, job_id, circuits, shots=None, observables=None, finalize=True)
    return job_id


def wait_for(store: Store, job_id: str, status: QoroJobStatus, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while store.job(OWNER, job_id).status is not status:
        assert time.monotonic() < deadline, store.job(OWNER, job_id)
        time.sleep(0.01)


def busy_worker(runner: Runner, timeout: float = 60) -> int:
    """The pid of the one worker process (started when its first job is handed over)."""
    deadline = time.monotonic() + timeout
    while not runner.worker_pids:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (pid,) = runner.worker_pids
    return pid


def attempts(store: Store, job_id: str) -> int:
    return store.job(OWNER, job_id).attempts


def test_a_job_whose_worker_process_dies_runs_again(store):
    runner = Runner(store, check_systems(DEFAULT_SYSTEMS), workers=1)
    runner.start()
    try:
        job_id = busy_job(store)
        runner.submit(job_id)
        wait_for(store, job_id, QoroJobStatus.RUNNING)
        os.kill(busy_worker(runner), signal.SIGKILL)
        wait_for(store, job_id, QoroJobStatus.COMPLETED)
        assert attempts(store, job_id) == 2
        assert len(store.results(OWNER, job_id, limit=10, offset=0)[1]) == 3
    finally:
        runner.stop()


def test_a_shutdown_puts_a_cut_off_job_back_without_counting_it(store):
    runner = Runner(store, check_systems(DEFAULT_SYSTEMS), workers=1)
    runner.start()
    job_id = busy_job(store)
    runner.submit(job_id)
    wait_for(store, job_id, QoroJobStatus.RUNNING)
    runner.stop(grace=0)
    job = store.job(OWNER, job_id)
    assert (job.status, job.attempts) == (QoroJobStatus.PENDING, 0)
    assert store.recover() == [job_id]
