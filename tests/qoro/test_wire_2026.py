"""Replays of the 2026 service, recorded from its own client, through ours.

``data/wire-2026-public.json.gz`` holds scenarios of requests and the answers the
recording server gave (``docs/protocol.rst`` describes the wire). Each test makes our
client do what the scenario's caller did, answers it from the recording, and compares
what went out (method, path, query, headers, body bytes where no gzip is involved, key
order, the gunzipped text of every circuit, template and observable group) and what
came back. Upstream's known faults are not copied: where its client threw the server's
message away or returned an empty histogram as a raw envelope, ours must not.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict, deque
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qiskit_divi.exceptions import JobFailedError
from qiskit_divi.qoro.client import CircuitTemplate, QoroClient
from qiskit_divi.qoro.codec import (
    ExpectationValues,
    decode_observable_groups,
    plan_circuit_uploads,
    unpack_circuit,
)
from qiskit_divi.qoro.protocol import (
    GZS_PREFIX,
    MAX_BODY_BYTES,
    Dialect,
    JobType,
    QoroJobStatus,
    SimulatorCluster,
)

from .wire import TOKEN

DATA = Path(__file__).parent / "data" / "wire-2026-public.json.gz"
SCENARIOS = {s["name"]: s for s in json.loads(gzip.decompress(DATA.read_bytes()))}
BASE = "https://app.qoroquantum.net/api"
JOB_ID = "4b1d2c3e-0000-4000-8000-00000000abcd"
#: The listings our client fetches once, lazily, before its first 2026 submission
#: (upstream's constructor fetches them instead): recorded in the QPU scenario.
LISTINGS = SCENARIOS["b1_sample_qpu"]["calls"][:2]


class Replay:
    """Answers each (method, path + query) from the recording, in recorded order, and
    keeps every request our client made."""

    def __init__(self, http, calls: list[dict[str, Any]]) -> None:
        self.sent: list[Any] = []
        self._answers: dict[tuple[str, str], deque[dict]] = defaultdict(deque)
        for call in calls:
            request = call["request"]
            self._answers[(request["method"], request["target"])].append(call["answer"])
        http.register_uri("GET", f"{BASE}/", json=self._answer)  # not in any scenario
        for method, target in self._answers:
            http.register_uri(method, f"{BASE}/{target}", json=self._answer, complete_qs=True)

    def _answer(self, request, context):
        self.sent.append(request)
        target = request.url.removeprefix(f"{BASE}/")
        queue = self._answers.get((request.method, target))
        assert queue, f"the recording has no answer left for {request.method} {target}"
        answer = queue.popleft()
        context.status_code = answer["status"]
        return answer.get("json")


@pytest.fixture
def client(http) -> QoroClient:
    """A client of the recorded service, speaking its (and our default) dialect."""
    client = QoroClient(TOKEN, BASE)
    assert client.dialect is Dialect.V2026
    return client


def replay(http, *names: str, listings: bool = False) -> tuple[Replay, list[dict]]:
    """The recorded calls of these scenarios (after the listings, if asked), served."""
    calls = [call for name in names for call in SCENARIOS[name]["calls"]]
    calls = [*LISTINGS, *calls] if listings else calls
    return Replay(http, calls), [call["request"] for call in calls]


def assert_sent_as_recorded(sent: list[Any], recorded: list[dict]) -> None:
    """Each request as the recording has it, in the same order."""
    assert [(r.method, r.url.removeprefix(f"{BASE}/")) for r in sent] == [
        (r["method"], r["target"]) for r in recorded
    ]
    for ours, theirs in zip(sent, recorded, strict=True):
        assert ours.qs == {k: [v] for k, v in theirs["query"].items()}
        assert ours.headers["Authorization"] == f"Bearer {TOKEN}"
        if theirs["method"] == "POST":
            assert ours.headers["Content-Type"] == "application/json"
        if "json" not in theirs:
            assert not ours.body
            continue
        body = json.loads(ours.body)
        assert list(body) == list(theirs["json"]), "keys differ, or their order"
        if "decoded" not in theirs:  # nothing gzipped: the bytes themselves agree
            assert len(ours.body) == theirs["body_len"]
            assert body == theirs["json"]
        else:
            assert_same_upload(body, theirs)


def assert_same_upload(body: dict[str, Any], recorded: dict[str, Any]) -> None:
    """An add_circuits body equal to the recorded one once every gzip field is opened."""
    decoded = recorded["decoded"]
    expected = dict(recorded["json"])
    if "circuits" in body:
        assert {k: unpack_circuit(v) for k, v in body.pop("circuits").items()} == decoded[
            "circuits"
        ]
        del expected["circuits"]
    if "circuit_template" in body:
        assert unpack_circuit(body.pop("circuit_template")) == decoded["circuit_template"]
        del expected["circuit_template"]
    if "observables" in body:
        groups = body.pop("observables").split("|")
        assert [
            {"n_qubits": int(g[len(GZS_PREFIX) :].split(":")[0]), "sparse": _sparse(g)}
            for g in groups
        ] == [{"n_qubits": o["n_qubits"], "sparse": o["sparse"]} for o in decoded["observables"]]
        assert [";".join(g) for g in decode_observable_groups("|".join(groups))] == [
            o["dense"] for o in decoded["observables"]
        ]
        del expected["observables"]
    assert body == expected


def _sparse(group: str) -> str:
    assert group.startswith(GZS_PREFIX)
    return unpack_circuit(group.split(":", 1)[1])


def circuits_of(name: str, call: int = 1) -> dict[str, str]:
    """The OpenQASM a scenario's caller submitted, as recorded."""
    return SCENARIOS[name]["calls"][call]["request"]["decoded"]["circuits"]


# -- listings and account ---------------------------------------------------------------


def test_qpu_systems_are_listed_with_unknown_fields_ignored(client, http):
    served, recorded = replay(http, "j3_fetch_qpu_systems")

    systems = client.fetch_qpu_systems()

    assert_sent_as_recorded(served.sent, recorded)
    expected = SCENARIOS["j3_fetch_qpu_systems"]["client_return"]
    assert [s.name for s in systems] == [e["name"] for e in expected]
    assert [s.supports_expval for s in systems] == [e["supports_expval"] for e in expected]
    assert [s.access_level for s in systems] == [e["access_level"] for e in expected]
    assert [[(q.nickname, q.q_bits, q.online) for q in s.qpus] for s in systems] == [
        [(q["nickname"], q["q_bits"], q["status"] == "ONLINE") for q in e["qpus"]]
        for e in expected
    ]


def test_simulator_clusters_are_listed(client, http):
    served, recorded = replay(http, "j4_fetch_simulator_clusters")

    clusters = client.fetch_simulator_clusters()

    assert_sent_as_recorded(served.sent, recorded)
    assert clusters == [
        SimulatorCluster(e["name"], e["access_level"], e["minimum_tier"], e["supports_expval"])
        for e in SCENARIOS["j4_fetch_simulator_clusters"]["client_return"]
    ]


def test_credit_balance_is_read_as_exact_amounts(client, http):
    served, recorded = replay(http, "j5_credit_balance")

    balance = client.get_credit_balance()

    assert_sent_as_recorded(served.sent, recorded)
    assert (balance.balance, balance.total_used) == (Decimal("500.00"), Decimal("12.50"))
    assert (balance.created_at, balance.updated_at) == (
        "2026-01-01T00:00:00Z",
        "2026-10-01T00:00:00Z",
    )


def test_credit_transactions_ask_for_one_page(client, http):
    served, recorded = replay(http, "j6_credit_transactions")

    page = client.get_credit_transactions(page=2, page_size=50)

    assert_sent_as_recorded(served.sent, recorded)
    expected = SCENARIOS["j6_credit_transactions"]["client_return"]
    assert (page.count, page.total_pages, page.next, page.previous) == (
        51,
        2,
        None,
        expected["previous"],
    )
    (transaction,) = page.results
    assert (transaction.id, transaction.amount, transaction.balance_after) == (
        51,
        Decimal("-1.25"),
        Decimal("487.50"),
    )
    assert (transaction.transaction_type, transaction.job_id) == ("USAGE", JOB_ID)


# -- submissions --------------------------------------------------------------------------


def test_sampling_on_the_default_cluster(client, http):
    served, recorded = replay(http, "a1_sample_sim_default", listings=True)

    job_id = client.submit_job(
        circuits_of("a1_sample_sim_default"), job_type=JobType.SIMULATE, shots=1000
    )

    assert job_id == JOB_ID
    assert_sent_as_recorded(served.sent, recorded)


def test_sampling_on_a_qpu_names_it_as_a_qpu_system(client, http):
    served, recorded = replay(http, "b1_sample_qpu")

    job_id = client.submit_job(
        circuits_of("b1_sample_qpu", call=3),
        job_type=JobType.EXECUTE,
        shots=1000,
        system_name="ibm_torino_system",
    )

    assert job_id == JOB_ID
    assert_sent_as_recorded(served.sent, recorded)


def test_expectation_values_travel_as_one_gzs_group(client, http):
    served, recorded = replay(http, "c1_expval_sim_ZZ_XX", listings=True)

    client.submit_job(
        circuits_of("c1_expval_sim_ZZ_XX"), job_type=JobType.ESTIMATE, observables="ZZ;XX"
    )

    assert_sent_as_recorded(served.sent, recorded)


def test_per_circuit_observables_travel_as_groups_with_a_map(client, http):
    served, recorded = replay(http, "d1_circuit_ham_map", listings=True)
    circuits = circuits_of("d1_circuit_ham_map")

    client.submit_job(
        circuits,
        job_type=JobType.ESTIMATE,
        observables={"bell_a": "ZZ;XX", "bell_b": "ZZ;XX", "ghz3": "ZIZ;XXI;IIY"},
    )

    assert_sent_as_recorded(served.sent, recorded)


def test_per_circuit_shots_travel_as_shot_groups(client, http):
    served, recorded = replay(http, "e1_shot_groups", listings=True)
    circuits = circuits_of("e1_shot_groups")

    client.submit_job(
        circuits,
        job_type=JobType.SIMULATE,
        shots={"bell_a": 500, "bell_b": 500, "ghz3": 2000, "ghz4": 2000},
    )

    assert_sent_as_recorded(served.sent, recorded)


def test_a_template_travels_once_with_its_parameter_sets(client, http):
    served, recorded = replay(http, "f1_template_sampling_5_sets", listings=True)
    upload = SCENARIOS["f1_template_sampling_5_sets"]["calls"][1]["request"]
    template = CircuitTemplate(
        qasm=upload["decoded"]["circuit_template"],
        parameter_names=upload["json"]["parameter_names"],
        parameter_sets={row["label"]: row["values"] for row in upload["json"]["parameter_sets"]},
    )

    client.submit_job({}, job_type=JobType.SIMULATE, shots=1000, templates=[template])

    assert_sent_as_recorded(served.sent, recorded)


def test_chunks_split_where_the_recording_split_them_with_the_envelope_counted():
    """The 30 circuits are elided from the recording; packed stand-ins of the recorded
    lengths split the same way, and every body renders to the recorded length."""
    scenario = SCENARIOS["g1_chunked_bound_circuits"]
    uploads = [call["request"] for call in scenario["calls"][1:]]
    packed = {
        label: "A" * entry["b64_len"]
        for upload in uploads
        for label, entry in upload["json"]["circuits"].items()
    }
    dialect = Dialect.V2026

    payloads = plan_circuit_uploads(
        packed, lambda payload: dialect.upload_body(payload, last=False, shots=1000)
    )

    bodies = [
        dialect.upload_body(p, last=i == len(payloads) - 1, shots=1000)
        for i, p in enumerate(payloads)
    ]
    assert [len(p["circuits"]) for p in payloads] == [
        c["n_circuits"] for c in scenario["chunk_summary"]
    ]
    assert [len(dialect.render(b)) for b in bodies] == [u["body_len"] for u in uploads]
    assert [b["finalized"] for b in bodies] == [u["json"]["finalized"] for u in uploads]
    assert all(len(dialect.render(b)) <= MAX_BODY_BYTES for b in bodies)


# -- results and waiting -------------------------------------------------------------------


def test_results_follow_pages_by_what_arrived_and_decode_every_histogram(client, http):
    served, recorded = replay(http, "h1_results_two_pages_qh1_qh2")

    results = client.job_results(JOB_ID)

    # Ours asks for the status first (is the job finished?), then the pages in order.
    status, *pages = served.sent
    assert status.url == f"{BASE}/job/{JOB_ID}/status/"
    assert_sent_as_recorded(pages, recorded[:2])
    expected = SCENARIOS["h1_results_two_pages_qh1_qh2"]["client_return"]["results"]
    # Upstream hands an empty payload back as the raw envelope; it is an empty histogram.
    expected[-1]["results"] = {}
    assert [{"label": k, "results": v.get_counts()} for k, v in results.items()] == expected


def test_expectation_results_are_values_by_term(client, http):
    served, recorded = replay(http, "h2_results_expectation")

    results = client.job_results(JOB_ID)

    assert [r.url for r in served.sent[1:]] == [f"{BASE}/{recorded[0]['target']}"]
    expected = SCENARIOS["h2_results_expectation"]["client_return"]["results"]
    assert all(isinstance(v, ExpectationValues) for v in results.values())
    assert [{"label": k, "results": v.to_dict()} for k, v in results.items()] == expected


def test_a_wait_goes_through_scheduled_to_completed(client, http, virtual_time):
    served, recorded = replay(http, "i2_poll_until_completed")
    seen: list[QoroJobStatus] = []

    report = client.wait_for_job(
        JOB_ID, polling_interval=0.01, callback=lambda r: seen.append(r.status)
    )

    assert_sent_as_recorded(served.sent, recorded)
    assert seen == [QoroJobStatus(s) for s in ("PENDING", "SCHEDULED", "RUNNING", "COMPLETED")]
    assert (report.status, report.run_time) == (QoroJobStatus.COMPLETED, 1.5)


def test_a_failed_wait_raises_with_the_servers_message(client, http, virtual_time):
    served, recorded = replay(http, "i3_poll_failed_with_message")

    with pytest.raises(JobFailedError, match=JOB_ID) as info:
        client.wait_for_job(JOB_ID, polling_interval=0.01)

    assert_sent_as_recorded(served.sent, recorded)
    # Upstream's error carries only the id; ours keeps what the server said.
    assert info.value.reason == "Circuit 'bell' failed: unsupported gate 'foo'"


def test_cancel_posts_no_body(client, http):
    served, recorded = replay(http, "i7_cancel")

    answer = client.cancel_job(JOB_ID)

    assert_sent_as_recorded(served.sent, recorded)
    assert answer == SCENARIOS["i7_cancel"]["client_return"]["json"]


def test_delete_has_no_trailing_slash(client, http):
    served, recorded = replay(http, "i9_delete")

    assert client.delete_job(JOB_ID) is None

    assert_sent_as_recorded(served.sent, recorded)


def test_every_recorded_scenario_is_replayed():
    """A new scenario in the recording needs a test here."""
    replayed = {
        "j3_fetch_qpu_systems",
        "j4_fetch_simulator_clusters",
        "j5_credit_balance",
        "j6_credit_transactions",
        "a1_sample_sim_default",
        "b1_sample_qpu",
        "c1_expval_sim_ZZ_XX",
        "d1_circuit_ham_map",
        "e1_shot_groups",
        "f1_template_sampling_5_sets",
        "g1_chunked_bound_circuits",
        "h1_results_two_pages_qh1_qh2",
        "h2_results_expectation",
        "i2_poll_until_completed",
        "i3_poll_failed_with_message",
        "i7_cancel",
        "i9_delete",
    }
    assert set(SCENARIOS) == replayed
