"""Every QoroService snippet of Divi's Backends Guide, run as written against a fake service.

The snippets are the guide's text with ``divi.backends`` read as ``qiskit_divi.backends``;
each test supplies what the guide leaves to the reader (``qasm_string_1``, a batch of
``circuits``, a job that fails) and checks what the snippet did.
"""

from __future__ import annotations

import builtins
import textwrap
import time
from collections import deque
from types import SimpleNamespace

import pytest
import requests
from qiskit.providers import JobStatus as QiskitJobStatus

import qiskit_divi
import qiskit_divi.backends
from qiskit_divi.backends import JobFailedError, JobStatus
from qiskit_divi.exceptions import InvalidInputError
from qiskit_divi.qoro.protocol import QoroJobStatus

from qoro.fake import FakeQoro
from qoro.wire import API_URL, BELL_QASM, TOKEN

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


@pytest.fixture
def fake(http, monkeypatch) -> FakeQoro:
    """The fake service, and the credentials a guide reader keeps in the environment."""
    monkeypatch.setenv("QORO_API_KEY", TOKEN)
    monkeypatch.setenv("QORO_API_URL", API_URL)
    return FakeQoro(http)


@pytest.fixture
def guide(fake) -> dict:
    """The namespace a guide reader has after the Basic Usage snippet."""
    namespace: dict = {"qasm_string_1": _qasm(0.1), "qasm_string_2": _qasm(0.2)}
    exec(textwrap.dedent(BASIC_USAGE), namespace)
    return namespace


@pytest.fixture
def batch() -> dict[str, str]:
    """25 circuits that both ``enumerate(circuits)`` and ``circuits.items()`` can use, as
    the Optimization and Job Failures snippets do: each label is itself the circuit."""
    return {_qasm(i / 10): _qasm(i / 10) for i in range(25)}


def test_basic_usage_connects(guide, http):
    assert isinstance(guide["service"], qiskit_divi.backends.QoroService)
    assert http.last_request.url == API_URL


def test_submitting_circuits_returns_results_for_each_label(guide, fake, virtual_time):
    exec(SUBMITTING_CIRCUITS, guide)

    (job,) = fake.jobs.values()
    assert isinstance(guide["job_ids"], str) and job.finalized
    # The default wire (2026) sends the shots with the circuits, not in job/init/.
    assert job.shots == 1000 and "shots" not in job.init
    assert set(job.circuits) == {"circuit_1", "circuit_2"}
    assert guide["results"] == [
        {"label": "circuit_1", "results": {"00": 500, "11": 500}},
        {"label": "circuit_2", "results": {"00": 500, "11": 500}},
    ]


def test_job_types_run_until_estimation_asks_for_its_observables(guide, fake):
    guide["circuits"] = {"circuit_1": _qasm(0.1)}

    with pytest.raises(InvalidInputError, match="needs observables"):
        exec(JOB_TYPES, guide)

    # On the default wire (2026) both sample: EXECUTE on the cluster the listings name.
    assert [job.init for job in fake.jobs.values()] == [
        {
            "tag": "default",
            "job_type": "EXECUTE",
            "use_packing": False,
            "simulator_cluster": "qoro_maestro",
        }
    ] * 2
    service, JobType = guide["service"], guide["JobType"]
    job_id = service.submit_circuits(
        guide["circuits"], job_type=JobType.ESTIMATE, observables="ZI"
    )
    assert fake.jobs[job_id].init["job_type"] == "EXPECTATION"


def test_optimization_submits_the_whole_batch_then_groups_of_ten(guide, fake, batch):
    guide["circuits"] = batch

    exec(OPTIMIZATION, guide)

    assert [len(job.circuits) for job in fake.jobs.values()] == [25, 10, 10, 5]
    assert guide["job_ids"] == list(fake.jobs)[-1]


@pytest.mark.parametrize(
    "broken",
    [{"exc": requests.ConnectionError("refused")}, {"status_code": 401, "json": {"detail": "no"}}],
)
def test_connection_issues_fall_back_to_the_local_simulator(fake, http, capsys, broken):
    http.get(API_URL, **broken)
    namespace = vars(qiskit_divi.backends).copy()

    exec(CONNECTION_ISSUES, namespace)

    assert capsys.readouterr().out.startswith("Connection failed: ")
    assert isinstance(namespace["backend"], qiskit_divi.backends.ParallelSimulator)


def test_job_failures_print_the_reason_and_resubmit_in_batches(guide, fake, batch, capsys):
    guide["circuits"] = batch
    guide["job_ids"] = guide["service"].submit_circuits(batch)
    fake.fail(guide["job_ids"], "ran out of memory")
    guide["JobFailedError"] = JobFailedError

    exec(JOB_FAILURES, guide)

    out = capsys.readouterr().out
    assert out.startswith("Job failed: ") and "ran out of memory" in out
    assert [len(job.circuits) for job in fake.jobs.values()] == [25, 10, 10, 5]


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


def test_timeout_handling_stops_once_every_job_completed(guide, fake, wall_clock, capsys):
    guide["job_ids"] = guide["service"].submit_circuits({"a": BELL_QASM})
    fake.jobs[guide["job_ids"]].statuses = deque(["RUNNING"] * 3 + ["COMPLETED"])
    guide["JobStatus"] = JobStatus

    exec(TIMEOUT_HANDLING, guide)

    assert guide["status"] == [JobStatus.COMPLETED]
    assert wall_clock[0] == 1_000_030.0 and capsys.readouterr().out == ""


def test_timeout_handling_gives_up_after_five_minutes(guide, fake, wall_clock, capsys):
    guide["job_ids"] = guide["service"].submit_circuits({"a": BELL_QASM})
    fake.jobs[guide["job_ids"]].statuses = deque(["RUNNING"])
    guide["JobStatus"] = JobStatus

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
