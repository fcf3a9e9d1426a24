"""The command line's account and job commands against a real local server: both output
forms, many ids at once, exit statuses that say what happened, and never the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from qiskit_divi import DiviProvider, JobType
from qiskit_divi.backends import QoroService
from qiskit_divi.cli import (
    EXIT_CREDENTIALS,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_SERVICE,
    EXIT_USAGE,
    exit_status,
    main,
)
from qiskit_divi.exceptions import (
    AuthenticationError,
    CorruptResultError,
    JobCancelledError,
    JobNotFoundError,
    MissingCredentialsError,
    QoroConnectionError,
)
from qiskit_divi.qoro.protocol import DEFAULT_API_URL, Dialect
from qiskit_divi.server import LocalServer

from simulator.circuits import ghz


@pytest.fixture
def cli(server, journal_path, clean_cwd, monkeypatch, capsys):
    """Run ``qiskit-divi ARGS`` in this process with the server's credentials in the
    environment; returns (exit status, stdout, stderr), checked to hold no token."""
    monkeypatch.setenv("QORO_API_KEY", server.token)
    monkeypatch.setenv("QORO_API_URL", server.url)

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        assert server.token not in out + err
        return status, out, err

    return run


@pytest.fixture
def finished(server, journal_path) -> dict[str, str]:
    """Three finished jobs by kind: counts (tag "cli"), expectation values, and a failure."""
    backend = DiviProvider(auth_token=server.token, api_url=server.url).get_backend("qoro")
    counts = backend.run([ghz(2, "a"), ghz(3, "b")], shots=200, tag="cli")
    service = QoroService(server.token, api_url=server.url)
    circuit = ghz(2).remove_final_measurements(inplace=False)
    values = service.submit_circuits({"c": circuit}, JobType.ESTIMATE, observables="ZZ;XX")
    failed = backend.run(ghz(40), shots=10)
    service.poll_job_status([values, failed.job_id()], loop_until_complete=True, progress=False)
    return {"counts": counts.job_id(), "values": values, "failed": failed.job_id()}


def test_jobs_lists_the_journal_with_statuses_in_both_forms(cli, finished):
    status, out, _ = cli("jobs", "--json")
    rows = json.loads(out)
    assert status == EXIT_OK
    assert [r["job_id"] for r in rows] == [finished[k] for k in ("failed", "values", "counts")]
    assert [r["status"] for r in rows] == ["FAILED", "COMPLETED", "COMPLETED"]
    assert rows[2]["labels"] == ["0_a", "1_b"] and rows[1]["observables"] == "ZZ;XX"

    _, out, _ = cli("jobs", "--json", "--tag", "cli")
    assert [r["job_id"] for r in json.loads(out)] == [finished["counts"]]
    _, out, _ = cli("jobs", "--json", "--status", "failed", "--since", "2000-01-01")
    assert [r["job_id"] for r in json.loads(out)] == [finished["failed"]]
    status, out, _ = cli("jobs", "--limit", "2")
    assert status == EXIT_OK
    assert finished["failed"] in out and finished["values"] in out
    assert finished["counts"] not in out and "FAILED" in out and "COMPLETED" in out


def test_status_takes_many_ids_and_says_which_are_unknown(cli, finished):
    ids = [finished["counts"], finished["failed"], "no-such-job"]
    status, out, _ = cli("status", *ids, "--json")
    rows = json.loads(out)
    assert status == EXIT_NOT_FOUND
    assert [r["job_id"] for r in rows] == ids
    assert [r.get("status") for r in rows] == ["COMPLETED", "FAILED", None]
    assert "40" in rows[1]["message"] and "no-such-job" in rows[2]["error"]

    status, out, _ = cli("status", *ids[:2])
    assert status == EXIT_OK
    assert all(job_id in out for job_id in ids[:2]) and "FAILED" in out


def test_result_prints_counts_and_values_in_every_form(cli, finished, server):
    job = DiviProvider(auth_token=server.token, api_url=server.url).retrieve_job(
        finished["counts"]
    )
    expected = job.result().get_counts()

    status, out, _ = cli("result", finished["counts"], "--counts")
    assert status == EXIT_OK
    assert json.loads(out) == {finished["counts"]: {"0_a": expected[0], "1_b": expected[1]}}

    status, out, _ = cli("result", finished["counts"], finished["values"], "--json")
    counts, values = json.loads(out)
    assert status == EXIT_OK
    assert counts["results"]["1_b"] == {"counts": expected[1]}
    assert values["results"]["c"]["expectation_values"] == pytest.approx(
        {"ZZ": 1.0, "XX": 1.0}, abs=1e-9
    )

    status, out, _ = cli("result", finished["counts"], finished["values"])
    assert status == EXIT_OK
    assert "0_a" in out and "1_b" in out and "ZZ: 1" in out and "XX: 1" in out
    top = max(expected[0], key=expected[0].get)
    assert f"{top}: {expected[0][top]}" in out


def test_result_of_a_failed_job_and_counts_of_values_are_refused(cli, finished):
    status, out, _ = cli("result", finished["failed"], "--json")
    assert status == EXIT_REFUSED
    assert "failed" in json.loads(out)[0]["error"]

    status, out, err = cli("result", finished["values"], "--counts")
    assert status == EXIT_REFUSED and json.loads(out) == {} and "--json" in err

    with pytest.raises(SystemExit) as usage:  # argparse's own way out, for a usage error
        cli("result", finished["counts"], "--counts", "--json")
    assert usage.value.code == EXIT_USAGE


def test_cancel_and_delete_take_many_ids(cli, server, journal_path):
    service = QoroService(server.token, api_url=server.url)
    ids = [service.submit_circuits({"c": ghz(2)}) for _ in range(3)]
    service.poll_job_status(ids, loop_until_complete=True, progress=False)

    status, out, _ = cli("cancel", *ids[:2], "--json")
    assert status == EXIT_REFUSED  # finished jobs cannot be cancelled
    assert all("COMPLETED" in row["error"] for row in json.loads(out))

    status, out, _ = cli("delete", *ids[:2], "--json")
    assert status == EXIT_OK
    assert json.loads(out) == [{"job_id": i, "deleted": True} for i in ids[:2]]
    status, out, _ = cli("delete", ids[2])
    assert status == EXIT_OK and ids[2] in out
    status, _, _ = cli("status", *ids, "--json")
    assert status == EXIT_NOT_FOUND


def test_a_pending_job_is_cancelled(cli, server):
    """A job created but never finalized stays PENDING, so cancelling it always works."""
    body = Dialect.V2025.init_job_body(
        job_type=JobType.SIMULATE, system_name="qoro_maestro", tag="t", shots=10
    )
    answer = requests.post(
        f"{server.url}/job/init/",
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    job_id = answer.json()["job_id"]

    status, out, _ = cli("cancel", job_id)
    assert status == EXIT_OK and job_id in out and "True" in out
    status, out, _ = cli("status", job_id, "--json")
    assert json.loads(out)[0]["status"] == "CANCELLED"
    status, out, _ = cli("cancel", job_id, "--json")
    assert status == EXIT_REFUSED and "CANCELLED" in json.loads(out)[0]["error"]


def test_systems_lists_clusters_and_qpu_systems_in_both_forms(cli):
    status, out, _ = cli("systems", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert status == EXIT_OK
    assert rows["qoro_maestro"]["kind"] == "simulator"
    assert rows["qoro_maestro"]["supports_expval"] is True
    manila = rows["fake_manila"]
    assert (manila["kind"], manila["width"], manila["status"]) == ("qpu", 5, "online")
    assert manila["supports_expval"] is False and manila["qpus"][0]["qubits"] == 5

    status, out, _ = cli("systems")
    assert status == EXIT_OK
    assert "qoro_maestro" in out and "fake_manila" in out and "qpu" in out


def test_credits_shows_the_balance_and_the_history_in_both_forms(
    server, journal_path, clean_cwd, monkeypatch, capsys
):
    """A job of 2 circuits x 500 shots costs 1 credit under the local server's rule."""
    with LocalServer(credits=10, seed=3) as ledger:
        monkeypatch.setenv("QORO_API_KEY", ledger.token)
        monkeypatch.setenv("QORO_API_URL", ledger.url)
        service = QoroService(ledger.token, shots=500, api_url=ledger.url)
        job_id = service.submit_circuits({"a": ghz(2), "b": ghz(2)})
        service.poll_job_status(job_id, loop_until_complete=True, progress=False)

        def run(*args: str) -> tuple[int, str]:
            status = main(list(args))
            out, err = capsys.readouterr()
            assert ledger.token not in out + err
            return status, out

        status, out = run("credits", "--json")
        assert status == EXIT_OK
        assert json.loads(out) == {"balance": "9.00", "total_used": "1.00"}
        status, out = run("credits")
        assert status == EXIT_OK and "9.00" in out and "1.00" in out

        status, out = run("credits", "--history", "--json")
        rows = json.loads(out)
        assert status == EXIT_OK
        assert [(r["amount"], r["balance_after"], r["job_id"]) for r in rows] == [
            ("-1.00", "9.00", job_id),
            ("10", "10", None),
        ]
        status, out = run("credits", "--history", "--limit", "1")
        assert status == EXIT_OK and job_id in out and "opening" not in out


def test_credits_without_a_ledger_is_the_services_error(cli):
    status, _, err = cli("credits")
    assert status == EXIT_SERVICE and "ledger" in err


def test_no_token_and_bad_ids_have_their_own_exit_statuses(cli, monkeypatch):
    status, _, err = cli("status", "bad id!")
    assert status == EXIT_USAGE and "bad id!" in err
    monkeypatch.delenv("QORO_API_KEY")
    status, _, err = cli("jobs")
    assert status == EXIT_CREDENTIALS and "qiskit-divi login" in err
    status, _, err = cli("status", "some-job")
    assert status == EXIT_CREDENTIALS


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MissingCredentialsError("x"), EXIT_CREDENTIALS),
        (AuthenticationError("x", status_code=401), EXIT_CREDENTIALS),
        (JobNotFoundError("x", status_code=404), EXIT_NOT_FOUND),
        (JobCancelledError("j"), EXIT_REFUSED),
        (QoroConnectionError("x"), EXIT_SERVICE),
        (CorruptResultError("x"), EXIT_SERVICE),
    ],
)
def test_each_kind_of_error_has_its_exit_status(error, expected):
    assert exit_status(error) == expected


# -- accounts -------------------------------------------------------------------------------


def test_login_reads_the_token_unechoed_and_never_prints_it(
    cli, memory_keyring, monkeypatch, capsys
):
    prompts = []

    def getpass(prompt):
        prompts.append(prompt)
        return "typed-secret\n"

    monkeypatch.setattr("getpass.getpass", getpass)
    status, out, _ = cli("login", "--url", "https://q.test/api")
    assert status == EXIT_OK and prompts and "keyring" in out
    assert "typed-secret" not in out + prompts[0]
    assert DiviProvider.saved_accounts() == {"default": "https://q.test/api"}

    status, _, err = cli("login")
    assert status == EXIT_REFUSED and "--overwrite" in err
    status, _, _ = cli("login", "--overwrite", "--name", "default")
    assert status == EXIT_OK

    status, out, _ = cli("accounts", "--json")
    assert json.loads(out) == [{"name": "default", "url": DEFAULT_API_URL}]
    status, out, _ = cli("accounts")
    assert "default" in out and "typed-secret" not in out
    assert cli("logout")[0] == EXIT_OK
    assert cli("logout")[0] == EXIT_NOT_FOUND
    assert DiviProvider.saved_accounts() == {}


def test_login_from_stdin_then_jobs_in_new_processes(server, journal_path, clean_cwd, finished):
    """The whole path as a script runs it: log in (token on stdin, no keyring here: the
    0600 file), then ask about jobs with no token in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QORO_")}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "qiskit_divi.cli", *args],
            input=stdin,
            env=env,
            cwd=clean_cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert server.token not in done.stdout + done.stderr
        return done

    login = run("login", "--token-stdin", "--url", server.url, stdin=f"{server.token}\n")
    assert login.returncode == EXIT_OK, login.stderr
    assert "accounts.json" in login.stdout

    listed = run("jobs", "--json")
    assert listed.returncode == EXIT_OK, listed.stderr
    assert finished["counts"] in [row["job_id"] for row in json.loads(listed.stdout)]
    status = run("status", finished["counts"], finished["failed"])
    assert status.returncode == EXIT_OK and "FAILED" in status.stdout
