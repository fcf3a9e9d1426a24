"""The client against a hostile or broken service (issue 14, items 11-17): each test
reproduces one attack, over requests-mock where that is precise, else over a scripted
loopback server that trickles, proxies or drops (bounded in time: it stops by itself)."""

from __future__ import annotations

import contextlib
import json
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qiskit_divi.exceptions import (
    AnswerTooLargeError,
    AuthenticationError,
    CorruptResultError,
    JobFailedError,
    JobNotCancellableError,
    JobNotFoundError,
    JobTimeoutError,
    QoroAPIError,
    QoroConnectionError,
    QoroError,
    ResultTooLargeError,
    TooManyPagesError,
)
from qiskit_divi.qoro import client as client_module
from qiskit_divi.qoro import codec
from qiskit_divi.qoro.client import MAX_ANSWER_BYTES, QoroClient
from qiskit_divi.qoro.codec import decode_histogram
from qiskit_divi.qoro.protocol import JobType, QoroJobStatus

from .conftest import NO_WAIT
from .scripted import Reply, ScriptedServer
from .wire import (
    API_URL,
    JOB_ID,
    TOKEN,
    histogram,
    qh_result,
    qh_sections,
    results_page,
    status_body,
    uleb,
)
from simulator.circuits import BELL_QASM

JOB = f"{API_URL}/job/{JOB_ID}"
STATUS = f"job/{JOB_ID}/status/"
RUNNING = Reply(200, status_body("RUNNING"))


def _shown(error: BaseException) -> str:
    """Everything a traceback of ``error`` would print, causes included."""
    return "".join(traceback.format_exception(error))


# -- 11: plain http is never proxied ------------------------------------------------------


def test_plain_http_to_loopback_ignores_every_environment_proxy(scripted, monkeypatch):
    proxy = ScriptedServer()
    proxy.start()
    try:
        origin = proxy.url.removesuffix("/api")
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, origin)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        scripted.script("GET", STATUS, RUNNING)

        status = QoroClient(TOKEN, scripted.url, retry=NO_WAIT).job_status(JOB_ID).status
    finally:
        proxy.stop()

    assert status is QoroJobStatus.RUNNING
    assert proxy.seen == []
    assert scripted.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


# -- 12: the token in no error text --------------------------------------------------------


def _echo_paths(http) -> dict:
    """Each answer that the client quotes in an error, echoing the token."""
    return {
        "status 2xx unreadable": (
            lambda: http.get(f"{JOB}/status/", json={"status": f"bad {TOKEN}"}),
            lambda c: c.job_status(JOB_ID),
        ),
        "body not JSON": (
            lambda: http.get(f"{JOB}/status/", text=f"oops {TOKEN} <"),
            lambda c: c.job_status(JOB_ID),
        ),
        "listing unreadable": (
            lambda: http.get(f"{API_URL}/qpusystem/", json=[{"token": TOKEN}]),
            lambda c: c.fetch_qpu_systems(),
        ),
        "no usable job id": (
            lambda: http.post(f"{API_URL}/job/init/", json={"job_id": TOKEN}),
            lambda c: c.submit_job({"b": BELL_QASM}, job_type=JobType.SIMULATE, shots=10),
        ),
        "job id with spaces": (
            lambda: http.post(f"{API_URL}/job/init/", json={"job_id": f"x {TOKEN}"}),
            lambda c: c.submit_job({"b": BELL_QASM}, job_type=JobType.SIMULATE, shots=10),
        ),
        "failure reason": (
            lambda: http.get(f"{JOB}/status/", json=status_body("FAILED", error=f"k={TOKEN}")),
            lambda c: c.job_results(JOB_ID),
        ),
        "results page unreadable": (
            lambda: _completed(http, {"results": f"{TOKEN}"}),
            lambda c: c.job_results(JOB_ID),
        ),
        "label is the token": (
            lambda: _completed(http, results_page([(TOKEN, histogram({"0": 1}))])),
            lambda c: c.job_results(JOB_ID),
        ),
        "corrupt result": (
            lambda: _completed(http, results_page([("a", {TOKEN: "x"})])),
            lambda c: c.job_results(JOB_ID),
        ),
        "error across the cut": (
            lambda: http.get(API_URL, status_code=403, json={"detail": "x" * 290 + TOKEN}),
            lambda c: c.ping(),
        ),
    }


def _completed(http, page) -> None:
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    http.get(f"{JOB}/resultsV2/", json=page)


@pytest.mark.parametrize(
    "path",
    [
        "status 2xx unreadable",
        "body not JSON",
        "listing unreadable",
        "no usable job id",
        "job id with spaces",
        "failure reason",
        "results page unreadable",
        "label is the token",
        "corrupt result",
        "error across the cut",
    ],
)
def test_no_error_path_shows_the_token_or_a_piece_of_it(client, http, path):
    mock, call = _echo_paths(http)[path]
    mock()

    with pytest.raises(QoroError) as info:
        call(client)

    assert TOKEN[:8] not in _shown(info.value)


def test_an_echo_is_scrubbed_before_the_message_is_cut(client, http):
    # Cut first, the 300-character limit would fall inside the token and keep its start.
    http.get(API_URL, status_code=403, json={"detail": "x" * 285 + TOKEN + " revoked"})

    with pytest.raises(AuthenticationError) as info:
        client.ping()

    assert info.value.message == "GET /: " + "x" * 285 + "*** revoked"


def test_an_escaped_echo_is_scrubbed(http):
    token = 'tok"\\quoted'
    http.get(API_URL, status_code=500, text=json.dumps({"echo": token}))

    with pytest.raises(QoroAPIError) as info:
        QoroClient(token, API_URL).ping()

    assert str(info.value).startswith('GET /: {"echo": "***"}')


def test_a_one_character_token_is_scrubbed_only_where_it_stands_alone(http):
    http.get(API_URL, status_code=403, json={"detail": "a banana is a fruit, token=a"})

    with pytest.raises(AuthenticationError) as info:
        QoroClient("a", API_URL).ping()

    assert info.value.message == "GET /: *** banana is *** fruit, token=***"


# -- 13: total deadlines -------------------------------------------------------------------


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickled_answer_is_cut_at_the_timeout(scripted, where):
    body = status_body("RUNNING")
    start = 0 if where == "headers" else 1000  # past the headers: only the body trickles
    trickled = Reply(200, body, trickle=0.02, trickle_from=start, pad=2000)
    # A cut during the headers is a lost answer, retried (NO_WAIT allows 3 retries).
    scripted.script("GET", STATUS, *[trickled] * (4 if where == "headers" else 1))
    client = QoroClient(TOKEN, scripted.url, request_timeout=0.3, retry=NO_WAIT)

    with pytest.raises(QoroConnectionError, match=r"no complete answer .* within 0\.3 s"):
        client.job_status(JOB_ID)


def test_a_trickled_status_cannot_stretch_a_wait_past_its_timeout(scripted):
    scripted.script("GET", STATUS, Reply(200, status_body("RUNNING"), trickle=0.02, pad=2000))
    client = QoroClient(TOKEN, scripted.url, request_timeout=30, retry=NO_WAIT)

    with pytest.raises(JobTimeoutError) as info:
        client.wait_for_job(JOB_ID, timeout=0.3, polling_interval=0.1)

    assert info.value.job_ids == [JOB_ID]


def test_a_slow_but_whole_answer_within_the_timeout_is_read(scripted):
    scripted.script("GET", STATUS, Reply(200, status_body("RUNNING"), trickle=0.001))
    client = QoroClient(TOKEN, scripted.url, request_timeout=30, retry=NO_WAIT)

    assert client.job_status(JOB_ID).status is QoroJobStatus.RUNNING


# -- 14: amplification ------------------------------------------------------------------------


class _Endless:
    """A body that never ends, counting what was read of it."""

    def __init__(self, head: bytes = b'{"status": "RUNNING", "pad": "') -> None:
        self.head = head
        self.served = 0

    def read(self, size: int = -1, *args) -> bytes:
        size = 65536 if size is None or size < 0 else size
        chunk = (self.head + b"x" * size)[:size] if self.served == 0 else b"x" * size
        self.served += len(chunk)
        return chunk

    closed = False

    def close(self) -> None:
        """Nothing to release."""


def test_an_endless_body_is_read_only_up_to_the_limit(client, http):
    body = _Endless()
    http.get(f"{JOB}/status/", body=body)

    with pytest.raises(AnswerTooLargeError, match=f"{MAX_ANSWER_BYTES} bytes") as info:
        client.job_status(JOB_ID)

    assert info.value.limit == MAX_ANSWER_BYTES
    assert MAX_ANSWER_BYTES < body.served <= MAX_ANSWER_BYTES + 65536


def test_a_declared_length_past_the_limit_is_refused_unread(client, http):
    body = _Endless()
    length = str(MAX_ANSWER_BYTES + 1)
    http.get(f"{JOB}/status/", body=body, headers={"Content-Length": length})

    with pytest.raises(AnswerTooLargeError):
        client.job_status(JOB_ID)

    assert body.served == 0


def _wide_bomb(outcomes: int) -> dict:
    """A valid QH2 result of ``outcomes`` consecutive outcomes 2**20 bits wide: a few
    hundred bytes that would decode to ``outcomes`` * 128 KiB."""
    return qh_result(qh_sections(dict.fromkeys(range(outcomes), 1), 1 << 20), 1 << 20)


def test_a_tiny_payload_claiming_huge_outcomes_is_refused_before_decoding():
    result = _wide_bomb(1100)  # 1100 * 2**20 bits: past 2**30

    assert len(result["payload"]) < 2000
    with pytest.raises(ResultTooLargeError, match="1100 outcomes of 1048576 bits") as info:
        decode_histogram(result)
    assert info.value.limit == codec.MAX_RESULT_BITS


def test_a_job_s_results_decode_within_one_budget(client, http, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_RESULT_BITS", 3 * 30 * (1 << 20))
    pages = [
        {"json": results_page([(f"c{i}", _wide_bomb(30))], next_url="more")} for i in range(5)
    ]
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    http.get(f"{JOB}/resultsV2/", pages)

    with pytest.raises(ResultTooLargeError, match="bits left of the results limit"):
        client.job_results(JOB_ID)

    assert len(http.request_history) == 1 + 4  # the fourth page is over budget


def test_endless_next_pages_stop_at_the_page_limit(client, http, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_RESULT_PAGES", 5)
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))

    def page(request, context):
        offset = int(request.qs["offset"][0])
        return results_page([(f"c{offset}", {}), (f"c{offset + 1}", {})], next_url="more")

    http.get(f"{JOB}/resultsV2/", json=page)

    with pytest.raises(TooManyPagesError, match="after 5 pages") as info:
        client.job_results(JOB_ID)

    assert info.value.limit == 5
    assert len(http.request_history) == 1 + 5


# -- 15: every failure is a QoroError ----------------------------------------------------------


def test_json_nested_past_the_parser_is_an_api_error(client, http):
    http.get(f"{JOB}/status/", text="[" * 100_000 + "]" * 100_000)

    with pytest.raises(QoroAPIError, match="not JSON"):
        client.job_status(JOB_ID)


def test_an_error_body_nested_past_the_parser_is_still_an_api_error(client, http):
    http.get(f"{JOB}/status/", status_code=500, text="[" * 100_000 + "]" * 100_000)

    with pytest.raises(QoroAPIError) as info:
        client.job_status(JOB_ID)

    assert info.value.status_code == 500


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(
    status=_JSON | st.fixed_dictionaries({"status": st.sampled_from(["COMPLETED", "x"])}),
    page=_JSON
    | st.fixed_dictionaries(
        {"results": st.lists(st.fixed_dictionaries({"label": _JSON, "results": _JSON}))}
    ),
    systems=_JSON
    | st.lists(
        st.fixed_dictionaries(
            {
                "name": _JSON,
                "qpus": st.lists(st.fixed_dictionaries({"nickname": _JSON, "q_bits": _JSON})),
            }
        )
    ),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_answer_fails_only_as_a_qoro_error(status, page, systems):
    import requests_mock

    client = QoroClient(TOKEN, API_URL)
    with requests_mock.Mocker() as http:
        http.get(f"{JOB}/status/", text=json.dumps(status))
        http.get(f"{JOB}/resultsV2/", text=json.dumps(page))
        http.get(f"{API_URL}/qpusystem/", text=json.dumps(systems))
        for call in (lambda: client.job_results(JOB_ID), client.fetch_qpu_systems):
            with contextlib.suppress(QoroError):
                call()


def test_a_qubit_count_past_the_integer_range_is_an_api_error(client, http):
    text = '[{"name": "s", "qpus": [{"nickname": "q", "q_bits": Infinity}]}]'
    http.get(f"{API_URL}/qpusystem/", text=text)

    with pytest.raises(QoroAPIError, match="unreadable answer from qpusystem/"):
        client.fetch_qpu_systems()


def test_expectation_values_past_the_float_range_are_corrupt(client, http):
    http.get(f"{JOB}/status/", json=status_body("COMPLETED"))
    http.get(f"{JOB}/resultsV2/", text='{"results": [{"label": "a", "results": {"ZZ": 1e999}}]}')

    with pytest.raises(CorruptResultError, match="ZZ"):
        client.job_results(JOB_ID)

    huge = "9" * 400
    http.get(
        f"{JOB}/resultsV2/", text=f'{{"results": [{{"label": "a", "results": {{"ZZ": {huge}}}}}]}}'
    )
    with pytest.raises(CorruptResultError, match="ZZ"):
        client.job_results(JOB_ID)


def test_a_failed_job_with_no_result_is_still_a_job_failed_error(client, http):
    http.get(f"{JOB}/status/", json=status_body("FAILED", error="out of credits"))

    with pytest.raises(JobFailedError, match="out of credits"):
        client.job_results(JOB_ID)


# -- 16: a lost answer to cancel or delete ----------------------------------------------


def test_a_retried_cancel_that_finds_the_job_cancelled_has_succeeded(scripted, real_client):
    cancel = f"job/{JOB_ID}/cancel/"
    scripted.script("POST", cancel, Reply(drop=True), Reply(409, {"detail": "already cancelled"}))
    scripted.script("GET", STATUS, Reply(200, status_body("CANCELLED")))

    answer = real_client.cancel_job(JOB_ID)

    assert answer == {"status": "CANCELLED", "job_id": JOB_ID}
    assert scripted.count("POST", cancel) == 2


def test_a_retried_cancel_that_finds_the_job_completed_is_not_cancellable(scripted, real_client):
    cancel = f"job/{JOB_ID}/cancel/"
    scripted.script("POST", cancel, Reply(drop=True), Reply(409, {"detail": "finished"}))
    scripted.script("GET", STATUS, Reply(200, status_body("COMPLETED")))

    with pytest.raises(JobNotCancellableError) as info:
        real_client.cancel_job(JOB_ID)

    assert info.value.retried


def test_a_first_cancel_answered_409_is_not_cancellable_without_asking_again(
    scripted, real_client
):
    scripted.script("POST", f"job/{JOB_ID}/cancel/", Reply(409, {"detail": "cancelled"}))

    with pytest.raises(JobNotCancellableError) as info:
        real_client.cancel_job(JOB_ID)

    assert not info.value.retried and scripted.count("GET", STATUS) == 0


def test_a_retried_delete_that_finds_the_job_gone_has_succeeded(scripted, real_client):
    path = f"job/{JOB_ID}"
    scripted.script("DELETE", path, Reply(drop=True), Reply(404, {"detail": "no such job"}))

    real_client.delete_job(JOB_ID)

    assert scripted.count("DELETE", path) == 2


def test_a_first_delete_answered_404_is_job_not_found(scripted, real_client):
    scripted.script("DELETE", f"job/{JOB_ID}", Reply(404, {"detail": "no such job"}))

    with pytest.raises(JobNotFoundError):
        real_client.delete_job(JOB_ID)


# -- helpers' own checks -----------------------------------------------------------------------


def test_a_payload_claiming_more_outcomes_than_it_has_bytes_is_corrupt():
    sections = qh_sections({0: 1}, 300)
    sections.update(unique=uleb(10**6))

    with pytest.raises(CorruptResultError, match="too short"):
        decode_histogram(qh_result(sections, 300))
