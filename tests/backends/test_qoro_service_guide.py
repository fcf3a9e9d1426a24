"""Every QoroService snippet of Divi's Backends Guide, run as written against the local
server (seeded; results are checked against exact probabilities), and the Timeout
Handling snippet against statuses scripted under requests-mock.

The snippets are the guide's text with ``divi.backends`` read as ``qiskit_divi.backends``;
each test supplies what the guide leaves to the reader (``qasm_string_1``, a batch of
``circuits``, a job that fails) and checks what the snippet did.
"""

from __future__ import annotations

import builtins
import json
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest
import requests
from qiskit.providers import JobStatus as QiskitJobStatus

import qiskit_divi
import qiskit_divi.backends
from qiskit_divi.backends import JobFailedError, JobStatus
from qiskit_divi.exceptions import InvalidInputError
from qiskit_divi.qoro.protocol import QoroJobStatus

from qoro.wire import API_URL, JOB_ID, TOKEN, status_body
from server.helpers import Api, stored_jobs
from simulator.circuits import BELL_QASM, assert_distribution

BASIC_USAGE = """
from qiskit_divi.backends import QoroService, JobType

# Initialize service
service = QoroService()

# Test connection
service.test_connection()
"""

SUBMITTING_CIRCUITS = """
# Prepare circuits
circuits = {
    "circuit_1": qasm_string_1,
    "circuit_2": qasm_string_2
}

# Submit jobs
job_ids = service.submit_circuits(
    circuits,
    job_type=JobType.SIMULATE
)

# Monitor execution
service.poll_job_status(job_ids, loop_until_complete=True)

# Retrieve results
results = service.get_job_results(job_ids)
"""

JOB_TYPES = """
from qiskit_divi.backends import JobType

# Standard simulation jobs
job_ids = service.submit_circuits(circuits, job_type=JobType.SIMULATE)

# Execution jobs
job_ids = service.submit_circuits(circuits, job_type=JobType.EXECUTE)

# Estimation jobs
job_ids = service.submit_circuits(circuits, job_type=JobType.ESTIMATE)
"""

OPTIMIZATION = """
# Batch circuit submission
service = QoroService()

# Submit multiple circuits at once
large_circuit_batch = {f"circuit_{i}": circuit for i, circuit in enumerate(circuits)}
job_ids = service.submit_circuits(large_circuit_batch)

# For large circuit batches, consider submitting in smaller groups
if len(circuits) > 20:
    # Split into smaller batches if needed
    batch_size = 10
    for i in range(0, len(circuits), batch_size):
        batch = dict(list(circuits.items())[i:i+batch_size])
        job_ids = service.submit_circuits(batch)
"""

CONNECTION_ISSUES = """
try:
    service = QoroService()
    service.test_connection()
except ConnectionError as e:
    print(f"Connection failed: {e}")
    # Fall back to local simulator
    backend = ParallelSimulator()
"""

JOB_FAILURES = """
try:
    results = service.get_job_results(job_ids)
except JobFailedError as e:
    print(f"Job failed: {e}")
    # Retry with smaller batches for large circuits
    if len(circuits) > 20:
        batch_size = 10
        for i in range(0, len(circuits), batch_size):
            batch = dict(list(circuits.items())[i:i+batch_size])
            job_ids = service.submit_circuits(batch)
"""

TIMEOUT_HANDLING = """
import time

start_time = time.time()
timeout = 300  # 5 minutes

while time.time() - start_time < timeout:
    status = service.get_job_status(job_ids)
    if all(s == JobStatus.COMPLETED for s in status):
        break
    time.sleep(10)
else:
    print("Job timeout - consider splitting into smaller batches")
"""


def _qasm(angle: float) -> str:
    return BELL_QASM.replace("h q[0];", f"ry({angle}) q[0];")


def _probabilities(angle: float) -> dict[str, float]:
    """``_qasm(angle)``'s outcomes: RY(angle) then CX gives 00 or 11."""
    return {"00": np.cos(angle / 2) ** 2, "11": np.sin(angle / 2) ** 2}


@pytest.fixture
def reader(server, monkeypatch):
    """The local server, with the credentials a guide reader keeps in the environment."""
    monkeypatch.setenv("QORO_API_KEY", server.token)
    monkeypatch.setenv("QORO_API_URL", server.url)
    return server


@pytest.fixture
def guide(reader) -> dict:
    """The namespace a guide reader has after the Basic Usage snippet."""
    namespace: dict = {"qasm_string_1": _qasm(0.1), "qasm_string_2": _qasm(0.2)}
    exec(textwrap.dedent(BASIC_USAGE), namespace)
    return namespace


def new_jobs(server, before: dict) -> dict:
    """The jobs the server stored since ``before`` (an earlier ``stored_jobs``), in order."""
    return {i: job for i, job in stored_jobs(server).items() if i not in before}


@pytest.fixture
def batch() -> dict[str, str]:
    """25 circuits that both ``enumerate(circuits)`` and ``circuits.items()`` can use, as
    the Optimization and Job Failures snippets do: each label is itself the circuit."""
    return {_qasm(i / 10): _qasm(i / 10) for i in range(25)}


def test_basic_usage_connects(reader, sent):
    namespace: dict = {}
    exec(textwrap.dedent(BASIC_USAGE), namespace)

    assert isinstance(namespace["service"], qiskit_divi.backends.QoroService)
    assert [(r.method, r.url) for r in sent] == [("GET", reader.url)]


def test_submitting_circuits_returns_results_for_each_label(guide, reader, virtual_time):
    before = stored_jobs(reader)

    exec(SUBMITTING_CIRCUITS, guide)

    ((job_id, job),) = new_jobs(reader, before).items()
    assert guide["job_ids"] == job_id and job["finalized"]
    # The default wire (2026) sends the shots with the circuits, not in job/init/.
    assert job["shots"] is None and job["dialect"] == "2026"
    assert job["circuit_shots"] == {"circuit_1": 1000, "circuit_2": 1000}
    assert [r["label"] for r in guide["results"]] == ["circuit_1", "circuit_2"]
    for result, angle in zip(guide["results"], (0.1, 0.2), strict=True):
        assert sum(result["results"].values()) == 1000
        assert_distribution(result["results"], _probabilities(angle))


def test_job_types_run_until_estimation_asks_for_its_observables(guide, reader, sent):
    guide["circuits"] = {"circuit_1": _qasm(0.1)}

    with pytest.raises(InvalidInputError, match="needs observables"):
        exec(JOB_TYPES, guide)

    # On the default wire (2026) both sample: EXECUTE on the cluster the listings name.
    inits = [json.loads(r.body) for r in sent if r.url.endswith("/job/init/")]
    assert (
        inits
        == [
            {
                "tag": "default",
                "job_type": "EXECUTE",
                "use_packing": False,
                "simulator_cluster": "qoro_maestro",
            }
        ]
        * 2
    )
    service, JobType = guide["service"], guide["JobType"]
    job_id = service.submit_circuits(
        guide["circuits"], job_type=JobType.ESTIMATE, observables="ZI"
    )
    assert stored_jobs(reader)[job_id]["job_type"] == "EXPECTATION"


def test_optimization_submits_the_whole_batch_then_groups_of_ten(guide, reader, batch):
    guide["circuits"] = batch
    before = stored_jobs(reader)

    exec(OPTIMIZATION, guide)

    jobs = new_jobs(reader, before)
    assert [len(job["circuits"]) for job in jobs.values()] == [25, 10, 10, 5]
    assert guide["job_ids"] == list(jobs)[-1]


@pytest.mark.parametrize(
    "broken",
    [{"exc": requests.ConnectionError("refused")}, {"status_code": 401, "json": {"detail": "no"}}],
)
def test_connection_issues_fall_back_to_the_local_simulator(http, monkeypatch, capsys, broken):
    monkeypatch.setenv("QORO_API_KEY", TOKEN)
    monkeypatch.setenv("QORO_API_URL", API_URL)
    http.get(API_URL, **broken)
    namespace = vars(qiskit_divi.backends).copy()

    exec(CONNECTION_ISSUES, namespace)

    assert capsys.readouterr().out.startswith("Connection failed: ")
    assert isinstance(namespace["backend"], qiskit_divi.backends.ParallelSimulator)


def test_job_failures_print_the_reason_and_resubmit_in_batches(guide, reader, batch, capsys):
    """The batch's last circuit is wider than the server's engine holds: the job fails."""
    wide = BELL_QASM.replace("q[2]", "q[40]").replace("c[2]", "c[40]").replace("h q[0]", "h q")
    del batch[_qasm(2.4)]
    batch[wide] = wide
    guide["circuits"] = batch
    before = stored_jobs(reader)
    guide["job_ids"] = guide["service"].submit_circuits(batch)
    assert Api(reader.url, reader.token).wait(guide["job_ids"])["status"] == "FAILED"
    guide["JobFailedError"] = JobFailedError

    exec(JOB_FAILURES, guide)

    out = capsys.readouterr().out
    assert out.startswith("Job failed: ") and "40 qubits" in out
    assert [len(job["circuits"]) for job in new_jobs(reader, before).values()] == [25, 10, 10, 5]


@pytest.fixture
def wall_clock(monkeypatch):
    """The guide's ``time.time``/``time.sleep`` on a virtual clock, so no test waits."""
    now = [1_000_000.0]
    fake_time = SimpleNamespace(
        time=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    monkeypatch.setattr(time, "time", fake_time.time)
    monkeypatch.setattr(time, "sleep", fake_time.sleep)
    return now


@pytest.fixture
def waiting(http) -> dict:
    """A guide reader's namespace with a service of the mocked address and a job id, for
    scripted statuses."""
    service = qiskit_divi.backends.QoroService(TOKEN, api_url=API_URL)
    return {"service": service, "job_ids": JOB_ID, "JobStatus": JobStatus}


def script_statuses(http, *statuses: str) -> None:
    """The job answers these statuses, one per poll; the last one stays."""
    http.get(f"{API_URL}/job/{JOB_ID}/status/", [{"json": status_body(s)} for s in statuses])


def test_timeout_handling_stops_once_every_job_completed(waiting, http, wall_clock, capsys):
    guide = waiting
    script_statuses(http, "RUNNING", "RUNNING", "RUNNING", "COMPLETED")

    exec(TIMEOUT_HANDLING, guide)

    assert guide["status"] == [JobStatus.COMPLETED]
    assert wall_clock[0] == 1_000_030.0 and capsys.readouterr().out == ""


def test_timeout_handling_gives_up_after_five_minutes(waiting, http, wall_clock, capsys):
    guide = waiting
    script_statuses(http, "RUNNING")

    exec(TIMEOUT_HANDLING, guide)

    assert guide["status"] == [JobStatus.RUNNING]
    assert "Job timeout" in capsys.readouterr().out


def test_the_guides_connection_error_is_importable_and_is_the_builtins():
    from qiskit_divi.backends import ConnectionError as GuideConnectionError
    from qiskit_divi.exceptions import QoroConnectionError

    assert GuideConnectionError is QoroConnectionError
    assert issubclass(GuideConnectionError, builtins.ConnectionError)
    assert "ConnectionError" in qiskit_divi.backends.__all__


def test_the_guides_job_status_is_the_qoro_status_enum_not_qiskits():
    """The package calls it ``QoroJobStatus``; the guide's name (and the package's
    public ``JobStatus``) import the same enum."""
    assert JobStatus is qiskit_divi.JobStatus is qiskit_divi.QoroJobStatus is QoroJobStatus
    assert JobStatus is not QiskitJobStatus
