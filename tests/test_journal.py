"""The job journal: every Qoro job submitted here is recorded, listed with its status now,
filtered, readable from another process, and a journal that cannot be written costs a
warning, never the job."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from qiskit import QuantumCircuit

from qiskit_divi import DiviProvider, JobType, QoroJobStatus
from qiskit_divi.backends import QoroService
from qiskit_divi.exceptions import InvalidInputError, JournalWarning, MissingCredentialsError
from qiskit_divi.journal import Journal, JournalEntry

from server.helpers import run_elsewhere

LIST_JOBS = textwrap.dedent(
    """
    import json
    from qiskit_divi import DiviProvider

    print(json.dumps([[r.job_id, r.status.value, list(r.entry.labels)]
                      for r in DiviProvider().jobs(limit=5)]))
    """
)


def bell(name: str = "bell") -> QuantumCircuit:
    qc = QuantumCircuit(2, name=name)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


@pytest.fixture
def provider(server, journal_path) -> DiviProvider:
    return DiviProvider(auth_token=server.token, api_url=server.url)


def test_a_submission_is_recorded_without_the_token(provider, server, journal_path):
    before = datetime.now(timezone.utc)
    backend = provider.get_backend("qoro", tag="study-1")
    job = backend.run([bell("a"), bell("b")], shots=100)

    (entry,) = Journal().entries()
    assert entry == JournalEntry(
        job_id=job.job_id(),
        api_url=server.url,
        system="qoro_maestro",
        job_type="SIMULATE",
        tag="study-1",
        shots=100,
        labels=("0_a", "1_b"),
        observables=None,
        dialect="2026",
        submitted=entry.submitted,
    )
    assert before <= entry.submitted <= datetime.now(timezone.utc)
    assert stat.S_IMODE(os.stat(journal_path).st_mode) == 0o600
    assert server.token.encode() not in journal_path.read_bytes()
    job.result(timeout=120)


def test_an_estimate_job_records_its_observables(server, journal_path):
    service = QoroService(server.token, api_url=server.url)
    job_id = service.submit_circuits({"c": bell()}, job_type=JobType.ESTIMATE, observables="ZZ;XX")

    (entry,) = Journal().entries()
    assert (entry.job_id, entry.job_type, entry.observables) == (job_id, "EXPECTATION", "ZZ;XX")


def test_jobs_are_listed_newest_first_with_their_status_and_filtered(provider, server):
    qoro = provider.get_backend("qoro")
    first = qoro.run(bell(), shots=10, tag="a")
    second = provider.get_backend("fake_manila").run(bell(), shots=10, tag="b")
    third = qoro.run(bell(), shots=10, tag="a")
    for job in (first, second, third):
        job.result(timeout=120)
    provider.retrieve_job(first.job_id()).client.delete_job(first.job_id())

    listed = provider.jobs()
    assert [r.job_id for r in listed] == [third.job_id(), second.job_id(), first.job_id()]
    assert [r.status for r in listed] == [QoroJobStatus.COMPLETED] * 2 + [None]
    assert [r.job_id for r in provider.jobs(limit=1)] == [third.job_id()]
    assert [r.job_id for r in provider.jobs(tag="a")] == [third.job_id(), first.job_id()]
    assert [r.job_id for r in provider.jobs(backend="fake_manila")] == [second.job_id()]
    assert [r.job_id for r in provider.jobs(backend="qoro", tag="b")] == []
    completed = provider.jobs(status="completed")
    assert [r.job_id for r in completed] == [third.job_id(), second.job_id()]
    assert provider.jobs(status=QoroJobStatus.FAILED) == []
    later = datetime.now() + timedelta(minutes=1)
    assert provider.jobs(since=later) == []
    assert len(provider.jobs(since=datetime.now() - timedelta(minutes=5))) == 3


def test_only_jobs_of_the_providers_own_service_are_listed(provider, server, journal_path):
    provider.get_backend("qoro").run(bell(), shots=10).result(timeout=120)
    other = ("elsewhere-1", "https://other.test/api", "s", "SIMULATE", "t", 1, (), None, "2025")
    Journal().record(JournalEntry(*other))
    assert len(Journal().entries()) == 2
    assert [r.entry.api_url for r in provider.jobs()] == [server.url]


def test_bad_filters_are_refused(provider):
    with pytest.raises(InvalidInputError, match="status"):
        provider.jobs(status="DONE")
    with pytest.raises(InvalidInputError, match="limit"):
        provider.jobs(limit=0)
    with pytest.raises(MissingCredentialsError, match="listing jobs"):
        DiviProvider().jobs()


def test_the_journal_is_read_back_in_a_new_process(provider, server, journal_path, tmp_path):
    job = provider.get_backend("qoro").run([bell("x"), bell("y")], shots=10)
    job.result(timeout=120)

    answer = run_elsewhere(server, LIST_JOBS, cwd=tmp_path)
    assert json.loads(answer) == [[job.job_id(), "COMPLETED", ["0_x", "1_y"]]]


def test_a_journal_that_cannot_be_written_is_a_warning_not_a_failure(
    server, tmp_path, monkeypatch
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder should be")
    monkeypatch.setenv("QISKIT_DIVI_JOURNAL", str(blocker / "jobs.sqlite3"))
    backend = DiviProvider(auth_token=server.token, api_url=server.url).get_backend("qoro")

    with pytest.warns(JournalWarning, match="cannot be written") as caught:
        job = backend.run(bell(), shots=50)
    assert job.job_id() in str(caught[0].message)
    assert server.token not in str(caught[0].message)
    assert sum(job.result(timeout=120).get_counts().values()) == 50


def test_a_journal_from_before_the_primitive_column_is_read_and_extended(tmp_path):
    """A file written before ``primitive`` was kept gains the column when next opened."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE jobs (job_id TEXT NOT NULL, api_url TEXT NOT NULL, system TEXT NOT "
            "NULL, job_type TEXT NOT NULL, tag TEXT NOT NULL, shots INTEGER, labels TEXT NOT "
            "NULL, observables TEXT, dialect TEXT NOT NULL, submitted REAL NOT NULL, "
            "PRIMARY KEY (api_url, job_id))"
        )
        connection.execute(
            "INSERT INTO jobs VALUES ('old', 'http://u', 's', 'SIMULATE', 't', 5, '[\"a\"]', "
            "NULL, '2026', 0)"
        )
    connection.close()
    journal = Journal(path)
    old = journal.entry("http://u", "old")
    assert old is not None and old.primitive is None and old.labels == ("a",)
    journal.annotate("http://u", ["old"], {"primitive": "sampler", "pubs": []})
    assert journal.entry("http://u", "old").primitive == {"primitive": "sampler", "pubs": []}
    assert [e.job_id for e in journal.entries()] == ["old"]
