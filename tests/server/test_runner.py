"""The job runner without HTTP: worker processes that die, and shutdowns mid-run."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest
from qiskit import qasm2

from qiskit_divi.qoro.codec import pack_circuit
from qiskit_divi.qoro.protocol import JobType, QoroJobStatus
from qiskit_divi.server import Limits
from qiskit_divi.server import runner as runner_module
from qiskit_divi.server.config import DEFAULT_SYSTEMS, check_systems
from qiskit_divi.server.runner import Runner
from qiskit_divi.server.store import Store

from .helpers import alive, heavy, wait_until

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

OWNER = "o" * 64


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


def test_a_dead_worker_charges_only_the_job_it_was_running(store):
    runner = Runner(store, check_systems(DEFAULT_SYSTEMS), workers=2)
    runner.start()
    try:
        jobs = [busy_job(store), busy_job(store)]
        for job_id in jobs:
            runner.submit(job_id)
        for job_id in jobs:
            wait_for(store, job_id, QoroJobStatus.RUNNING)
        wait_until(lambda: len(runner.worker_pids) == 2, what="two workers")
        os.kill(runner.worker_pids[0], signal.SIGKILL)
        for job_id in jobs:
            wait_for(store, job_id, QoroJobStatus.COMPLETED)
        assert sorted(attempts(store, job_id) for job_id in jobs) == [1, 2]
    finally:
        runner.stop()


def test_cancel_and_delete_end_the_worker_process_running_the_job(store):
    runner = Runner(store, check_systems(DEFAULT_SYSTEMS), workers=1)
    runner.start()
    try:
        for end in (store.cancel, store.delete):
            job_id = busy_job(store)
            runner.submit(job_id)
            wait_for(store, job_id, QoroJobStatus.RUNNING)
            pid = busy_worker(runner)
            end(OWNER, job_id)
            wait_until(
                lambda pid=pid: not alive(pid), what=f"worker {pid} ended by {end.__name__}"
            )
        job_id = busy_job(store)  # and the next job gets a new worker
        runner.submit(job_id)
        wait_for(store, job_id, QoroJobStatus.COMPLETED)
        assert attempts(store, job_id) == 1
    finally:
        runner.stop()


def test_a_job_past_its_time_fails_and_its_worker_is_ended(store):
    runner = Runner(
        store, check_systems(DEFAULT_SYSTEMS), workers=1, limits=Limits(job_seconds=0.5)
    )
    runner.start()
    try:
        job_id = busy_job(store)
        runner.submit(job_id)
        wait_for(store, job_id, QoroJobStatus.RUNNING)
        pid = busy_worker(runner)
        wait_for(store, job_id, QoroJobStatus.FAILED)
        assert (
            "ran longer than 0.5 s, the server's limit (job_seconds)"
            in store.job(OWNER, job_id).error
        )
        assert not alive(pid)
    finally:
        runner.stop()


class FullDisk:
    """A store's connection whose writes fail, as on a full disk, while ``full`` is set."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.full = threading.Event()
        self.refused = 0

    def execute(self, sql: str, *args):
        if self.full.is_set() and sql.split()[0] in ("INSERT", "UPDATE", "DELETE"):
            self.refused += 1
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.db, name)


def test_a_full_disk_pauses_jobs_and_they_resume_once_space_is_back(store, monkeypatch):
    monkeypatch.setattr(runner_module, "STORAGE_RETRY_SECONDS", 0.05)
    disk = FullDisk(store._db)
    store._db = disk
    runner = Runner(store, check_systems(DEFAULT_SYSTEMS), workers=1)
    runner.start()
    try:
        running, queued = busy_job(store), busy_job(store)
        runner.submit(running)
        wait_for(store, running, QoroJobStatus.RUNNING)
        disk.full.set()  # the running job cannot store its results, nor the next be claimed
        runner.submit(queued)
        wait_until(lambda: disk.refused >= 3, what="writes refused")
        assert store.job(OWNER, running).status is QoroJobStatus.RUNNING
        disk.full.clear()
        for job_id in (running, queued):
            wait_for(store, job_id, QoroJobStatus.COMPLETED)
            assert len(store.results(OWNER, job_id, limit=10, offset=0)[1]) == 3
    finally:
        runner.stop()
