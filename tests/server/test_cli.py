"""``qiskit-divi serve``: its refusals, and a real server process that runs a job and stops on
Ctrl+C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from qiskit_divi.backends.qoro_service import QoroService
from qiskit_divi.cli import main
from qiskit_divi.qoro.protocol import JobType, QoroJobStatus
from qiskit_divi.server import TOKENS_ENV

from .helpers import bell

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["serve"], "at least one token"),
        (["serve", "--token", "t", "--host", "0.0.0.0"], "--allow-remote"),
        (["serve", "--token", "t", "--fault-seed", "3"], "--fault-seed needs --faults"),
        (["serve", "--token", "t", "--faults", "2"], "fault rate must be in [0, 1]"),
        (["serve", "--token", "t", "--workers", "0"], "workers must be a positive integer"),
        (["serve", "--token", " spaced "], "surrounding spaces"),
        (["serve", "--token", "t", "--credits", "-5"], "credits must be a non-negative number"),
    ],
)
def test_serve_refuses_to_start_wrongly(argv, problem, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(TOKENS_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--db", str(tmp_path / "jobs.sqlite3")])
    assert exit_info.value.code == 2
    assert problem in capsys.readouterr().err


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_runs_jobs_for_env_tokens_and_stops_on_ctrl_c(tmp_path):
    env = {**os.environ, TOKENS_ENV: "first-secret,second-secret"}
    command = [sys.executable, "-m", "qiskit_divi.cli", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--db", str(tmp_path / "jobs.sqlite3"), "--log-level", "info"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output = []
        while not (match := re.search(r"running on (http://127\.0\.0\.1:\d+)", "".join(output))):
            line = process.stderr.readline()
            assert line, "".join(output)
            output.append(line)
        url = match.group(1) + "/api"
        for token in ("first-secret", "second-secret"):
            answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert answer.status_code == 200
        assert requests.get(url, timeout=10).status_code == 401
        service = QoroService(auth_token="second-secret", api_url=url, polling_interval=0.05)
        job_id = service.submit_circuits({"bell": bell()}, JobType.SIMULATE)
        assert service.poll_job_status(job_id, loop_until_complete=True) == [
            QoroJobStatus.COMPLETED
        ]
        (result,) = service.get_job_results(job_id)
        assert set(result["results"]) == {"00", "11"}
        process.send_signal(signal.SIGINT)
        access_log, rest = process.communicate(timeout=60)
        assert process.returncode == 0
        assert '"GET /api HTTP/1.1" 401' in access_log
        assert "secret" not in "".join(output) + rest + access_log
        assert (tmp_path / "jobs.sqlite3").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
