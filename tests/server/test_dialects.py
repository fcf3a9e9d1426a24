"""Both wire dialects end to end against the local server, what only the 2026 wire
carries (per-circuit shots and observables, templates, settings), statuses and credits."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal

import pytest
from qiskit import QuantumCircuit, qasm2
from starlette.requests import Request

from qiskit_divi.exceptions import InsufficientCreditsError, InvalidInputError, QoroAPIError
from qiskit_divi.qoro.client import CircuitTemplate, QoroClient
from qiskit_divi.qoro.codec import pack_circuit
from qiskit_divi.qoro.protocol import ExecutionConfig, JobType, QoroJobStatus
from qiskit_divi.server import LocalServer, create_app
from qiskit_divi.server.app import _Api, bind_template
from qiskit_divi.server.config import DEFAULT_SYSTEMS, check_systems
from qiskit_divi.server.limits import Limits
from qiskit_divi.server.store import Store

from .conftest import SEED, TOKENS
from .helpers import bell

DIALECTS = ["2025", "2026"]


def basis(bits: str) -> QuantumCircuit:
    """|bits> (bits[0] on qubit 0, as the wire writes terms), measured."""
    circuit = QuantumCircuit(len(bits), len(bits))
    for qubit, bit in enumerate(bits):
        if bit == "1":
            circuit.x(qubit)
    circuit.measure(range(len(bits)), range(len(bits)))
    return circuit


def unmeasured(bits: str) -> QuantumCircuit:
    circuit = basis(bits)
    circuit.remove_final_measurements()
    return circuit


def run(client: QoroClient, circuits, **options) -> dict:
    job_id = client.submit_job({label: qasm2.dumps(c) for label, c in circuits.items()}, **options)
    client.wait_for_job(job_id, polling_interval=0.02, timeout=240)
    return client.job_results(job_id)


@pytest.fixture
def client_in(server: LocalServer) -> Iterator:
    clients: list[QoroClient] = []

    def make(dialect: str) -> QoroClient:
        clients.append(QoroClient(server.token, server.url, dialect=dialect))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


# -- the same jobs in both dialects ----------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sampling_returns_exact_counts_of_basis_states(client_in, dialect):
    results = run(
        client_in(dialect),
        {"s01": basis("01"), "s110": basis("110")},
        job_type=JobType.SIMULATE,
        shots=37,
    )

    # Classical bit 0 is the rightmost character of a count's key.
    assert {k: v.get_counts() for k, v in results.items()} == {
        "s01": {"10": 37},
        "s110": {"011": 37},
    }


@pytest.mark.parametrize("dialect", DIALECTS)
def test_expectation_values_are_exact(client_in, dialect):
    results = run(
        client_in(dialect),
        {"bell": bell(measure=False)},
        job_type=JobType.ESTIMATE,
        observables="ZZ;XX;ZI",
    )

    assert results["bell"].to_dict() == pytest.approx({"ZZ": 1.0, "XX": 1.0, "ZI": 0.0}, abs=1e-12)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_qpu_runs_execute_jobs_in_both_dialects(client_in, dialect):
    results = run(
        client_in(dialect),
        {"bell": bell()},
        job_type=JobType.EXECUTE,
        shots=200,
        system_name="fake_manila",
    )

    counts = results["bell"].get_counts()
    assert sum(counts.values()) == 200 and counts.get("00", 0) + counts.get("11", 0) > 150


# -- what only the 2026 wire carries ----------------------------------------------------------


def test_per_circuit_shots_make_one_job(client_in):
    shots = {"a": 10, "b": 10, "c": 31, "d": 7}
    circuits = {"a": basis("1"), "b": basis("01"), "c": basis("11"), "d": basis("0")}

    results = run(client_in("2026"), circuits, job_type=JobType.EXECUTE, shots=shots)

    assert {k: v.get_counts() for k, v in results.items()} == {
        "a": {"1": 10},
        "b": {"10": 10},
        "c": {"11": 31},
        "d": {"0": 7},
    }


def test_per_circuit_observables_make_one_job(client_in):
    circuits = {"x0": unmeasured("10"), "x1": unmeasured("01"), "w": unmeasured("110")}
    observables = {"x0": "ZI;IZ", "x1": "ZI;IZ", "w": "ZZZ;IIZ"}

    results = run(client_in("2026"), circuits, job_type=JobType.ESTIMATE, observables=observables)

    assert {k: v.to_dict() for k, v in results.items()} == {
        "x0": {"ZI": -1.0, "IZ": 1.0},
        "x1": {"ZI": 1.0, "IZ": -1.0},
        "w": {"ZZZ": 1.0, "IIZ": 1.0},
    }


TEMPLATE = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
ry(theta) q[0];
rx(2*theta + phi) q[1];
measure q -> c;
"""


def test_templates_run_once_per_row_keyed_by_row(client_in):
    sampled = CircuitTemplate(
        TEMPLATE, ["theta", "phi"], {"zero": [0.0, 0.0], "flip": [math.pi, -math.pi]}, shots=25
    )
    estimated = CircuitTemplate(
        TEMPLATE.replace("measure q -> c;\n", ""),
        ["theta", "phi"],
        {f"t{k}": [k * math.pi / 3, 0.0] for k in range(4)},
        observables="ZI",
    )
    client = client_in("2026")

    counts = client.job_results(
        _waited(
            client,
            client.submit_job(
                {"a": qasm2.dumps(basis("1"))},
                job_type=JobType.EXECUTE,
                shots=3,
                templates=[sampled],
            ),
        )
    )
    values = client.job_results(
        _waited(client, client.submit_job({}, job_type=JobType.ESTIMATE, templates=[estimated]))
    )

    # theta = pi, 2*theta + phi = pi: both qubits flipped.
    assert {k: v.get_counts() for k, v in counts.items()} == {
        "a": {"1": 3},
        "zero": {"00": 25},
        "flip": {"11": 25},
    }
    assert [values[f"t{k}"].to_dict()["ZI"] for k in range(4)] == pytest.approx(
        [math.cos(k * math.pi / 3) for k in range(4)], abs=1e-12
    )


def _waited(client: QoroClient, job_id: str) -> str:
    client.wait_for_job(job_id, polling_interval=0.02, timeout=240)
    return job_id


def test_settings_are_kept_per_job_and_refused_on_the_wrong_target(client_in):
    client = client_in("2026")
    job_id = client.submit_job(
        {"a": qasm2.dumps(bell())},
        job_type=JobType.EXECUTE,
        shots=5,
        maestro_config={"max_bond_dimension": 8},
    )

    assert client.job_execution_config(job_id) == ExecutionConfig({"max_bond_dimension": 8}, None)
    with pytest.raises(InvalidInputError, match="maestro_config does not apply"):
        client.submit_job(
            {"a": qasm2.dumps(bell())},
            job_type=JobType.EXECUTE,
            shots=5,
            system_name="fake_manila",
            maestro_config={},
        )


def test_circuit_cutting_is_refused_on_2026_before_sending(client_in):
    with pytest.raises(InvalidInputError, match="qiskit-addon-cutting"):
        client_in("2026").submit_job(
            {"a": qasm2.dumps(bell())}, job_type=JobType.CIRCUIT_CUT, shots=5
        )


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"shot_groups": [[0, 1, 5]]}, "shot_groups cover 1 of 2 circuits"),
        ({"shot_groups": [[1, 2, 5]]}, "tile this upload's 2 circuits"),
        ({"shot_groups": [[0, 1, 5], [1, 2, 0]]}, "positive shots"),
        ({"shot_groups": [[0, 2, 5]], "shots": 5}, "take the place of shots"),
    ],
)
def test_bad_shot_groups_are_400(alice, extra, problem):
    job_id = alice.post(
        "job/init/", {"tag": "t", "job_type": "EXECUTE", "simulator_cluster": "qoro_maestro"}
    ).json()["job_id"]
    answer = alice.add(job_id, {"a": bell(), "b": bell()}, **extra)
    assert answer.status_code == 400 and problem in answer.json()["detail"]


def test_a_ham_map_that_misses_a_circuit_is_400(alice):
    job_id = alice.post(
        "job/init/", {"tag": "t", "job_type": "EXPECTATION", "simulator_cluster": "qoro_maestro"}
    ).json()["job_id"]
    answer = alice.add(
        job_id,
        {"a": bell(False), "b": bell(False)},
        observables="ZZ|XX",
        circuit_ham_map=[[0, 1], [2, 3]],
    )
    assert (
        answer.status_code == 400
        and "'b' (#1) is in no circuit_ham_map range" in answer.json()["detail"]
    )


def test_a_template_is_bound_only_in_gate_arguments():
    qasm = (
        "gate g(theta) a { rz(theta) a; }\nqreg theta[1];\nry(theta) theta[0];\n"
        "g(theta*2) theta[0];\nU(phi, 0, theta) theta[0];\n"
    )
    assert bind_template(qasm, {"theta": 0.5, "phi": -1.0}) == (
        "gate g(theta) a { rz(theta) a; }\nqreg theta[1];\nry(0.5) theta[0];\n"
        "g(0.5*2) theta[0];\nU(-1.0, 0, 0.5) theta[0];\n"
    )


# -- statuses and credits -----------------------------------------------------------------


class _Idle:
    """A runner that takes jobs and never runs them: a finalized job stays queued."""

    def submit(self, job_id: str) -> None:
        pass


def _inline(function, *args):
    """A chunk check run here, where the server would use a worker process."""
    return function(*args)


def _request(job_id: str | None = None, body: dict | None = None) -> tuple[Request, bytes]:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    scope["path_params"] = {} if job_id is None else {"job_id": job_id}
    return Request(scope), json.dumps(body).encode()


def test_a_finalized_job_waits_as_scheduled_on_2026_and_pending_on_2025(tmp_path):
    store = Store(tmp_path / "jobs.sqlite3")
    api = _Api(
        store,
        _Idle(),  # type: ignore[arg-type]
        _inline,  # type: ignore[arg-type]
        check_systems(DEFAULT_SYSTEMS),
        frozenset({"owner"}),
        Limits(),
    )
    init_2026 = {"tag": "t", "job_type": "EXECUTE", "simulator_cluster": "qoro_maestro"}
    init_2025 = {"tag": "t", "job_type": "SIMULATE", "qpu_system_name": "qoro_maestro", "shots": 5}
    upload = {
        "circuits": {"a": pack_circuit(qasm2.dumps(bell()))},
        "mode": "append",
        "finalized": "true",
        "shots": 5,
    }
    statuses = []
    for init in (init_2026, init_2025):
        job_id = json.loads(api.init_job("owner", *_request(body=init)).body)["job_id"]
        api.add_circuits("owner", *_request(job_id, upload))
        statuses.append(json.loads(api.status("owner", *_request(job_id)).body)["status"])
    store.close()

    assert statuses == ["SCHEDULED", "PENDING"]


def test_without_a_ledger_credits_are_not_served(client_in):
    with pytest.raises(QoroAPIError, match="no credit ledger") as info:
        client_in("2026").get_credit_balance()
    assert info.value.status_code == 404


def test_a_ledger_charges_each_job_and_stops_one_it_cannot_pay():
    with LocalServer(tokens=("payer", "other"), credits=5, seed=SEED) as server:
        client = QoroClient("payer", server.url)
        circuits = {"a": qasm2.dumps(bell()), "b": qasm2.dumps(bell())}

        paid = client.submit_job(circuits, job_type=JobType.SIMULATE, shots=1000)
        client.wait_for_job(paid, polling_interval=0.02, timeout=240)
        unpaid = client.submit_job(
            circuits, job_type=JobType.SIMULATE, shots={"a": 3000, "b": 1500}
        )

        assert client.job_status(unpaid).status is QoroJobStatus.INSUFFICIENT_CREDITS
        with pytest.raises(
            InsufficientCreditsError, match=r"costs 4\.50 credits and the balance is 3\.00"
        ):
            client.wait_for_job(unpaid, polling_interval=0.02)
        estimate = client.submit_job(
            {"e": qasm2.dumps(bell(measure=False))}, job_type=JobType.ESTIMATE, observables="ZZ"
        )
        client.wait_for_job(estimate, polling_interval=0.02, timeout=240)
        balance = client.get_credit_balance()
        page = client.get_credit_transactions(page=1, page_size=2)
        other = QoroClient("other", server.url).get_credit_balance()

    assert (balance.balance, balance.total_used) == (Decimal("2.00"), Decimal("3.00"))
    assert (page.count, page.total_pages, page.previous) == (3, 2, None)
    assert page.next is not None and "page=2" in page.next
    assert [(t.transaction_type, t.amount, t.balance_after, t.job_id) for t in page.results] == [
        ("USAGE", Decimal("-1.00"), Decimal("2.00"), estimate),
        ("USAGE", Decimal("-2.00"), Decimal("3.00"), paid),
    ]
    assert other.balance == Decimal(5)


def test_credits_must_be_a_non_negative_number(tmp_path):
    for bad in (-1, "lots", float("nan")):
        with pytest.raises(InvalidInputError, match="credits"):
            create_app(tokens=TOKENS, db_path=tmp_path / "jobs.sqlite3", credits=bad)
