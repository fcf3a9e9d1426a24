"""SQLite persistence of a local server's jobs, circuits, results and credit ledger.

Every state change is one transaction, so a crash or restart loses no submitted job and
no finished result, and a job is charged exactly when it is finalized. One connection
serves all threads behind a lock: the server's writes are small and short.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
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

_SCHEMA_VERSION = 2
#: Version 1 (qiskit-divi 0.1) kept owners as the plain SHA-256 of their tokens.
_SCHEMA_V1 = """
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,              -- SHA-256 of the token; keyed since v2
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
#: Version 2: owners keyed with a key of this database (see ``Store.owner``), each
#: circuit its own shots or observables (shot groups, observable groups, template rows), a
#: job's wire dialect and settings, and the credit ledger.
_SCHEMA_V2 = """
CREATE TABLE keys (name TEXT PRIMARY KEY, value BLOB NOT NULL);
ALTER TABLE jobs ADD COLUMN dialect TEXT;   -- "2025", "2026", or NULL until it shows
ALTER TABLE jobs ADD COLUMN settings TEXT;  -- JSON {"maestro_config", "device_config"}
ALTER TABLE circuits ADD COLUMN shots INTEGER;
ALTER TABLE circuits ADD COLUMN observables TEXT;  -- dense terms, e.g. "XZ;ZZ"
CREATE TABLE accounts (
    owner      TEXT PRIMARY KEY,
    balance    TEXT NOT NULL,               -- decimal text, exact
    total_used TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE transactions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    owner            TEXT NOT NULL,
    amount           TEXT NOT NULL,
    balance_after    TEXT NOT NULL,
    transaction_type TEXT NOT NULL,
    description      TEXT NOT NULL,
    job_id           TEXT,
    created_at       REAL NOT NULL
);
CREATE INDEX transactions_by_owner ON transactions (owner, id);
"""
#: The schema changes that lead from each version to the next.
_MIGRATIONS = {0: _SCHEMA_V1, 1: _SCHEMA_V2}

#: What a job costs: a sampled circuit 1 credit per 1000 shots, an expectation circuit 1
#: credit; the job pays the sum, rounded up to the cent, when it is finalized.
CREDITS_PER_1000_SHOTS = Decimal(1)
CREDITS_PER_EXPECTATION_CIRCUIT = Decimal(1)
_CENT = Decimal("0.01")

_RUNNABLE = QoroJobStatus.PENDING.value
_INSUFFICIENT = QoroJobStatus.INSUFFICIENT_CREDITS.value
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
    dialect: str | None = None
    settings: dict[str, Any] | None = None

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> Job:
        return cls(
            dialect=row["dialect"],
            settings=None if row["settings"] is None else json.loads(row["settings"]),
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
        self._ledger = False
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
        if version in _MIGRATIONS:
            steps = " ".join(_MIGRATIONS[v] for v in range(version, _SCHEMA_VERSION))
            key = secrets.token_bytes(32)
            # Owners stored so far are the SHA-256 digests that owner() keys.
            self._db.create_function("keyed", 1, lambda digest: _keyed(key, digest))
            with self._transaction() as db:
                db.executescript(
                    f"BEGIN; {steps}"
                    f" INSERT INTO keys (name, value) VALUES ('owner', X'{key.hex()}');"
                    " UPDATE jobs SET owner = keyed(owner);"
                    f" PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT;"
                )
        elif version != _SCHEMA_VERSION:
            raise ServerDatabaseError(
                f"{self.path} holds a server database of schema version {version}; "
                f"this version of qiskit-divi reads versions 1 and {_SCHEMA_VERSION}"
            )
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
        self,
        owner: str,
        *,
        tag: str,
        job_type: JobType,
        system: str,
        shots: int | None,
        dialect: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> str:
        job_id = str(uuid.uuid4())
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (id, owner, tag, job_type, system, shots, status, created_at,"
                " dialect, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    owner,
                    tag,
                    job_type.value,
                    system,
                    shots,
                    _RUNNABLE,
                    time.time(),
                    dialect,
                    None if settings is None else json.dumps(settings),
                ),
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
        max_outcomes: int | None = None,
        circuit_shots: Mapping[str, int] | None = None,
        circuit_observables: Mapping[str, str] | None = None,
        dialect: str | None = None,
    ) -> int:
        """Append a chunk of ``label -> payload``; returns how many circuits were new.

        ``shots`` and ``observables`` are the job's own (one value per job: a chunk may
        repeat or leave them out, not change them); ``circuit_shots`` and
        ``circuit_observables`` a circuit's own, where the chunk gives each its own.
        ``dialect`` settles the job's dialect if it was not known yet. A job holds at most
        ``max_circuits`` circuits and ``max_outcomes`` sampled outcomes (shots summed over
        its circuits). A chunk whose
        circuits are all stored already, with the same payloads, is a repeat (a client
        retrying after a lost answer) and changes nothing. The finalizing chunk charges
        the job (:func:`job_cost`) when the server keeps a ledger; a job its owner cannot
        pay for ends INSUFFICIENT_CREDITS instead.
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
            each_shots = circuit_shots or {}
            if max_outcomes is not None:
                stored = db.execute(
                    "SELECT COALESCE(SUM(shots), 0) FROM circuits WHERE job_id = ?", (job_id,)
                ).fetchone()[0]
                outcomes = stored + sum(each_shots.get(label, shots) or 0 for label in new)
                if outcomes > max_outcomes:
                    raise InvalidInputError(
                        f"a job may ask for at most {max_outcomes} outcomes (shots summed "
                        f"over its circuits: the server's max_outcomes); this chunk would "
                        f"make {outcomes}"
                    )
            each_observables = circuit_observables or {}
            db.executemany(
                "INSERT INTO circuits (job_id, position, label, payload, shots, observables)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        job_id,
                        job.n_circuits + i,
                        label,
                        payload,
                        each_shots.get(label, shots),
                        each_observables.get(label, observables),
                    )
                    for i, (label, payload) in enumerate(new.items())
                ],
            )
            db.execute(
                "UPDATE jobs SET shots = ?, observables = ?, finalized = ?,"
                " dialect = COALESCE(dialect, ?) WHERE id = ?",
                (shots, observables, int(finalize), dialect, job_id),
            )
            if finalize and self.ledger:
                self._charge(db, owner, job_id)
        return len(new)

    # -- the credit ledger ----------------------------------------------------------------

    @property
    def ledger(self) -> bool:
        """Whether this server keeps a credit ledger (see :meth:`open_accounts`)."""
        return self._ledger

    def open_accounts(self, owners: Iterable[str], credits: Decimal) -> None:
        """Keep a ledger: each owner without an account gets one holding ``credits``
        (an owner with one keeps its balance across restarts)."""
        now = time.time()
        with self._write() as db:
            for owner in owners:
                opened = db.execute(
                    "INSERT OR IGNORE INTO accounts VALUES (?, ?, '0', ?, ?)",
                    (owner, str(credits), now, now),
                ).rowcount
                if opened:
                    db.execute(
                        "INSERT INTO transactions (owner, amount, balance_after,"
                        " transaction_type, description, job_id, created_at)"
                        " VALUES (?, ?, ?, 'GRANT', 'opening balance', NULL, ?)",
                        (owner, str(credits), str(credits), now),
                    )
        self._ledger = True

    def balance(self, owner: str) -> dict[str, Any]:
        """The owner's account as ``credits/`` answers it."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM accounts WHERE owner = ?", (owner,)).fetchone()
        if row is None:
            raise UnknownJobError("this token has no credit account")
        return {
            "balance": row["balance"],
            "total_used": row["total_used"],
            "created_at": _timestamp(row["created_at"]),
            "updated_at": _timestamp(row["updated_at"]),
        }

    def transactions(
        self, owner: str, *, page: int, page_size: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many transactions the owner has, and one page of them, newest first."""
        with self._transaction() as db:
            count = db.execute(
                "SELECT COUNT(*) FROM transactions WHERE owner = ?", (owner,)
            ).fetchone()[0]
            rows = db.execute(
                "SELECT * FROM transactions WHERE owner = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                (owner, page_size, (page - 1) * page_size),
            ).fetchall()
        return count, [
            {
                "id": row["id"],
                "amount": row["amount"],
                "balance_after": row["balance_after"],
                "transaction_type": row["transaction_type"],
                "description": row["description"],
                "job_id": row["job_id"],
                "created_at": _timestamp(row["created_at"]),
            }
            for row in rows
        ]

    def _charge(self, db: sqlite3.Connection, owner: str, job_id: str) -> None:
        """Charge a finalized job to its owner, or end it INSUFFICIENT_CREDITS."""
        rows = db.execute(
            "SELECT shots, observables FROM circuits WHERE job_id = ?", (job_id,)
        ).fetchall()
        cost = job_cost((row["shots"], row["observables"]) for row in rows)
        account = db.execute("SELECT * FROM accounts WHERE owner = ?", (owner,)).fetchone()
        balance = Decimal(account["balance"]) if account is not None else Decimal(0)
        if cost > balance:
            db.execute(
                "UPDATE jobs SET status = ?, error = ? WHERE id = ?",
                (
                    _INSUFFICIENT,
                    f"the job costs {cost} credits and the balance is {balance}",
                    job_id,
                ),
            )
            return
        now = time.time()
        db.execute(
            "UPDATE accounts SET balance = ?, total_used = ?, updated_at = ? WHERE owner = ?",
            (str(balance - cost), str(Decimal(account["total_used"]) + cost), now, owner),
        )
        db.execute(
            "INSERT INTO transactions (owner, amount, balance_after, transaction_type,"
            " description, job_id, created_at) VALUES (?, ?, ?, 'USAGE', ?, ?, ?)",
            (owner, str(-cost), str(balance - cost), f"{len(rows)} circuits", job_id, now),
        )

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
        return [(label, payload) for label, payload, _, _ in self.circuit_runs(job_id)]

    def circuit_runs(self, job_id: str) -> list[tuple[str, str, int | None, str | None]]:
        """``(label, payload, shots, observables)`` of a job's circuits, in order: each
        circuit's own shots or observables, else the job's."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT label, payload, COALESCE(circuits.shots, jobs.shots) AS shots,"
                " COALESCE(circuits.observables, jobs.observables) AS observables"
                " FROM circuits JOIN jobs ON jobs.id = circuits.job_id"
                " WHERE job_id = ? ORDER BY position",
                (job_id,),
            ).fetchall()
        return [(r["label"], r["payload"], r["shots"], r["observables"]) for r in rows]

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


def job_cost(circuits: Iterable[tuple[int | None, str | None]]) -> Decimal:
    """What a job of ``(shots, observables)`` circuits costs: :data:`CREDITS_PER_1000_SHOTS`
    for each thousand shots sampled, :data:`CREDITS_PER_EXPECTATION_CIRCUIT` for each
    circuit of expectation values, the sum rounded up to the cent."""
    total = Decimal(0)
    for shots, observables in circuits:
        if observables is not None:
            total += CREDITS_PER_EXPECTATION_CIRCUIT
        else:
            total += CREDITS_PER_1000_SHOTS * (shots or 0) / 1000
    return total.quantize(_CENT, rounding=ROUND_UP)


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
