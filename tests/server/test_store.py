"""The server's SQLite store: state changes, idempotent chunks, ownership and recovery."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from decimal import Decimal

import pytest

from qiskit_divi.exceptions import InvalidInputError, ServerDatabaseError
from qiskit_divi.qoro.protocol import JobType, QoroJobStatus
from qiskit_divi.server.store import (
    _SCHEMA_V1,
    JobConflictError,
    Store,
    UnknownJobError,
    job_cost,
)

ALICE, BOB = "a" * 64, "b" * 64


def new_job(store, job_type=JobType.SIMULATE, owner=ALICE, shots=100):
    return store.create_job(owner, tag="t", job_type=job_type, system="qoro_maestro", shots=shots)


def add(store, job_id, circuits, finalize=False, owner=ALICE, **kwargs):
    kwargs.setdefault("shots", None)
    kwargs.setdefault("observables", None)
    return store.add_circuits(owner, job_id, circuits, finalize=finalize, **kwargs)


def test_a_new_job_is_pending_and_empty(store):
    job = store.job(ALICE, new_job(store))
    assert (job.status, job.finalized, job.n_circuits, job.shots) == (
        QoroJobStatus.PENDING,
        False,
        0,
        100,
    )


def test_another_owner_cannot_see_touch_or_delete_a_job(store):
    job_id = new_job(store)
    for action in (
        lambda: store.job(BOB, job_id),
        lambda: add(store, job_id, {"c": "x"}, owner=BOB),
        lambda: store.cancel(BOB, job_id),
        lambda: store.delete(BOB, job_id),
        lambda: store.results(BOB, job_id, limit=10, offset=0),
    ):
        with pytest.raises(UnknownJobError):
            action()
    assert store.job(ALICE, job_id).status is QoroJobStatus.PENDING


def test_chunks_append_in_order_and_a_repeated_chunk_changes_nothing(store):
    job_id = new_job(store)
    assert add(store, job_id, {"b": "1", "a": "2"}) == 2
    assert add(store, job_id, {"b": "1", "a": "2"}) == 0
    assert add(store, job_id, {"c": "3"}, finalize=True) == 1
    assert add(store, job_id, {"c": "3"}, finalize=True) == 0  # the final chunk, retried
    assert store.circuits(job_id) == [("b", "1"), ("a", "2"), ("c", "3")]
    assert store.job(ALICE, job_id).finalized


def test_a_label_cannot_change_its_circuit(store):
    job_id = new_job(store)
    add(store, job_id, {"a": "1"})
    with pytest.raises(InvalidInputError, match="'a' already holds a different circuit"):
        add(store, job_id, {"a": "2"})


def test_a_finalized_job_takes_no_new_circuits(store):
    job_id = new_job(store)
    add(store, job_id, {"a": "1"}, finalize=True)
    with pytest.raises(JobConflictError, match="finalized"):
        add(store, job_id, {"b": "2"})


def test_a_job_cannot_be_finalized_empty_or_change_its_shots(store):
    job_id = new_job(store)
    with pytest.raises(InvalidInputError, match="without circuits"):
        add(store, job_id, {}, finalize=True)
    with pytest.raises(InvalidInputError, match="shots 7 differ from the job's 100"):
        add(store, job_id, {"a": "1"}, shots=7)


def test_circuit_limit(store):
    job_id = new_job(store, JobType.CIRCUIT_CUT)
    with pytest.raises(InvalidInputError, match="at most 1 circuit"):
        add(store, job_id, {"a": "1", "b": "2"}, max_circuits=1)
    assert store.job(ALICE, job_id).n_circuits == 0  # the refused chunk left nothing


def test_a_job_runs_once_and_its_results_page_in_order(store):
    job_id = new_job(store)
    add(store, job_id, {f"c{i}": str(i) for i in range(5)}, finalize=True)
    claimed = store.claim(job_id, 3)
    assert claimed is not None and claimed.status is QoroJobStatus.RUNNING
    assert store.claim(job_id, 3) is None
    assert store.complete(job_id, [{"n": i} for i in range(5)])
    job, page = store.results(ALICE, job_id, limit=2, offset=2)
    assert job.status is QoroJobStatus.COMPLETED
    assert page == [("c2", {"n": 2}), ("c3", {"n": 3})]


def test_an_unfinalized_job_is_not_runnable(store):
    job_id = new_job(store)
    add(store, job_id, {"a": "1"})
    assert store.claim(job_id, 3) is None


def test_cancel_pending_and_running_but_not_finished_jobs(store):
    pending, running = new_job(store), new_job(store)
    for job_id in (pending, running):
        add(store, job_id, {"a": "1", "b": "2"}, finalize=True)
    store.claim(running, 3)
    assert store.cancel(ALICE, pending) == 2
    assert store.cancel(ALICE, running) == 2
    assert not store.complete(running, [{}, {}])  # a cancelled run's results are dropped
    assert store.job(ALICE, running).status is QoroJobStatus.CANCELLED
    with pytest.raises(JobConflictError, match="is CANCELLED"):
        store.cancel(ALICE, pending)
    assert store.claim(pending, 3) is None


def test_failure_keeps_its_reason(store):
    job_id = new_job(store)
    add(store, job_id, {"a": "1"}, finalize=True)
    store.claim(job_id, 3)
    assert store.fail(job_id, "ValueError: boom")
    job = store.job(ALICE, job_id)
    assert (job.status, job.error) == (QoroJobStatus.FAILED, "ValueError: boom")


def test_delete_removes_the_job_and_its_circuits(store, tmp_path):
    job_id = new_job(store)
    add(store, job_id, {"a": "1"})
    store.delete(ALICE, job_id)
    with pytest.raises(UnknownJobError):
        store.job(ALICE, job_id)
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM circuits").fetchone()[0] == 0
    db.close()


def test_reopening_keeps_everything_and_requeues_interrupted_jobs(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    store = Store(path)
    done, interrupted, queued, open_job = (new_job(store) for _ in range(4))
    for job_id in (done, interrupted, queued):
        add(store, job_id, {"a": "1"}, finalize=True)
    add(store, open_job, {"a": "1"})
    store.claim(done, 3)
    store.complete(done, [{"x": 1}])
    store.claim(interrupted, 3)
    store.close()

    store = Store(path)
    try:
        assert store.recover() == [interrupted, queued]
        assert store.job(ALICE, interrupted).status is QoroJobStatus.PENDING
        assert store.results(ALICE, done, limit=5, offset=0)[1] == [("a", {"x": 1})]
        assert store.job(ALICE, open_job).n_circuits == 1
    finally:
        store.close()


def test_a_job_whose_runs_keep_being_cut_short_fails(store):
    job_id = new_job(store)
    add(store, job_id, {"a": "1"}, finalize=True)
    store.claim(job_id, 3)
    store.release(job_id, count_attempt=True)  # its worker process died
    store.claim(job_id, 3)
    assert store.recover() == [job_id]  # the server stopped mid-run
    store.claim(job_id, 3)
    store.release(job_id, count_attempt=True)
    assert store.claim(job_id, 3) is None
    job = store.job(ALICE, job_id)
    assert job.status is QoroJobStatus.FAILED
    assert "cut short 3 times" in job.error


def test_a_run_stopped_by_a_shutdown_does_not_count(store):
    job_id = new_job(store)
    add(store, job_id, {"a": "1"}, finalize=True)
    for _ in range(5):
        assert store.claim(job_id, 3) is not None
        store.release(job_id, count_attempt=False)
    assert store.job(ALICE, job_id).status is QoroJobStatus.PENDING


def test_a_database_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(InvalidInputError, match="schema version 99"):
        Store(path)


def test_the_database_and_its_journal_are_private_to_the_user(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    store = Store(path)
    try:
        add(store, new_job(store), {"a": "1"})  # the write-ahead log now exists
        for name in (path, tmp_path / "jobs.sqlite3-wal", tmp_path / "jobs.sqlite3-shm"):
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
    finally:
        store.close()


def test_owners_are_kept_as_digests_keyed_per_database(tmp_path):
    first, second = Store(tmp_path / "one.sqlite3"), Store(tmp_path / "two.sqlite3")
    try:
        assert first.owner("test-token") == first.owner("test-token")
        assert first.owner("test-token") != second.owner("test-token")
        plain = hashlib.sha256(b"test-token").hexdigest()
        assert first.owner("test-token") != plain
        job_id = new_job(first, owner=first.owner("test-token"))
        assert first.job(first.owner("test-token"), job_id).id == job_id
    finally:
        first.close()
        second.close()


def test_a_version_1_database_is_migrated_and_its_jobs_run_as_before(tmp_path):
    path = tmp_path / "old.sqlite3"
    plain = hashlib.sha256(b"test-token").hexdigest()  # how version 1 kept owners
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA_V1 + "PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO jobs (id, owner, tag, job_type, system, shots, status, finalized,"
            " created_at) VALUES ('j', ?, 't', 'SIMULATE', 'qoro_maestro', 7, 'PENDING', 1, 0)",
            (plain,),
        )
        db.execute(
            "INSERT INTO circuits (job_id, position, label, payload) VALUES ('j', 0, 'a', 'p')"
        )
    db.close()

    store = Store(path)
    try:
        assert store.circuit_runs("j") == [("a", "p", 7, None)]
        assert store.job(store.owner("test-token"), "j").dialect is None
        with pytest.raises(UnknownJobError):
            store.job(plain, "j")
        assert store.recover() == ["j"]
    finally:
        store.close()


def test_a_second_store_on_the_same_file_is_refused_naming_it(store):
    with pytest.raises(
        ServerDatabaseError, match="is in use by another qiskit-divi server"
    ) as err:
        Store(store.path)
    assert str(store.path) in str(err.value)
    assert store.job(ALICE, new_job(store)).status is QoroJobStatus.PENDING  # unharmed


def not_a_database(folder):
    path = folder / "notes.txt"
    path.write_text("not a database" * 100)
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp: tmp / "missing" / "jobs.sqlite3", "No such file or directory"),
        (lambda tmp: tmp, "Is a directory"),
        (not_a_database, "file is not a database"),
    ],
)
def test_an_unusable_path_is_refused_naming_it(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(ServerDatabaseError, match=problem) as err:
        Store(path)
    assert str(path) in str(err.value)


def test_job_cost_is_rounded_up_to_the_cent():
    assert job_cost([(1000, None), (1, None)]) == Decimal("1.01")
    assert job_cost([(None, "ZZ"), (2500, None)]) == Decimal("3.50")
    assert job_cost([]) == Decimal("0.00")
