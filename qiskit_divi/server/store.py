"""SQLite persistence of a local server's jobs, circuits and results.

Every state change is one transaction, so a crash or restart loses no submitted job and
no finished result. One connection serves all threads behind a lock: the server's writes
are small and short.

The file is the server's alone: created readable by its user only (SQLite gives its
``-wal`` and ``-shm`` files the same mode), and locked (``flock``) while a server uses
it, so a second server on the same file refuses to start. Owners are kept as keyed
digests of their tokens, HMAC-SHA-256 under a random key of this database, so the file
holds no token and no digest that a dictionary of common tokens reverses without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import (
    InvalidInputError,
    JobConflictError,
    ServerDatabaseError,
    UnknownJobError,
)
from ..qoro.protocol import JobType, QoroJobStatus

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock
    fcntl = None  # type: ignore[assignment]

# Version 1 kept owners as the plain SHA-256 of their tokens; version 2 adds a key and
# keeps owners as those digests keyed, so a version 1 file is migrated losing no job.
_SCHEMA_VERSION = 2
_KEYS = "CREATE TABLE keys (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
_SCHEMA = f"""
{_KEYS}
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,              -- Store.owner(bearer token)
    tag         TEXT NOT NULL,
    job_type    TEXT NOT NULL,              -- wire value
    system      TEXT NOT NULL,
    shots       INTEGER,
    observables TEXT,                       -- wire form, e.g. "XZ;ZZ"
    status      TEXT NOT NULL,
    finalized   INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0, -- times a worker started it
    error       TEXT,
    created_at  REAL NOT NULL
);
CREATE INDEX jobs_by_owner ON jobs (owner);
CREATE TABLE circuits (
    job_id   TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    label    TEXT NOT NULL,
    payload  TEXT NOT NULL,                 -- base64(gzip(qasm)) as the client sent it
    result   TEXT,                          -- JSON, once the job has completed
    PRIMARY KEY (job_id, label)
);
CREATE UNIQUE INDEX circuits_in_order ON circuits (job_id, position);
"""

_RUNNABLE = QoroJobStatus.PENDING.value
_CANCELLABLE = (QoroJobStatus.PENDING.value, QoroJobStatus.RUNNING.value)


@dataclass(frozen=True)
class Job:
    """A job as stored."""

    id: str
    tag: str
    job_type: JobType
    system: str
    shots: int | None
    observables: str | None
    status: QoroJobStatus
    finalized: bool
    attempts: int
    error: str | None
    n_circuits: int

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> Job:
        return cls(
            id=row["id"],
            tag=row["tag"],
            job_type=JobType(row["job_type"]),
            system=row["system"],
            shots=row["shots"],
            observables=row["observables"],
            status=QoroJobStatus(row["status"]),
            finalized=bool(row["finalized"]),
            attempts=row["attempts"],
            error=row["error"],
            n_circuits=row["n_circuits"],
        )


_JOB_QUERY = """
SELECT jobs.*, (SELECT COUNT(*) FROM circuits WHERE job_id = jobs.id) AS n_circuits
FROM jobs WHERE id = ?
"""


def _owned_job(db: sqlite3.Connection, owner: str, job_id: str) -> Job:
    row = db.execute(_JOB_QUERY, (job_id,)).fetchone()
    if row is None or row["owner"] != owner:
        raise UnknownJobError(f"no job {job_id!r} for this token")
    return Job._from_row(row)


class Store:
    """The jobs of one server, in one SQLite file.

    Raises:
        ServerDatabaseError: the file cannot be opened or created, is not a server
            database of a schema this version reads, or another server holds it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._holder = _hold(self.path)
        self._db = sqlite3.connect(":memory:")  # until the file is open
        try:
            self._open()
        except (sqlite3.Error, OSError) as err:
            self.close()
            raise ServerDatabaseError(
                f"cannot use {self.path} as the server's database: {err}"
            ) from None
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # WAL + NORMAL: a committed transaction survives a crash of the server process.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._owner_key = self._migrate()
        for name in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            if name.exists():  # files an older version made readable by others
                name.chmod(0o600)

    def _migrate(self) -> bytes:
        """Bring the file to this schema; the key owners are digested with."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, _SCHEMA_VERSION):
            raise ServerDatabaseError(
                f"{self.path} holds a server database of schema version {version}; "
                f"this version of qiskit-divi reads versions 1 and {_SCHEMA_VERSION}"
            )
        key = secrets.token_bytes(32)
        new_key = f"INSERT INTO keys (name, value) VALUES ('owner', X'{key.hex()}');"
        if version == 0:
            with self._transaction() as db:
                db.executescript(
                    f"BEGIN; {_SCHEMA} {new_key} PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT;"
                )
        elif version == 1:
            with self._write() as db:
                db.execute(_KEYS)
                db.execute(new_key)
                # Version 1 owners are the SHA-256 digests that owner() keys.
                db.create_function("keyed", 1, lambda digest: _keyed(key, digest))
                db.execute("UPDATE jobs SET owner = keyed(owner)")
                db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        row = self._db.execute("SELECT value FROM keys WHERE name = 'owner'").fetchone()
        return bytes(row["value"])

    def owner(self, token: str) -> str:
        """What the database keeps of a token: a digest keyed with this database's key."""
        return _keyed(self._owner_key, hashlib.sha256(token.encode()).hexdigest())

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:  # pragma: no cover - a bug, not a state
                raise RuntimeError("nested store transaction")
            yield self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: committed when the block ends, rolled back if it raises."""
        with self._transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            os.close(self._holder)  # after SQLite's own descriptors: it holds locks on them

    # -- jobs ---------------------------------------------------------------------------

    def create_job(
        self, owner: str, *, tag: str, job_type: JobType, system: str, shots: int | None
    ) -> str:
        job_id = str(uuid.uuid4())
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (id, owner, tag, job_type, system, shots, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, owner, tag, job_type.value, system, shots, _RUNNABLE, time.time()),
            )
        return job_id

    def job(self, owner: str, job_id: str) -> Job:
        with self._transaction() as db:
            return _owned_job(db, owner, job_id)

    def add_circuits(
        self,
        owner: str,
        job_id: str,
        circuits: Mapping[str, str],
        *,
        shots: int | None,
        observables: str | None,
        finalize: bool,
        max_circuits: int | None = None,
    ) -> int:
        """Append a chunk of ``label -> payload``; returns how many circuits were new.

        A chunk whose circuits are all stored already, with the same payloads, is a
        repeat (a client retrying after a lost answer) and changes nothing.
        """
        with self._write() as db:
            job = _owned_job(db, owner, job_id)
            new = _new_circuits(db, job_id, circuits)
            if not new and (job.finalized or not finalize):
                return 0
            _check_open(job)
            shots = _agreeing("shots", job.shots, shots)
            observables = _agreeing("observables", job.observables, observables)
            total = job.n_circuits + len(new)
            if max_circuits is not None and total > max_circuits:
                raise InvalidInputError(
                    f"{job.job_type.name} jobs take at most {max_circuits} circuit(s); "
                    f"this chunk would make {total}"
                )
            if finalize and total == 0:
                raise InvalidInputError("cannot finalize a job without circuits")
            db.executemany(
                "INSERT INTO circuits (job_id, position, label, payload) VALUES (?, ?, ?, ?)",
                [
                    (job_id, job.n_circuits + i, label, payload)
                    for i, (label, payload) in enumerate(new.items())
                ],
            )
            db.execute(
                "UPDATE jobs SET shots = ?, observables = ?, finalized = ? WHERE id = ?",
                (shots, observables, int(finalize), job_id),
            )
        return len(new)

    def cancel(self, owner: str, job_id: str) -> int:
        """Cancel a pending or running job; returns how many circuits will not run."""
        with self._write() as db:
            job = _owned_job(db, owner, job_id)
            if job.status.value not in _CANCELLABLE:
                raise JobConflictError(
                    f"job {job_id} is {job.status.value}; only PENDING or RUNNING jobs can be "
                    "cancelled"
                )
            db.execute(
                "UPDATE jobs SET status = ? WHERE id = ?", (QoroJobStatus.CANCELLED.value, job_id)
            )
        return job.n_circuits

    def delete(self, owner: str, job_id: str) -> None:
        with self._write() as db:
            _owned_job(db, owner, job_id)
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # -- execution ----------------------------------------------------------------------

    def claim(self, job_id: str, max_attempts: int) -> Job | None:
        """Mark a finalized pending job RUNNING for one worker; ``None`` if it is not runnable.

        A job already started ``max_attempts`` times, each run cut short, is marked
        FAILED instead, so a job that kills its worker or the server cannot do so forever.
        """
        with self._write() as db:
            runnable = (job_id, _RUNNABLE)
            exhausted = db.execute(
                "UPDATE jobs SET status = ?, error = ?"
                " WHERE id = ? AND status = ? AND finalized = 1 AND attempts >= ?",
                (
                    QoroJobStatus.FAILED.value,
                    f"its run was cut short {max_attempts} times (the worker process died "
                    "or the server stopped); not trying again",
                    *runnable,
                    max_attempts,
                ),
            ).rowcount
            claimed = (
                not exhausted
                and db.execute(
                    "UPDATE jobs SET status = ?, attempts = attempts + 1"
                    " WHERE id = ? AND status = ? AND finalized = 1",
                    (QoroJobStatus.RUNNING.value, *runnable),
                ).rowcount
            )
            row = db.execute(_JOB_QUERY, (job_id,)).fetchone()
        return Job._from_row(row) if claimed else None

    def release(self, job_id: str, *, count_attempt: bool) -> None:
        """Put a running job back to PENDING, its run cut short; ``count_attempt=False``
        when the cut was no fault of the job (the server stopping)."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status = ?, attempts = attempts - ? WHERE id = ? AND status = ?",
                (_RUNNABLE, int(not count_attempt), job_id, QoroJobStatus.RUNNING.value),
            )

    def status(self, job_id: str) -> QoroJobStatus | None:
        """A job's status, whoever owns it; ``None`` once it is deleted."""
        with self._transaction() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else QoroJobStatus(row["status"])

    def circuits(self, job_id: str) -> list[tuple[str, str]]:
        """``(label, payload)`` pairs of a job, in the order they were added."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT label, payload FROM circuits WHERE job_id = ? ORDER BY position", (job_id,)
            ).fetchall()
        return [(row["label"], row["payload"]) for row in rows]

    def complete(self, job_id: str, results: Sequence[Any]) -> bool:
        """Store one JSON result per circuit (in order) and mark the job COMPLETED.

        Returns False, storing nothing, when the job stopped running meanwhile
        (cancelled or deleted).
        """
        with self._write() as db:
            done = db.execute(
                "UPDATE jobs SET status = ? WHERE id = ? AND status = ?",
                (QoroJobStatus.COMPLETED.value, job_id, QoroJobStatus.RUNNING.value),
            ).rowcount
            if done:
                db.executemany(
                    "UPDATE circuits SET result = ? WHERE job_id = ? AND position = ?",
                    [(json.dumps(result), job_id, i) for i, result in enumerate(results)],
                )
        return bool(done)

    def fail(self, job_id: str, reason: str) -> bool:
        """Mark a running job FAILED with a reason; False when it stopped running meanwhile."""
        with self._write() as db:
            return bool(
                db.execute(
                    "UPDATE jobs SET status = ?, error = ? WHERE id = ? AND status = ?",
                    (QoroJobStatus.FAILED.value, reason, job_id, QoroJobStatus.RUNNING.value),
                ).rowcount
            )

    def recover(self) -> list[str]:
        """After a restart: the jobs to run, oldest first.

        Jobs a worker was running when the server stopped go back to PENDING; their
        attempt counts, so :meth:`claim` fails one that keeps being cut short.
        """
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status = ? WHERE status = ?",
                (_RUNNABLE, QoroJobStatus.RUNNING.value),
            )
            rows = db.execute(
                "SELECT id FROM jobs WHERE status = ? AND finalized = 1 ORDER BY created_at",
                (_RUNNABLE,),
            ).fetchall()
        return [row["id"] for row in rows]

    # -- results ------------------------------------------------------------------------

    def results(
        self, owner: str, job_id: str, *, limit: int, offset: int
    ) -> tuple[Job, list[tuple[str, Any]]]:
        """The job and one page of its ``(label, result)`` in circuit order.

        The page is empty unless the job has COMPLETED.
        """
        with self._transaction() as db:
            job = _owned_job(db, owner, job_id)
            if job.status is not QoroJobStatus.COMPLETED:
                return job, []
            rows = db.execute(
                "SELECT label, result FROM circuits WHERE job_id = ?"
                " ORDER BY position LIMIT ? OFFSET ?",
                (job_id, limit, offset),
            ).fetchall()
        return job, [(row["label"], json.loads(row["result"])) for row in rows]


def _new_circuits(
    db: sqlite3.Connection, job_id: str, circuits: Mapping[str, str]
) -> dict[str, str]:
    """The chunk's circuits not stored yet; a label stored with another payload is an error."""
    new = dict(circuits)
    labels = list(circuits)
    for start in range(0, len(labels), 500):  # SQLite caps the number of parameters
        batch = labels[start : start + 500]
        rows = db.execute(
            f"SELECT label, payload FROM circuits WHERE job_id = ? AND label IN "
            f"({','.join('?' * len(batch))})",
            (job_id, *batch),
        )
        for label, payload in rows:
            if payload != circuits[label]:
                raise InvalidInputError(f"label {label!r} already holds a different circuit")
            del new[label]
    return new


def _check_open(job: Job) -> None:
    if job.status is not QoroJobStatus.PENDING:
        raise JobConflictError(f"job {job.id} is {job.status.value}; it takes no more circuits")
    if job.finalized:
        raise JobConflictError(f"job {job.id} is finalized; it takes no more circuits")


def _agreeing(name: str, stored: Any, given: Any) -> Any:
    """One value per job: a chunk may repeat it or leave it out, not change it."""
    if given is None or stored is None or given == stored:
        return stored if given is None else given
    raise InvalidInputError(f"{name} {given!r} differ from the job's {stored!r}")


def _keyed(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def _hold(path: Path) -> int:
    """Open (creating it, for this user only) and lock the database file.

    Returns the descriptor that holds the lock until it is closed.
    """
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise ServerDatabaseError(
            f"cannot open or create the server's database {path}: {err.strerror}"
        ) from None
    try:
        if fcntl is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise ServerDatabaseError(
            f"{path} is in use by another qiskit-divi server (it holds the file's lock); "
            "stop that server or give this one another database"
        ) from None
    except OSError as err:
        os.close(descriptor)
        raise ServerDatabaseError(f"cannot lock the server's database {path}: {err}") from None
    return descriptor
