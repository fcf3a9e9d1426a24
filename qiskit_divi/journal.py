"""The job journal: every Qoro job submitted from this machine, in a small SQLite file.

The Qoro Service has no endpoint that lists a user's jobs, so the client keeps its own
list: :class:`~qiskit_divi.qoro.client.QoroClient` records each job as soon as the
service has given it an id (before its circuits are uploaded, so a job whose upload
broke off is listed too). A row holds what is needed to find and read the job again,
never the token. The file is ``QISKIT_DIVI_JOURNAL``, else ``jobs.sqlite3`` in the
user's data directory, created readable by its owner only.

A journal that cannot be written never fails a submission: it is a
:class:`~qiskit_divi.exceptions.JournalWarning`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import platformdirs

from .exceptions import JournalWarning

#: The environment variable naming the journal file.
JOURNAL_ENV = "QISKIT_DIVI_JOURNAL"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT NOT NULL,
    api_url TEXT NOT NULL,
    system TEXT NOT NULL,
    job_type TEXT NOT NULL,
    tag TEXT NOT NULL,
    shots INTEGER,
    labels TEXT NOT NULL,
    observables TEXT,
    dialect TEXT NOT NULL,
    submitted REAL NOT NULL,
    PRIMARY KEY (api_url, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (submitted);
"""
#: Columns added since the first journals; an older file gains them when next opened.
_ADDED_COLUMNS = {"primitive": "TEXT"}


@dataclass(frozen=True)
class JournalEntry:
    """One submitted job as the journal keeps it.

    ``labels`` are the circuits' labels in submission order; ``observables`` are an
    ``ESTIMATE`` job's terms as sent (``"ZZ;XX"``); ``submitted`` is UTC. ``primitive``,
    for a job a primitive submitted, is what rebuilds its result without the PUBs
    (:mod:`qiskit_divi.primitives.records`).
    """

    job_id: str
    api_url: str
    system: str
    job_type: str
    tag: str
    shots: int | None
    labels: tuple[str, ...]
    observables: str | None
    dialect: str
    submitted: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    primitive: dict[str, Any] | None = None


#: The columns, one per field of a :class:`JournalEntry` and in its order.
_FIELDS = tuple(f.name for f in fields(JournalEntry))
_COLUMNS = ", ".join(_FIELDS)
_SLOTS = ", ".join("?" * len(_FIELDS))
#: The fields a column keeps in another form, and how they are read back; ``None`` stays
#: ``None`` (NULL) either way.
_TO_COLUMN: dict[str, Callable[[Any], Any]] = {
    "labels": lambda labels: json.dumps(list(labels)),
    "submitted": datetime.timestamp,
    "primitive": json.dumps,
}
_FROM_COLUMN: dict[str, Callable[[Any], Any]] = {
    "labels": lambda text: tuple(json.loads(text)),
    "submitted": lambda seconds: datetime.fromtimestamp(seconds, timezone.utc),
    "primitive": json.loads,
}


class Journal:
    """The journal file at ``path`` (by default ``QISKIT_DIVI_JOURNAL``, else the user's
    data directory); nothing is created until the first record."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            path = os.environ.get(JOURNAL_ENV) or (
                platformdirs.user_data_path("qiskit-divi") / "jobs.sqlite3"
            )
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def record(self, entry: JournalEntry) -> None:
        """Add ``entry`` (replacing an older row for the same job and service).

        Raises:
            OSError, sqlite3.Error: the file cannot be created or written.
        """
        row = [_converted(_TO_COLUMN, name, getattr(entry, name)) for name in _FIELDS]
        with self._connection() as connection:
            connection.execute(f"INSERT OR REPLACE INTO jobs ({_COLUMNS}) VALUES ({_SLOTS})", row)

    def annotate(self, api_url: str, job_ids: list[str], primitive: dict[str, Any]) -> None:
        """Keep ``primitive`` (JSON) with the recorded jobs ``job_ids`` of ``api_url``.

        Raises:
            OSError, sqlite3.Error: the file cannot be written.
        """
        marks = ", ".join("?" * len(job_ids))
        with self._connection() as connection:
            connection.execute(
                f"UPDATE jobs SET primitive = ? WHERE api_url = ? AND job_id IN ({marks})",
                [json.dumps(primitive), api_url, *job_ids],
            )

    def entry(self, api_url: str, job_id: str) -> JournalEntry | None:
        """The recorded job ``job_id`` of ``api_url``, if there is one."""
        if not self.path.exists():
            return None
        query = f"SELECT {_COLUMNS} FROM jobs WHERE api_url = ? AND job_id = ?"
        with self._connection() as connection:
            row = connection.execute(query, [api_url, job_id]).fetchone()
        return None if row is None else _entry(row)

    def entries(
        self,
        *,
        api_url: str | None = None,
        tag: str | None = None,
        system: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[JournalEntry]:
        """The recorded jobs matching every criterion given, newest first.

        ``since`` without a time zone is local time.
        """
        if not self.path.exists():
            return []
        clauses: list[str] = []
        values: list[str | float] = []
        for column, value in (("api_url", api_url), ("tag", tag), ("system", system)):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        if since is not None:
            clauses.append("submitted >= ?")
            values.append(since.timestamp())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY submitted DESC LIMIT ? OFFSET ?"
        with self._connection() as connection:
            rows = connection.execute(query, [*values, -1 if limit is None else limit, offset])
            return [_entry(row) for row in rows]

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is always closed (other processes
        may write at the same time: SQLite's lock serializes them)."""
        if not self.path.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        connection = sqlite3.connect(self.path, timeout=10.0)
        try:
            with connection:
                connection.executescript(_SCHEMA)
                present = {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
                for column, kind in _ADDED_COLUMNS.items():
                    if column not in present:
                        connection.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
                yield connection
        finally:
            connection.close()


def record_submission(entry: JournalEntry) -> None:
    """Record ``entry`` in the default journal; failing to is a warning, never an error."""
    journal = Journal()
    with _warned(journal, f"job {entry.job_id} was", "DiviProvider.jobs() will not list it"):
        journal.record(entry)


def annotate_submission(api_url: str, job_ids: list[str], primitive: dict[str, Any]) -> None:
    """Keep ``primitive`` with recorded jobs in the default journal; failing to is a
    warning, never an error."""
    journal = Journal()
    what = f"jobs {', '.join(job_ids)} were"
    with _warned(journal, what, "retrieving them will need their PUBs"):
        journal.annotate(api_url, job_ids, primitive)


@contextlib.contextmanager
def _warned(journal: Journal, what: str, consequence: str) -> Iterator[None]:
    """A journal that cannot be written is a warning naming ``consequence``: the job was
    submitted all the same."""
    try:
        yield
    except (OSError, sqlite3.Error) as err:
        warnings.warn(
            JournalWarning(
                f"{what} submitted, but the job journal {journal.path} cannot be written "
                f"({err}): {consequence}"
            ),
            stacklevel=5,
        )


def _entry(row: tuple) -> JournalEntry:
    return JournalEntry(
        **{
            name: _converted(_FROM_COLUMN, name, value)
            for name, value in zip(_FIELDS, row, strict=True)
        }
    )


def _converted(forms: dict[str, Callable[[Any], Any]], name: str, value: Any) -> Any:
    """``value`` of field ``name`` in the form ``forms`` gives it, if any."""
    return value if value is None or name not in forms else forms[name](value)
