"""The client on the 2026 wire, beyond the recorded scenarios: targets from the listings,
settings, templates and shot groups across uploads, statuses, credits, no orphan jobs."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import random

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from qiskit_divi.exceptions import (
    InsufficientCreditsError,
    InvalidInputError,
    JobCancelledError,
    JobFailedError,
    JobTimedOutError,
    PayloadTooLargeError,
    QoroAPIError,
    QoroConnectionError,
    UnknownBackendError,
)
from qiskit_divi.qoro.client import CircuitTemplate, QoroClient
from qiskit_divi.qoro.codec import (
    decode_observable_groups,
    plan_circuit_uploads,
    plan_template_uploads,
    unpack_circuit,
)
from qiskit_divi.qoro.protocol import (
    MAX_BODY_BYTES,
    Dialect,
    ExecutionConfig,
    JobType,
    QoroJobStatus,
)

from .wire import API_URL, JOB_ID, TOKEN, status_body
from simulator.circuits import BELL_QASM

JOB = f"{API_URL}/job/{JOB_ID}"
CLUSTERS = [{"name": "qoro_maestro"}, {"name": "no_expval_sim", "supports_expval": False}]
SYSTEMS = [
    {"name": "qpu_a", "qpus": [{"nickname": "a", "q_bits": 5, "status": "ONLINE"}]},
    {"name": "qoro_maestro", "qpus": []},  # listed here too: the cluster listing wins
]


@pytest.fixture
def client(http) -> QoroClient:
    return QoroClient(TOKEN, API_URL)


@pytest.fixture
def listings(http):
    """The listings, counted."""
    return (
        http.get(f"{API_URL}/qpusystem/", json=SYSTEMS),
        http.get(f"{API_URL}/simulatorcluster/", json=CLUSTERS),
    )


@pytest.fixture
def accepting(http, listings):
    """A service that opens job JOB_ID and takes every upload; returns the init mock."""
    http.post(f"{JOB}/add_circuits/", json={"status": "ok"})
    return http.post(f"{API_URL}/job/init/", json={"job_id": JOB_ID}, status_code=201)


def _uploads(http) -> list[dict]:
    return [json.loads(r.body) for r in http.request_history if r.url.endswith("/add_circuits/")]


def _requests(http) -> list[str]:
    return [f"{r.method} {r.url.removeprefix(API_URL + '/')}" for r in http.request_history]


# -- the target and its settings ------------------------------------------------------------


def test_the_listings_are_fetched_once_per_client_never_by_the_constructor(http, accepting):
    client = QoroClient(TOKEN, API_URL)
    assert http.call_count == 0

    for system in ("qoro_maestro", "qpu_a", "qoro_maestro"):
        client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=5, system_name=system)

    assert _requests(http)[:2] == ["GET qpusystem/", "GET simulatorcluster/"]
    assert sum(r.startswith("GET") for r in _requests(http)) == 2
    inits = [json.loads(r.body) for r in http.request_history if r.url.endswith("init/")]
    assert [("simulator_cluster" in i, "qpu_system_name" in i) for i in inits] == [
        (True, False),
        (False, True),
        (True, False),
    ]
    assert accepting.call_count == 3


def test_an_unlisted_system_is_looked_up_again_then_refused(client, http, listings):
    with pytest.raises(UnknownBackendError, match=r"'x'.*'qoro_maestro'"):
        client.submit_job({"a": BELL_QASM}, job_type=JobType.EXECUTE, shots=1, system_name="x")
    with pytest.raises(UnknownBackendError, match="nowhere"):
        client.submit_job(
            {"a": BELL_QASM}, job_type=JobType.EXECUTE, shots=1, system_name="nowhere"
        )

    assert [m.call_count for m in listings] == [2, 2]  # one fetch per miss, nothing else


def test_circuit_cutting_is_refused_before_any_request_naming_the_alternative(client, http):
    with pytest.raises(InvalidInputError, match=r"qiskit-addon-cutting.*SamplerV2"):
        client.submit_job({"a": BELL_QASM}, job_type=JobType.CIRCUIT_CUT, shots=10)

    assert http.call_count == 0


def test_simulator_settings_travel_in_init_after_the_target(client, http, accepting):
    settings_ = {"simulation_type": 1, "max_bond_dimension": 32}

    client.submit_job(
        {"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=5, maestro_config=settings_
    )

    assert json.loads(accepting.last_request.body) == {
        "tag": "default",
        "job_type": "EXECUTE",
        "use_packing": False,
        "simulator_cluster": "qoro_maestro",
        "maestro_config": settings_,
    }
    assert list(json.loads(accepting.last_request.body))[-2:] == [
        "simulator_cluster",
        "maestro_config",
    ]


def test_device_settings_travel_to_a_qpu(client, http, accepting):
    device = {"TRANSPILE_LEVEL": 3, "USE_MITIGATION": True}

    client.submit_job(
        {"a": BELL_QASM},
        job_type=JobType.EXECUTE,
        shots=5,
        system_name="qpu_a",
        device_config=device,
    )

    body = json.loads(accepting.last_request.body)
    assert (body["qpu_system_name"], body["device_config"]) == ("qpu_a", device)


@pytest.mark.parametrize(
    ("system", "option"),
    [("qoro_maestro", "device_config"), ("qpu_a", "maestro_config")],
)
def test_settings_for_the_other_kind_of_target_are_refused_before_sending(
    client, http, listings, system, option
):
    with pytest.raises(InvalidInputError, match=f"{option} does not apply to '{system}'"):
        client.submit_job(
            {"a": BELL_QASM}, job_type=JobType.EXECUTE, shots=5, system_name=system, **{option: {}}
        )

    assert all(r.method == "GET" for r in http.request_history)


def test_the_2025_wire_takes_no_settings(http):
    client = QoroClient(TOKEN, API_URL, dialect="2025")

    with pytest.raises(InvalidInputError, match="only on the 2026 wire"):
        client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=5, maestro_config={})

    assert http.call_count == 0


def test_an_expectation_job_on_a_system_without_them_is_refused(client, http, listings):
    with pytest.raises(InvalidInputError, match=r"no_expval_sim.*no expectation"):
        client.submit_job(
            {"a": BELL_QASM},
            job_type=JobType.ESTIMATE,
            observables="ZZ",
            system_name="no_expval_sim",
        )


def test_the_stored_settings_of_a_job_are_readable(client, http):
    http.get(f"{JOB}/execution_config/", json={"maestro_config": {"a": 1}, "device_config": None})

    assert client.job_execution_config(JOB_ID) == ExecutionConfig({"a": 1}, None)


@pytest.mark.parametrize("dialect", ["2025", 2025, Dialect.V2025])
def test_the_dialect_is_one_setting_in_any_spelling(dialect):
    client = QoroClient(TOKEN, API_URL, dialect=dialect)

    assert client.dialect is Dialect.V2025
    assert client.speaking("2026").dialect is Dialect.V2026
    assert client.speaking("2026")._session is client._session
    assert client.speaking("2025") is client
    with pytest.raises(InvalidInputError, match=r"'2024'.*'2025', '2026'"):
        QoroClient(TOKEN, API_URL, dialect="2024")


# -- what the 2025 wire cannot carry ----------------------------------------------------------


def test_the_2025_wire_refuses_templates_and_mixed_shots_but_takes_equal_ones(http):
    client = QoroClient(TOKEN, API_URL, dialect="2025")
    template = CircuitTemplate("OPENQASM 2.0;", ["t"], {"r0": [0.1]}, shots=5)
    with pytest.raises(InvalidInputError, match="2026 wire"):
        client.submit_job({}, job_type=JobType.SIMULATE, templates=[template])
    with pytest.raises(InvalidInputError, match="2026 wire"):
        client.submit_job(
            {"a": BELL_QASM, "b": BELL_QASM}, job_type=JobType.SIMULATE, shots={"a": 1, "b": 2}
        )
    with pytest.raises(InvalidInputError, match="2026 wire"):
        client.submit_job(
            {"a": BELL_QASM, "b": BELL_QASM},
            job_type=JobType.ESTIMATE,
            observables={"a": "ZZ", "b": "XX"},
        )
    assert http.call_count == 0
    http.post(f"{API_URL}/job/init/", json={"job_id": JOB_ID})
    http.post(f"{JOB}/add_circuits/", json={})

    client.submit_job(
        {"a": BELL_QASM, "b": BELL_QASM}, job_type=JobType.SIMULATE, shots={"a": 7, "b": 7}
    )

    assert json.loads(http.request_history[0].body)["shots"] == 7
    assert _uploads(http)[0]["shots"] == 7


# -- uploads ------------------------------------------------------------------------------


def test_a_job_of_circuits_and_templates_finalizes_on_its_last_upload(client, http, accepting):
    template = CircuitTemplate(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\n'
        "ry(t) q[0];\nmeasure q -> c;\n",
        ["t"],
        {"r0": [0.0], "r1": [3.14]},
        shots=50,
    )

    client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=10, templates=[template])

    first, second = _uploads(http)
    assert (first["shots"], first["finalized"]) == (10, "false")
    assert list(second) == [
        "circuit_template",
        "parameter_names",
        "parameter_sets",
        "mode",
        "finalized",
        "shots",
    ]
    assert (second["shots"], second["finalized"]) == (50, "true")
    assert unpack_circuit(second["circuit_template"]) == template.qasm


def test_a_template_of_an_expectation_job_carries_one_group(client, http, accepting):
    template = CircuitTemplate("OPENQASM 2.0;", ["t"], {"r0": [0.5]}, observables="ZI;XX")

    client.submit_job({}, job_type=JobType.ESTIMATE, templates=[template])

    (upload,) = _uploads(http)
    assert "circuit_ham_map" not in upload and "shots" not in upload
    assert decode_observable_groups(upload["observables"]) == [["ZI", "XX"]]


@pytest.mark.parametrize(
    ("template", "match"),
    [
        (CircuitTemplate("q", ["Theta"], {"r": [1.0]}), "identifiers"),
        (CircuitTemplate("q", ["t", "t"], {"r": [1.0, 2.0]}), "repeat"),
        (CircuitTemplate("q", ["t"], {}), "non-empty"),
        (CircuitTemplate("q", ["t"], {"r": [1.0, 2.0]}), "list 1 values"),
        (CircuitTemplate("q", ["t"], {"r": [float("nan")]}), "finite"),
        (CircuitTemplate("q", ["t"], {"a": [1.0]}), "names two"),
    ],
)
def test_bad_templates_are_refused_before_anything_is_sent(client, http, template, match):
    with pytest.raises(InvalidInputError, match=match):
        client.submit_job(
            {"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=1, templates=[template]
        )

    assert http.call_count == 0


def test_shot_groups_split_with_their_uploads_and_rebase():
    dialect = Dialect.V2026
    packed = {f"c{i}": "A" * 300_000 for i in range(5)}
    shots = {"c0": 10, "c1": 10, "c2": 10, "c3": 20, "c4": 20}

    payloads = plan_circuit_uploads(
        packed, lambda p: dialect.upload_body(p, last=False), shots=shots
    )

    assert [list(p["circuits"]) for p in payloads] == [["c0", "c1", "c2"], ["c3", "c4"]]
    assert [p["shot_groups"] for p in payloads] == [[[0, 3, 10]], [[0, 2, 20]]]


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 400_000), min_size=1, max_size=12),
    shots=st.lists(st.integers(1, 10**6), min_size=12, max_size=12),
    grouped=st.booleans(),
)
def test_every_planned_body_is_within_the_cap_and_the_plan_is_greedy(sizes, shots, grouped):
    dialect = Dialect.V2026
    packed = {f"label-{i}": "B" * n for i, n in enumerate(sizes)}
    by_label = {label: shots[i] for i, label in enumerate(packed)} if grouped else None

    def body(payload):
        return dialect.upload_body(payload, last=False, shots=None if grouped else 9)

    payloads = plan_circuit_uploads(packed, body, shots=by_label)

    rendered = [len(dialect.render(body(p))) for p in payloads]
    assert all(size <= MAX_BODY_BYTES for size in rendered)
    assert [label for p in payloads for label in p["circuits"]] == list(packed)
    for payload, following in itertools.pairwise(payloads):
        first = next(iter(following["circuits"]))  # it did not fit: greedy
        grown = dict(payload["circuits"], **{first: packed[first]})
        trial = plan_circuit_uploads(grown, body, shots=by_label)
        assert len(trial) == 2
    if grouped:
        for payload in payloads:
            ranges = payload["shot_groups"]
            assert ranges[0][0] == 0 and ranges[-1][1] == len(payload["circuits"])
            assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
            labels = list(payload["circuits"])
            assert all(by_label[labels[i]] == s for s_, e, s in ranges for i in range(s_, e))


def test_template_rows_split_across_uploads_each_repeating_the_template():
    dialect = Dialect.V2026
    rows = [{"label": f"p{i}", "values": [0.1 * i] * 2000} for i in range(60)]

    payloads = plan_template_uploads(
        "TEMPLATE", ["a"], rows, lambda p: dialect.upload_body(p, last=False, shots=1)
    )

    assert len(payloads) > 1
    assert all(p["circuit_template"] == "TEMPLATE" for p in payloads)
    assert [row for p in payloads for row in p["parameter_sets"]] == rows
    assert all(
        len(dialect.render(dialect.upload_body(p, last=False, shots=1))) <= MAX_BODY_BYTES
        for p in payloads
    )


def test_one_circuit_too_large_for_a_request_is_refused_before_init(client, http, listings):
    huge = base64.b64encode(random.Random(5).randbytes(MAX_BODY_BYTES)).decode()

    with pytest.raises(PayloadTooLargeError, match="'big'"):
        client.submit_job({"big": huge}, job_type=JobType.SIMULATE, shots=1)

    assert not any(r.method == "POST" for r in http.request_history)


# -- never an orphan -----------------------------------------------------------------------


def test_a_dropped_upload_cancels_its_job_and_names_it(client, http, listings):
    http.post(f"{API_URL}/job/init/", json={"job_id": JOB_ID})
    http.post(f"{JOB}/add_circuits/", exc=requests.ConnectionError("reset by peer"))
    cancel = http.post(f"{JOB}/cancel/", json={"status": "CANCELLED"})

    with pytest.raises(QoroConnectionError, match=JOB_ID) as info:
        client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=1)

    assert cancel.call_count == 1
    assert "it was cancelled" in info.value.__notes__[0]


def test_when_cancelling_fails_too_the_error_says_so(client, http, listings, caplog):
    http.post(f"{API_URL}/job/init/", json={"job_id": JOB_ID})
    http.post(f"{JOB}/add_circuits/", status_code=413, json={"detail": "too big"})
    http.post(f"{JOB}/cancel/", status_code=500, json={"detail": "down"})

    with pytest.raises(QoroAPIError, match="too big") as info:
        client.submit_job({"a": BELL_QASM}, job_type=JobType.SIMULATE, shots=1)

    assert "cancel or delete it yourself" in info.value.__notes__[0]
    assert JOB_ID in caplog.text


# -- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("FAILED", JobFailedError),
        ("CANCELLED", JobCancelledError),
        ("INSUFFICIENT_CREDITS", InsufficientCreditsError),
        ("TIMED_OUT", JobTimedOutError),
    ],
)
def test_each_unsuccessful_end_raises_its_own_error_with_the_message(
    client, http, virtual_time, status, error
):
    http.get(f"{JOB}/status/", json=status_body(status, message="the server's words"))

    with pytest.raises(error, match="the server's words") as waited:
        client.wait_for_job(JOB_ID)
    with pytest.raises(error, match="the server's words") as fetched:
        client.job_results(JOB_ID)

    assert type(waited.value) is type(fetched.value) is error
    assert waited.value.job_id == JOB_ID and QoroJobStatus(status).is_final


def test_a_wait_goes_on_through_unknown_statuses_logging_each_once(
    client, http, virtual_time, caplog
):
    answers = ["PAUSED", "MIGRATING", "MIGRATING", "REBALANCING", "COMPLETED"]
    http.get(f"{JOB}/status/", [{"json": status_body(s, run_time=None)} for s in answers])

    report = client.wait_for_job(JOB_ID)

    assert (report.status, report.run_time) == (QoroJobStatus.COMPLETED, None)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "'MIGRATING'" in warnings[0] and "'REBALANCING'" in warnings[1]


def test_scheduled_and_paused_are_not_final():
    assert not QoroJobStatus.SCHEDULED.is_final and not QoroJobStatus.PAUSED.is_final


# -- credits --------------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "page_size"), [(0, 20), (1, 0), (1, 101)])
def test_credit_pages_out_of_range_are_refused_before_sending(client, http, page, page_size):
    with pytest.raises(InvalidInputError):
        client.get_credit_transactions(page=page, page_size=page_size)

    assert http.call_count == 0


def test_an_unreadable_balance_is_an_api_error(client, http):
    http.get(f"{API_URL}/credits/", json={"balance": "lots"})

    with pytest.raises(QoroAPIError, match="unreadable answer from credits/"):
        client.get_credit_balance()
