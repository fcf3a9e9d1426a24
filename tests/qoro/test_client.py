"""QoroClient against a mocked service: each endpoint's exact request and answer handling."""

from __future__ import annotations

import json
import logging
import os
import pickle
import time
from types import SimpleNamespace

import pytest
import requests

from qiskit_divi.exceptions import (
    AuthenticationError,
    CorruptResultError,
    InsecureURLError,
    InvalidInputError,
    JobCancelledError,
    JobFailedError,
    JobNotCancellableError,
    JobNotFinishedError,
    JobNotFoundError,
    JobTimeoutError,
    MissingCredentialsError,
    PayloadTooLargeError,
    QoroAPIError,
    QoroConnectionError,
)
from qiskit_divi.outcomes import Outcomes
from qiskit_divi.qoro import polling
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.codec import ExpectationValues, encode_histogram, unpack_circuit
from qiskit_divi.qoro.protocol import (
    DEFAULT_API_URL,
    MAX_BODY_BYTES,
    JobStatusReport,
    JobType,
    QoroJobStatus,
    QPUSystem,
    SimulatorCluster,
)

from .wire import (
    API_URL,
    JOB_ID,
    TOKEN,
    histogram,
    qpu_systems_body,
    results_page,
    status_body,
)
from simulator.circuits import BELL_QASM

JOB = f"{API_URL}/job/{JOB_ID}"


def _mock_submission(http, job_id: str = JOB_ID) -> None:
    http.post(f"{API_URL}/job/init/", json={"job_id": job_id}, status_code=201)
    http.post(f"{API_URL}/job/{job_id}/add_circuits/", json={"status": "ok"})


def _bodies(http, path: str) -> list[dict]:
    return [r.json() for r in http.request_history if r.path.endswith(path)]


# -- credentials and URL ----------------------------------------------------------------


def test_token_argument_beats_environment_and_dotenv(http, monkeypatch, tmp_path):
    monkeypatch.setenv("QORO_API_KEY", "from-env")
    (tmp_path / ".env").write_text("QORO_API_KEY=from-dotenv\n")
    http.get(API_URL)

    QoroClient("from-arg", API_URL).ping()

    assert http.last_request.headers["Authorization"] == "Bearer from-arg"


def test_environment_beats_dotenv(http, monkeypatch, tmp_path):
    monkeypatch.setenv("QORO_API_KEY", "from-env")
    (tmp_path / ".env").write_text("QORO_API_KEY=from-dotenv\n")
    http.get(API_URL)

    QoroClient(api_url=API_URL).ping()

    assert http.last_request.headers["Authorization"] == "Bearer from-env"


def test_dotenv_is_read_without_touching_the_environment(http, tmp_path):
    (tmp_path / ".env").write_text(f"QORO_API_KEY=from-dotenv\nQORO_API_URL={API_URL}\n")
    http.get(API_URL)

    client = QoroClient()
    client.ping()

    assert client.api_url == API_URL
    assert http.last_request.headers["Authorization"] == "Bearer from-dotenv"
    assert "QORO_API_KEY" not in os.environ and "QORO_API_URL" not in os.environ


def test_missing_token_names_all_three_sources():
    with pytest.raises(MissingCredentialsError) as info:
        QoroClient(api_url=API_URL)

    assert all(s in str(info.value) for s in ("auth_token", "QORO_API_KEY", ".env"))


def test_url_argument_beats_the_url_found_with_the_token_which_beats_the_default(monkeypatch):
    assert QoroClient(TOKEN).api_url == DEFAULT_API_URL
    monkeypatch.setenv("QORO_API_URL", "https://env.test/api/")
    # A token passed as an argument is not sent to a URL found elsewhere (issue 14.10).
    assert QoroClient(TOKEN).api_url == DEFAULT_API_URL
    monkeypatch.setenv("QORO_API_KEY", "from-env")
    assert QoroClient().api_url == "https://env.test/api"
    assert QoroClient(TOKEN, "https://arg.test/api").api_url == "https://arg.test/api"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api",
        "http://127.3.2.1/api",
        "http://localhost/api",
        "http://[::1]:9/api",
    ],
)
def test_plain_http_is_accepted_for_loopback(url):
    assert QoroClient(TOKEN, url).api_url == url


@pytest.mark.parametrize(
    "url", ["http://qoro.test/api", "http://10.0.0.1/api", "http://[::2]/api"]
)
def test_plain_http_is_refused_elsewhere(url):
    with pytest.raises(InsecureURLError, match="use https"):
        QoroClient(TOKEN, url)


@pytest.mark.parametrize("url", ["ftp://qoro.test/api", "qoro.test/api", "https://"])
def test_url_that_is_not_http_is_refused(url):
    with pytest.raises(InvalidInputError, match="not an http"):
        QoroClient(TOKEN, url)


def test_token_with_a_newline_is_refused_without_showing_it():
    with pytest.raises(InvalidInputError) as info:
        QoroClient(f"{TOKEN}\nX-Evil: 1", API_URL)

    assert TOKEN not in str(info.value)


def test_token_of_the_wrong_kind_is_a_type_error():
    with pytest.raises(TypeError, match="auth_token must be a string"):
        QoroClient(b"bytes-token", API_URL)  # type: ignore[arg-type]


# -- endpoints --------------------------------------------------------------------------


def test_every_request_is_signed_and_posts_are_json(client, http):
    http.get(API_URL)
    _mock_submission(http)

    client.ping()
    client.submit_job({"bell": BELL_QASM}, job_type=JobType.SIMULATE, shots=10)

    ping, init, add = http.request_history
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in (ping, init, add))
    assert "Content-Type" not in ping.headers
    assert init.headers["Content-Type"] == add.headers["Content-Type"] == "application/json"


def test_ping_refused_token_is_an_authentication_error(client, http):
    http.get(API_URL, status_code=401, json={"detail": "Invalid token."})

    with pytest.raises(AuthenticationError, match="Invalid token") as info:
        client.ping()

    assert info.value.status_code == 401


def test_ping_unreachable_is_a_connection_error(client, http):
    http.get(API_URL, exc=requests.ConnectionError("connection refused"))

    with pytest.raises(QoroConnectionError, match="cannot reach the Qoro Service") as info:
        client.ping()

    assert isinstance(info.value, ConnectionError)


def test_qpu_systems_and_simulator_clusters_are_typed_records(client, http):
    http.get(f"{API_URL}/qpusystem/", json=qpu_systems_body())
    http.get(
        f"{API_URL}/simulatorcluster/",
        json=[
            {
                "name": "qoro_maestro",
                "access_level": "PUBLIC",
                "minimum_tier": None,
                "supports_expval": True,
            }
        ],
    )

    systems = client.fetch_qpu_systems()
    clusters = client.fetch_simulator_clusters()

    assert [s.name for s in systems] == ["qoro_maestro", "ibm_fez"]
    assert isinstance(systems[1], QPUSystem) and systems[1].num_qubits == 156
    # A cluster without a minimum tier is open to the free tier (the listing's default).
    assert clusters == [SimulatorCluster("qoro_maestro", "PUBLIC", "FREE", True)]


def test_unreadable_system_list_is_an_api_error(client, http):
    http.get(f"{API_URL}/qpusystem/", json=[{"no_name": 1}])

    with pytest.raises(QoroAPIError, match="unreadable answer from qpusystem/"):
        client.fetch_qpu_systems()


def test_submission_sends_exactly_what_the_spec_shows(client, http):
    _mock_submission(http)
    circuits = {f"bell_{i}": BELL_QASM for i in range(3)}

    job_id = client.submit_job(circuits, job_type=JobType.SIMULATE, shots=1000)

    assert job_id == JOB_ID
    (init,) = _bodies(http, "/job/init/")
    (add,) = _bodies(http, "/add_circuits/")
    assert init == {
        "shots": 1000,
        "tag": "default",
        "job_type": "SIMULATE",
        "qpu_system_name": "qoro_maestro",
        "use_packing": False,
    }
    assert {k: v for k, v in add.items() if k != "circuits"} == {
        "shots": 1000,
        "mode": "append",
        "finalized": "true",
    }
    assert {label: unpack_circuit(c) for label, c in add["circuits"].items()} == circuits


def test_estimate_job_sends_observables_instead_of_shots(client, http):
    _mock_submission(http)

    client.submit_job(
        {"c": BELL_QASM},
        job_type=JobType.ESTIMATE,
        observables="ZZ;XX",
        tag="vqe",
        system_name="sys",
    )

    (init,) = _bodies(http, "/job/init/")
    (add,) = _bodies(http, "/add_circuits/")
    assert init == {
        "tag": "vqe",
        "job_type": "EXPECTATION",
        "qpu_system_name": "sys",
        "use_packing": False,
    }
    assert add["observables"] == "ZZ;XX" and "shots" not in add


def test_large_submission_is_chunked_and_only_the_last_chunk_finalizes(client, http):
    _mock_submission(http)
    big = "// " + "x" * 400_000 + "\n" + BELL_QASM
    # Random-looking text so gzip cannot shrink it below the cap.
    circuits = {f"c{i}": big.replace("x" * 400_000, os.urandom(200_000).hex()) for i in range(7)}

    client.submit_job(circuits, job_type=JobType.EXECUTE, shots=5)

    adds = _bodies(http, "/add_circuits/")
    assert len(adds) >= 3
    assert [a["finalized"] for a in adds] == ["false"] * (len(adds) - 1) + ["true"]
    assert [label for a in adds for label in a["circuits"]] == list(circuits)
    assert all(
        len(json.dumps(a["circuits"], separators=(",", ":"))) < MAX_BODY_BYTES for a in adds
    )


def test_oversize_circuit_is_refused_before_any_request(client, http):
    huge = os.urandom(800_000).hex()

    with pytest.raises(PayloadTooLargeError, match="'huge'"):
        client.submit_job({"ok": BELL_QASM, "huge": huge}, job_type=JobType.SIMULATE, shots=1)

    assert http.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"job_type": "SIMULATE", "shots": 1}, TypeError, "JobType"),
        ({"job_type": JobType.SIMULATE}, TypeError, "shots must be an integer"),
        (
            {"job_type": JobType.SIMULATE, "shots": 0},
            InvalidInputError,
            "shots must be a positive",
        ),
        ({"job_type": JobType.ESTIMATE}, InvalidInputError, "needs observables"),
        (
            {"job_type": JobType.ESTIMATE, "observables": "ZZ;Z"},
            InvalidInputError,
            "'Z' acts on 1",
        ),
        (
            {"job_type": JobType.SIMULATE, "shots": 1, "observables": "ZZ"},
            InvalidInputError,
            "only apply to ESTIMATE",
        ),
        (
            {"job_type": JobType.CIRCUIT_CUT, "shots": 1},
            InvalidInputError,
            "exactly one circuit, got 2",
        ),
        ({"job_type": JobType.SIMULATE, "shots": 1, "tag": ""}, InvalidInputError, "tag"),
    ],
)
def test_bad_submission_is_refused_before_any_request(client, http, kwargs, error, match):
    with pytest.raises(error, match=match):
        client.submit_job({"a": BELL_QASM, "b": BELL_QASM}, **kwargs)

    assert http.call_count == 0


@pytest.mark.parametrize("circuits", [{}, {"a": 3}, ["a"]])
def test_submission_without_labelled_qasm_is_refused(client, http, circuits):
    with pytest.raises((TypeError, InvalidInputError)):
        client.submit_job(circuits, job_type=JobType.SIMULATE, shots=1)


def test_init_answer_without_a_job_id_is_an_api_error(client, http):
    http.post(f"{API_URL}/job/init/", json={"id": "x"})

    with pytest.raises(QoroAPIError, match="without a usable job id"):
        client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=1)


def test_upload_failure_after_init_names_the_job(client, http):
    http.post(f"{API_URL}/job/init/", json={"job_id": JOB_ID})
    http.post(f"{JOB}/add_circuits/", status_code=400, json={"detail": "bad circuit"})
    cancel = http.post(f"{JOB}/cancel/", json={"status": "CANCELLED"})

    with pytest.raises(QoroAPIError, match="bad circuit") as info:
        client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=1)

    assert info.value.job_id == JOB_ID and info.value.status_code == 400
    # Never an orphan: the half-uploaded job is cancelled, and the error says so.
    assert cancel.call_count == 1
    assert info.value.__notes__ == [
        f"job {JOB_ID} was created but not every upload arrived: it was cancelled"
    ]


def test_job_status_carries_the_failure_reason(client, http):
    http.get(f"{JOB}/status/", json=status_body("FAILED", error="out of memory"))

    assert client.job_status(JOB_ID) == JobStatusReport(QoroJobStatus.FAILED, "out of memory")


def test_unknown_status_is_kept_as_it_came_and_is_not_final(client, http):
    http.get(f"{JOB}/status/", json=status_body("EXPLODED"))

    status = client.job_status(JOB_ID).status

    assert (status.value, status.known, status.is_final) == ("EXPLODED", False, False)


def test_status_without_a_status_is_an_api_error(client, http):
    http.get(f"{JOB}/status/", json={"state": "COMPLETED"})

    with pytest.raises(QoroAPIError, match="unreadable status answer"):
        client.job_status(JOB_ID)


def test_unknown_job_is_job_not_found(client, http):
    http.get(f"{JOB}/status/", status_code=404, json={"detail": "Not found."})

    with pytest.raises(JobNotFoundError) as info:
        client.job_status(JOB_ID)

    assert info.value.job_id == JOB_ID and info.value.status_code == 404


@pytest.mark.parametrize("job_id", ["", "../admin", "a/b", "a b", 42])
def test_malformed_job_id_is_refused_before_any_request(client, http, job_id):
    with pytest.raises(InvalidInputError, match="not a Qoro job id"):
        client.job_status(job_id)


def test_results_are_fetched_across_every_page_by_offset(client, http):
    counts = {f"c{i:03d}": {format(i % 4, "02b"): i + 1} for i in range(250)}
    entries = [(label, histogram(c)) for label, c in counts.items()]
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    pages = [entries[0:100], entries[100:200], entries[200:250]]
    nexts = [
        "https://elsewhere.test/steal?offset=100",
        "https://elsewhere.test/steal?offset=200",
        None,
    ]
    http.get(
        f"{JOB}/resultsV2/",
        [{"json": results_page(p, next_url=n)} for p, n in zip(pages, nexts, strict=True)],
    )

    results = client.job_results(JOB_ID)

    assert {label: outcomes.get_counts() for label, outcomes in results.items()} == counts
    queries = [r.qs for r in http.request_history if "resultsv2" in r.path.lower()]
    assert queries == [{"limit": ["100"], "offset": [str(o)]} for o in (0, 100, 200)]
    assert all(r.hostname == "qoro.test" for r in http.request_history)


def test_expectation_results_are_floats_by_term(client, http):
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    http.get(f"{JOB}/resultsV2/", json=results_page([("c", {"ZZ": 1, "XX": -0.5})]))

    results = client.job_results(JOB_ID)

    assert set(results) == {"c"} and isinstance(results["c"], ExpectationValues)
    assert results["c"].to_dict() == {"ZZ": 1.0, "XX": -0.5}


def test_results_of_a_failed_job_raise_with_the_reason(client, http):
    http.get(f"{JOB}/status/", json=status_body("FAILED", message="circuit too deep"))

    with pytest.raises(JobFailedError, match="circuit too deep") as info:
        client.job_results(JOB_ID)

    assert info.value.job_id == JOB_ID and info.value.reason == "circuit too deep"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("CANCELLED", JobCancelledError),
        ("RUNNING", JobNotFinishedError),
        ("PENDING", JobNotFinishedError),
    ],
)
def test_results_of_a_job_without_results_raise(client, http, status, error):
    http.get(f"{JOB}/status/", json=status_body(status))

    with pytest.raises(error, match=JOB_ID):
        client.job_results(JOB_ID)


@pytest.mark.parametrize(
    ("page", "error", "match"),
    [
        (
            results_page([("a", histogram({"0": 1})), ("a", histogram({"1": 1}))]),
            CorruptResultError,
            "repeated label 'a'",
        ),
        (
            results_page([("a", {"encoding": "qh1", "payload": "UUgx"})]),
            CorruptResultError,
            "truncated",
        ),
        (results_page([], next_url="https://qoro.test/more"), QoroAPIError, "empty results page"),
        ({"data": []}, QoroAPIError, "unreadable results page"),
    ],
)
def test_bad_result_pages_raise(client, http, page, error, match):
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    http.get(f"{JOB}/resultsV2/", json=page)

    with pytest.raises(error, match=match):
        client.job_results(JOB_ID)


def test_cancel_returns_the_answer_and_409_is_not_cancellable(client, http):
    answer = {"status": "CANCELLED", "job_id": JOB_ID, "circuits_cancelled": 3}
    http.post(
        f"{JOB}/cancel/", [{"json": answer}, {"status_code": 409, "json": {"detail": "done"}}]
    )

    assert client.cancel_job(JOB_ID) == answer
    with pytest.raises(JobNotCancellableError) as info:
        client.cancel_job(JOB_ID)
    assert info.value.status_code == 409 and info.value.job_id == JOB_ID


def test_delete_uses_the_path_without_a_trailing_slash(client, http):
    http.delete(JOB, status_code=204)

    client.delete_job(JOB_ID)

    assert http.last_request.method == "DELETE" and http.last_request.path == f"/api/job/{JOB_ID}"


# -- error messages ---------------------------------------------------------------------


def test_html_error_page_is_cut_short_and_stripped_of_markup(client, http):
    page = (
        "<html><head><style>p{}</style></head><body><h1>Bad Gateway</h1>"
        + "<p>x</p>" * 5000
        + "</body></html>"
    )
    http.get(f"{JOB}/status/", status_code=500, text=page, headers={"Content-Type": "text/html"})

    with pytest.raises(QoroAPIError) as info:
        client.job_status(JOB_ID)

    assert info.value.status_code == 500
    assert "Bad Gateway" in info.value.message and "<" not in info.value.message
    assert len(info.value.message) < 400


def test_error_that_echoes_the_token_is_scrubbed(client, http):
    http.get(API_URL, status_code=403, json={"detail": f"token {TOKEN} is revoked"})

    with pytest.raises(AuthenticationError) as info:
        client.ping()

    assert TOKEN not in str(info.value) and "*** is revoked" in str(info.value)


def test_body_that_is_not_json_is_an_api_error(client, http):
    http.get(f"{JOB}/status/", text="<html>maintenance</html>")

    with pytest.raises(QoroAPIError, match="not JSON"):
        client.job_status(JOB_ID)


def test_read_timeout_says_how_long_it_waited(client, http):
    http.get(f"{JOB}/status/", exc=requests.ReadTimeout("read timed out"))

    with pytest.raises(QoroConnectionError, match=f"no answer .* within 30 s.*job {JOB_ID}"):
        client.job_status(JOB_ID)


# -- waiting ----------------------------------------------------------------------------


def test_wait_for_job_polls_until_final_with_gently_growing_intervals(client, http, virtual_time):
    replies = [{"json": status_body("PENDING")}] + [{"json": status_body("RUNNING")}] * 14
    http.get(f"{JOB}/status/", [*replies, {"json": status_body("COMPLETED")}])
    seen = []

    report = client.wait_for_job(JOB_ID, polling_interval=1.0, callback=seen.append)

    assert report.status is QoroJobStatus.COMPLETED
    assert [r.status.value for r in seen] == ["PENDING"] + ["RUNNING"] * 14 + ["COMPLETED"]
    assert virtual_time[:3] == pytest.approx([1.0, 1.25, 1.5625])
    assert max(virtual_time) == pytest.approx(10.0)
    assert virtual_time == sorted(virtual_time)


def test_wait_for_job_times_out_and_names_the_job(client, http, virtual_time):
    http.get(f"{JOB}/status/", json=status_body("RUNNING"))

    with pytest.raises(JobTimeoutError, match=JOB_ID) as info:
        client.wait_for_job(JOB_ID, timeout=5.0, polling_interval=2.0)

    assert info.value.job_ids == [JOB_ID]
    assert sum(virtual_time) == pytest.approx(5.0)


def test_interrupted_wait_logs_the_jobs_still_running(client, http, caplog, monkeypatch):
    http.get(f"{JOB}/status/", json=status_body("RUNNING"))

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(
        polling, "time", SimpleNamespace(monotonic=time.monotonic, sleep=interrupt)
    )

    with pytest.raises(KeyboardInterrupt):
        client.wait_for_job(JOB_ID)

    assert JOB_ID in caplog.text and "keep running" in caplog.text


# -- the token stays secret -------------------------------------------------------------


def test_token_is_in_no_log_line_at_debug(client, http, caplog):
    caplog.set_level(logging.DEBUG)
    _mock_submission(http)
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    http.get(f"{JOB}/resultsV2/", json=results_page([("a", histogram({"01": 3}))]))
    http.post(f"{JOB}/cancel/", status_code=409, json={"detail": f"no, {TOKEN}"})

    client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=3)
    client.job_results(JOB_ID)
    with pytest.raises(JobNotCancellableError):
        client.cancel_job(JOB_ID)

    assert "submitted Qoro job" in caplog.text and "HTTP 409" in caplog.text
    assert TOKEN not in caplog.text


def test_token_is_in_no_repr_and_the_client_refuses_pickling(client):
    assert TOKEN not in repr(client) and TOKEN not in repr(vars(client))

    with pytest.raises(TypeError, match="cannot be pickled") as info:
        pickle.dumps(client)

    assert TOKEN not in str(info.value)


def test_token_cannot_leak_through_pickling_the_session(client):
    with pytest.raises(TypeError):
        pickle.dumps(vars(client))


def test_decoded_counts_equal_what_was_encoded(client, http):
    counts = {"000": 10, "101": 1, "111": 989}
    outcomes = Outcomes.from_counts(counts, 3)
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    http.get(f"{JOB}/resultsV2/", json=results_page([("a", encode_histogram(outcomes))]))

    assert client.job_results(JOB_ID) == {"a": outcomes}
    assert client.job_results(JOB_ID)["a"].get_counts() == counts
