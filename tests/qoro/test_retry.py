"""Retries, over real HTTP to a scripted loopback server, and the policies behind them."""

from __future__ import annotations

import logging
import socket

import pytest
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from qiskit_divi.exceptions import QoroAPIError, QoroConnectionError
from qiskit_divi.qoro import retry
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.protocol import JobType, QoroJobStatus
from qiskit_divi.qoro.retry import RetrySettings

from .conftest import NO_WAIT
from .scripted import Reply
from .wire import JOB_ID, TOKEN, status_body
from simulator.circuits import BELL_QASM

STATUS = f"job/{JOB_ID}/status/"
INIT = "job/init/"
RUNNING = Reply(200, status_body("RUNNING"))
CREATED = Reply(201, {"job_id": JOB_ID})


@pytest.fixture
def clock(virtual_clock):
    """The retry policy's clock, made virtual: sleeps advance it and are recorded."""
    return virtual_clock(retry)


def _submit(client: QoroClient) -> str:
    return client.submit_job({"bell": BELL_QASM}, job_type=JobType.SIMULATE, shots=10)


# -- what is retried --------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_each_retryable_status(scripted, real_client, status):
    scripted.script("GET", STATUS, Reply(status, {"detail": "busy"}), RUNNING)

    assert real_client.job_status(JOB_ID).status is QoroJobStatus.RUNNING
    assert scripted.count("GET", STATUS) == 2


def test_get_is_retried_after_a_dropped_connection(scripted, real_client):
    scripted.script("GET", STATUS, Reply(drop=True), RUNNING)

    assert real_client.job_status(JOB_ID).status is QoroJobStatus.RUNNING
    assert scripted.count("GET", STATUS) == 2


def test_get_is_retried_after_a_read_timeout(scripted):
    client = QoroClient(TOKEN, scripted.url, request_timeout=0.3, retry=NO_WAIT)
    scripted.script("GET", STATUS, Reply(hang=True), RUNNING)

    assert client.job_status(JOB_ID).status is QoroJobStatus.RUNNING
    assert scripted.count("GET", STATUS) == 2


@pytest.mark.parametrize("status", [500, 400, 401])
def test_other_statuses_are_not_retried(scripted, real_client, status):
    scripted.script("GET", STATUS, Reply(status, {"detail": "no"}))

    with pytest.raises(QoroAPIError):
        real_client.job_status(JOB_ID)

    assert scripted.count("GET", STATUS) == 1


def test_upload_of_a_known_job_is_retried(scripted, real_client):
    scripted.script("POST", INIT, CREATED)
    scripted.script("POST", f"job/{JOB_ID}/add_circuits/", Reply(502), Reply(200, {}))

    assert _submit(real_client) == JOB_ID
    assert scripted.count("POST", f"job/{JOB_ID}/add_circuits/") == 2


def test_exhausted_retries_surface_the_last_status(scripted, real_client):
    scripted.script("GET", STATUS, *[Reply(503, {"detail": "overloaded"})] * 4)

    with pytest.raises(QoroAPIError, match="overloaded") as info:
        real_client.job_status(JOB_ID)

    assert info.value.status_code == 503
    assert scripted.count("GET", STATUS) == NO_WAIT.max_retries + 1


# -- job/init/ never runs twice ---------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_init_refused_outright_is_retried(scripted, real_client, status):
    scripted.script("POST", INIT, Reply(status, {"detail": "slow down"}), CREATED)
    scripted.script("POST", f"job/{JOB_ID}/add_circuits/", Reply(200, {}))

    assert _submit(real_client) == JOB_ID
    assert scripted.count("POST", INIT) == 2


@pytest.mark.parametrize("status", [502, 504])
def test_init_answered_by_a_gateway_error_is_not_retried(scripted, real_client, status):
    scripted.script("POST", INIT, Reply(status, {"detail": "gateway"}))

    with pytest.raises(QoroAPIError) as info:
        _submit(real_client)

    assert info.value.status_code == status
    assert scripted.count("POST", INIT) == 1


def test_init_whose_connection_drops_is_not_retried(scripted, real_client):
    scripted.script("POST", INIT, Reply(drop=True))

    with pytest.raises(QoroConnectionError, match="may have been created"):
        _submit(real_client)

    assert scripted.count("POST", INIT) == 1


def test_init_that_times_out_is_not_retried(scripted):
    client = QoroClient(TOKEN, scripted.url, request_timeout=0.3, retry=NO_WAIT, dialect="2025")
    scripted.script("POST", INIT, Reply(hang=True))

    with pytest.raises(QoroConnectionError, match=r"within 0\.3 s.*may have been created"):
        _submit(client)

    assert scripted.count("POST", INIT) == 1


def test_init_that_never_connects_says_nothing_was_created():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = QoroClient(TOKEN, f"http://127.0.0.1:{port}/api", retry=NO_WAIT, dialect="2025")

    with pytest.raises(QoroConnectionError, match="cannot reach") as info:
        _submit(client)

    assert "may have been created" not in str(info.value)


def test_init_goes_over_a_fresh_connection_and_the_rest_keep_theirs(scripted, real_client):
    scripted.script("POST", INIT, CREATED)
    scripted.script("POST", f"job/{JOB_ID}/add_circuits/", Reply(200, {}))

    _submit(real_client)

    init, add = scripted.seen
    assert init.headers["Connection"] == "close"
    assert add.headers["Connection"] == "keep-alive"


def test_init_policy_retries_connect_errors_but_not_read_errors():
    policy = RetrySettings().init_policy(60.0)
    refused = NewConnectionError(None, "connection refused")  # type: ignore[arg-type]

    assert policy.increment("POST", "/api/job/init/", error=refused).connect == 7
    for error in (ReadTimeoutError(None, "/", "timed out"), ProtocolError("dropped")):  # type: ignore[arg-type]
        with pytest.raises(type(error)):
            policy.increment("POST", "/api/job/init/", error=error)
    assert not policy.is_retry("POST", 502) and not policy.is_retry("POST", 504)
    assert policy.is_retry("POST", 429) and policy.is_retry("POST", 503)


# -- how long it waits ------------------------------------------------------------------


def test_retry_after_is_honoured(scripted, clock):
    client = QoroClient(TOKEN, scripted.url, retry=NO_WAIT)
    scripted.script("GET", STATUS, Reply(429, headers={"Retry-After": "7"}), RUNNING)

    client.job_status(JOB_ID)

    assert clock.sleeps == [7]


def test_retry_after_is_capped(scripted, clock):
    client = QoroClient(TOKEN, scripted.url, retry=RetrySettings(retry_after_max=30))
    scripted.script("GET", STATUS, Reply(503, headers={"Retry-After": "86400"}), RUNNING)

    client.job_status(JOB_ID)

    assert clock.sleeps == [30]


def test_unreadable_retry_after_falls_back_to_backoff(scripted, clock):
    client = QoroClient(TOKEN, scripted.url, retry=RetrySettings(backoff_factor=0.5))
    scripted.script("GET", STATUS, Reply(503, headers={"Retry-After": "soon"}), RUNNING)

    client.job_status(JOB_ID)

    assert len(clock.sleeps) == 1 and 0.5 <= clock.sleeps[0] <= 1.0


def test_backoff_doubles_with_jitter_up_to_its_cap(scripted, clock):
    settings = RetrySettings(max_retries=8, backoff_factor=1.0, backoff_max=10.0)
    client = QoroClient(TOKEN, scripted.url, retry=settings, max_retry_time=1000)
    scripted.script("GET", STATUS, *[Reply(502)] * 6, RUNNING)

    client.job_status(JOB_ID)

    assert len(clock.sleeps) == 6
    for attempt, slept in enumerate(clock.sleeps):
        base = 2.0**attempt
        assert min(base, 10.0) <= slept <= min(base + 1.0, 10.0)


def test_retrying_stops_at_the_time_bound(scripted, clock):
    settings = RetrySettings(max_retries=50, backoff_factor=1.0, backoff_max=4.0)
    client = QoroClient(TOKEN, scripted.url, retry=settings, max_retry_time=10.0)
    scripted.script("GET", STATUS, *[Reply(503, {"detail": "down"})] * 50)

    with pytest.raises(QoroAPIError, match="down"):
        client.job_status(JOB_ID)

    assert clock.now == pytest.approx(10.0)
    assert 3 <= scripted.count("GET", STATUS) < 50


def test_policy_past_its_deadline_gives_up():
    policy = RetrySettings().policy(0.0)

    with pytest.raises(MaxRetryError):
        policy.increment("GET", "/api/x", error=ProtocolError("dropped"))


# -- the token stays secret, urllib3's own logging included -----------------------------


def test_token_is_in_no_log_line_of_a_retried_exchange(scripted, real_client, caplog):
    caplog.set_level(logging.DEBUG)
    scripted.script("POST", INIT, Reply(503), CREATED)
    scripted.script("POST", f"job/{JOB_ID}/add_circuits/", Reply(drop=True), Reply(200, {}))
    scripted.script("GET", STATUS, Reply(401, {"detail": f"bad token {TOKEN}"}))

    _submit(real_client)
    with pytest.raises(QoroAPIError) as info:
        real_client.job_status(JOB_ID)

    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert "Incremented Retry" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(info.value)
    assert all(s.headers["Authorization"] == f"Bearer {TOKEN}" for s in scripted.seen)
