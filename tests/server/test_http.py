"""Every endpoint of the local server over plain HTTP: answers, refusals and isolation."""

from __future__ import annotations

import base64
import gzip
import json
import uuid

import pytest
import requests
from qiskit import QuantumCircuit

from qiskit_divi.exceptions import MissingCredentialsError
from qiskit_divi.qoro.protocol import MAX_BODY_BYTES, Endpoint
from qiskit_divi.server import DEFAULT_SYSTEMS, LocalServer

from .helpers import bell, packed

pytestmark = pytest.mark.timeout(120)


# -- reachability and auth --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "/"])
def test_ping_answers_a_valid_token(server, path):
    answer = requests.get(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic alice-token"}],
    ids=["missing", "unknown", "not-bearer"],
)
@pytest.mark.parametrize("path", ["", "/qpusystem/", f"/job/{uuid.uuid4()}/status/"])
def test_requests_without_a_valid_token_get_401(server, headers, path):
    answer = requests.get(server.url + path, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert "bearer token" in answer.json()["detail"]
    assert "alice-token" not in answer.text


def test_a_refused_token_does_not_reach_the_body(server):
    answer = requests.post(f"{server.url}/job/init/", data=b"x" * (4 * MAX_BODY_BYTES))
    assert answer.status_code == 401


# -- systems ----------------------------------------------------------------------------------


def test_qpu_systems_lists_the_noisy_fake_backend(alice):
    answer = alice.get("qpusystem/")
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "name": "fake_manila",
            "access_level": "public",
            "qpus": [
                {
                    "nickname": "fake_manila",
                    "q_bits": 5,
                    "status": "online",
                    "system_kind": "superconducting (simulated with fake-backend noise)",
                }
            ],
            "supports_expval": False,
        }
    ]


def test_simulator_clusters_lists_the_default_system(alice):
    assert alice.get("simulatorcluster/").json() == [
        {
            "name": "qoro_maestro",
            "access_level": "public",
            "minimum_tier": "FREE",
            "supports_expval": True,
        }
    ]
    assert {system.name for system in DEFAULT_SYSTEMS} == {"qoro_maestro", "fake_manila"}


# -- job/init/ ------------------------------------------------------------------------------


def test_init_creates_a_pending_job(alice):
    answer = alice.post(
        "job/init/",
        {
            "shots": 10,
            "tag": "t1",
            "job_type": "SIMULATE",
            "qpu_system_name": "qoro_maestro",
            "use_packing": False,
        },
    )
    assert answer.status_code == 201
    job_id = answer.json()["job_id"]
    assert uuid.UUID(job_id)
    assert alice.status(job_id) == {
        "job_id": job_id,
        "status": "PENDING",
        "job_type": "SIMULATE",
        "tag": "t1",
        "qpu_system_name": "qoro_maestro",
        "circuits": 0,
        "run_time": None,
    }


def test_init_takes_the_newer_target_key(alice):
    job_id = alice.post(
        "job/init/", {"job_type": "EXECUTE", "simulator_cluster": "qoro_maestro"}
    ).json()["job_id"]
    assert alice.status(job_id)["qpu_system_name"] == "qoro_maestro"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "malformed JSON"),
        ("[1, 2]", "must be an object"),
        ({"job_type": "SAMPLE"}, "unknown job type 'SAMPLE'"),
        ({}, "job_type must be a string"),
        ({"job_type": "SIMULATE", "qpu_system_name": "nowhere"}, "unknown system 'nowhere'"),
        (
            {
                "job_type": "SIMULATE",
                "qpu_system_name": "qoro_maestro",
                "simulator_cluster": "fake_manila",
            },
            "name different systems",
        ),
        (
            {"job_type": "EXPECTATION", "qpu_system_name": "fake_manila"},
            "'fake_manila' does not run EXPECTATION jobs",
        ),
        ({"job_type": "SIMULATE", "shots": 0}, "shots must be a positive integer"),
        ({"job_type": "SIMULATE", "shots": "many"}, "shots must be an integer"),
        ({"job_type": "SIMULATE", "tag": 5}, "tag must be a string"),
        ({"job_type": "SIMULATE", "use_packing": "yes"}, "use_packing must be true or false"),
        ({"job_type": "SIMULATE", "qpu_system_name": ["x"]}, "a system name must be a string"),
        ("[" * 100_000, "malformed JSON"),
    ],
)
def test_init_refuses_bad_bodies_with_400_naming_the_problem(alice, body, problem):
    data = body if isinstance(body, str) else json.dumps(body)
    answer = alice.session.post(
        f"{alice.url}/job/init/", data=data, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert problem in answer.json()["detail"]


# -- add_circuits ---------------------------------------------------------------------------


def gzip_b64(text: bytes) -> str:
    return base64.b64encode(gzip.compress(text)).decode()


WIDE = QuantumCircuit(6, 6)
WIDE.measure(range(6), range(6))


@pytest.mark.parametrize(
    ("job_type", "system", "circuits", "extra", "problem"),
    [
        (
            "SIMULATE",
            "qoro_maestro",
            {"c": "%%%"},
            {"shots": 5},
            "circuit 'c': packed circuit is not valid base64",
        ),
        (
            "SIMULATE",
            "qoro_maestro",
            {"c": base64.b64encode(b"plain").decode()},
            {"shots": 5},
            "circuit 'c': packed circuit is not gzip data",
        ),
        (
            "SIMULATE",
            "qoro_maestro",
            {"c": gzip_b64(b"OPENQASM 2.0; qreg q[1]; foo q[0];")},
            {"shots": 5},
            "circuit 'c': invalid OpenQASM 2",
        ),
        (
            "SIMULATE",
            "fake_manila",
            {"wide": WIDE},
            {"shots": 5},
            "circuit 'wide': 6 qubits, but 'fake_manila' has 5",
        ),
        (
            "SIMULATE",
            "qoro_maestro",
            {"b": bell(measure=False)},
            {"shots": 5},
            "circuit 'b': measures nothing",
        ),
        ("SIMULATE", "qoro_maestro", {"b": bell()}, {}, "SIMULATE jobs need shots"),
        (
            "SIMULATE",
            "qoro_maestro",
            {"b": bell()},
            {"shots": 5, "observables": "ZZ"},
            "observables are for EXPECTATION jobs",
        ),
        ("EXPECTATION", "qoro_maestro", {"b": bell()}, {}, "EXPECTATION jobs need observables"),
        (
            "EXPECTATION",
            "qoro_maestro",
            {"b": bell()},
            {"observables": "ZQ"},
            "observables: observable 'ZQ'",
        ),
        (
            "EXPECTATION",
            "qoro_maestro",
            {"b": bell()},
            {"observables": "ZZZ"},
            "circuit 'b': 2 qubits, but the observables act on 3",
        ),
        (
            "CIRCUIT_CUT",
            "qoro_maestro",
            {"a": bell(), "b": bell()},
            {"shots": 5},
            "CIRCUIT_CUT jobs take at most 1 circuit",
        ),
        (
            "SIMULATE",
            "qoro_maestro",
            {"b": bell()},
            {"shots": 5, "mode": "replace"},
            "mode 'replace'",
        ),
        (
            "SIMULATE",
            "qoro_maestro",
            {"b": bell()},
            {"shots": 5, "finalized": "yes"},
            'finalized must be "true" or "false"',
        ),
    ],
)
def test_add_circuits_refuses_bad_chunks_with_400_naming_the_problem(
    alice, job_type, system, circuits, extra, problem
):
    job_id = alice.init(job_type, system)
    answer = alice.add(job_id, circuits, **extra)
    assert answer.status_code == 400
    assert problem in answer.json()["detail"]
    assert alice.status(job_id)["circuits"] == 0
    assert alice.get("").status_code == 200  # and the server keeps serving


def test_add_circuits_refuses_a_circuits_value_that_is_not_a_mapping(alice):
    job_id = alice.init()
    answer = alice.post(f"job/{job_id}/add_circuits/", {"circuits": ["x"], "shots": 5})
    assert answer.status_code == 400
    assert "circuits must be an object" in answer.json()["detail"]


def test_chunks_accumulate_and_a_retried_chunk_is_stored_once(alice):
    job_id = alice.init(shots=10)
    first = {"a": bell(), "b": bell()}
    assert alice.add(job_id, first, final=False).json()["circuits_added"] == 2
    assert alice.add(job_id, first, final=False).json()["circuits_added"] == 0
    assert alice.status(job_id)["circuits"] == 2
    changed = alice.add(job_id, {"a": flipped()}, final=False)
    assert changed.status_code == 400
    assert "'a' already holds a different circuit" in changed.json()["detail"]


def flipped() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    return circuit


def test_a_finalized_job_takes_no_more_circuits(alice):
    job_id = alice.submit({"a": bell()})
    answer = alice.add(job_id, {"late": bell()})
    assert answer.status_code == 409
    assert "takes no more circuits" in answer.json()["detail"]


# -- body limits ----------------------------------------------------------------------------


def big_chunk(n_bytes: int) -> dict[str, str]:
    """Labels whose accounting alone passes ``n_bytes`` (the payloads are irrelevant: the cap
    is checked before they are)."""
    payload = packed(bell())
    count = n_bytes // (len(payload) + 16) + 1
    return {f"c{i:09d}": payload for i in range(count)}


def test_a_declared_body_over_the_cap_gets_413(alice):
    job_id = alice.init(shots=5)
    body = json.dumps({"circuits": big_chunk(2 * MAX_BODY_BYTES), "shots": 5})
    answer = alice.session.post(f"{alice.url}/job/{job_id}/add_circuits/", data=body)
    assert answer.status_code == 413
    assert "smaller add_circuits chunks" in answer.json()["detail"]
    assert alice.status(job_id)["circuits"] == 0


def test_a_streamed_body_over_the_cap_gets_413(alice):
    job_id = alice.init(shots=5)
    body = json.dumps({"circuits": big_chunk(2 * MAX_BODY_BYTES), "shots": 5}).encode()

    def stream():  # no Content-Length: sent chunked, so only counting the bytes catches it
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    answer = alice.session.post(f"{alice.url}/job/{job_id}/add_circuits/", data=stream())
    assert answer.status_code == 413
    assert alice.get("").status_code == 200


def test_a_chunk_whose_circuits_pass_the_cap_gets_413_even_in_a_small_envelope(alice):
    job_id = alice.init(shots=5)
    circuits = big_chunk(MAX_BODY_BYTES)
    cost = 2 + sum(len(k) + len(v) + 6 for k, v in circuits.items())
    assert cost > MAX_BODY_BYTES
    answer = alice.post(f"job/{job_id}/add_circuits/", {"circuits": circuits, "shots": 5})
    assert answer.status_code == 413


def test_a_chunk_filled_to_the_cap_is_accepted(alice):
    job_id = alice.init(shots=5)
    payload = packed(bell())
    circuits, cost, i = {}, 2, 0
    while cost + len(payload) + 16 <= MAX_BODY_BYTES:
        circuits[f"c{i:09d}"] = payload
        cost += len(payload) + 16
        i += 1
    answer = alice.post(
        f"job/{job_id}/add_circuits/",
        {"circuits": circuits, "shots": 5, "mode": "append", "finalized": "false"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["circuits_added"] == len(circuits)


# -- status, results, cancel, delete ----------------------------------------------------------


def test_unknown_jobs_are_404_on_every_job_endpoint(alice):
    job = f"job/{uuid.uuid4()}"
    for answer in (
        alice.get(f"{job}/status/"),
        alice.get(f"{job}/resultsV2/"),
        alice.post(f"{job}/add_circuits/", {"circuits": {}}),
        alice.post(f"{job}/cancel/"),
        alice.delete(job),
    ):
        assert answer.status_code == 404
        assert "no job" in answer.json()["detail"]


def test_one_token_never_sees_another_tokens_job(alice, bob):
    job_id = alice.submit({"a": bell()})
    job = f"job/{job_id}"
    for answer in (
        bob.get(f"{job}/status/"),
        bob.get(f"{job}/resultsV2/"),
        bob.add(job_id, {"b": bell()}),
        bob.post(f"{job}/cancel/"),
        bob.delete(job),
    ):
        assert answer.status_code == 404
    assert alice.wait(job_id)["status"] == "COMPLETED"
    assert set(alice.results(job_id)) == {"a"}


def test_results_of_an_unfinished_job_are_400(alice):
    job_id = alice.init(shots=5)
    alice.add(job_id, {"a": bell()}, final=False)
    answer = alice.get(f"job/{job_id}/resultsV2/?limit=100&offset=0")
    assert answer.status_code == 400
    assert "is PENDING" in answer.json()["detail"]


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "offset=-1", "offset=1.5", "limit=²"])
def test_bad_pagination_parameters_are_400(alice, query):
    job_id = alice.init(shots=5)
    answer = alice.get(f"job/{job_id}/resultsV2/?{query}")
    assert answer.status_code == 400
    assert query.split("=")[0] in answer.json()["detail"]


def test_cancel_a_pending_job_then_not_again(alice):
    job_id = alice.init(shots=5)
    alice.add(job_id, {"a": bell(), "b": bell()}, final=False)
    answer = alice.post(f"job/{job_id}/cancel/")
    assert answer.status_code == 200
    assert answer.json() == {"status": "CANCELLED", "job_id": job_id, "circuits_cancelled": 2}
    assert alice.status(job_id)["status"] == "CANCELLED"
    again = alice.post(f"job/{job_id}/cancel/")
    assert again.status_code == 409
    assert "CANCELLED" in again.json()["detail"]
    assert alice.add(job_id, {"c": bell()}).status_code == 409
    assert alice.get(f"job/{job_id}/resultsV2/").status_code == 400


def test_a_completed_job_cannot_be_cancelled(alice):
    job_id = alice.submit({"a": bell()})
    alice.wait(job_id)
    answer = alice.post(f"job/{job_id}/cancel/")
    assert answer.status_code == 409
    assert "COMPLETED" in answer.json()["detail"]


def test_delete_answers_204_and_the_job_is_gone(alice):
    job_id = alice.submit({"a": bell()})
    answer = alice.delete(f"job/{job_id}")
    assert answer.status_code == 204
    assert answer.content == b""
    assert alice.get(f"job/{job_id}/status/").status_code == 404
    assert alice.delete(f"job/{job_id}").status_code == 404


def test_unknown_paths_and_methods_answer_json(alice):
    missing = alice.get("nothing/here/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    assert alice.get("job/init/").status_code == 405


@pytest.mark.parametrize("endpoint", list(Endpoint), ids=lambda e: e.name)
def test_every_protocol_endpoint_is_served_at_its_path_for_its_method_only(alice, endpoint):
    job_id = str(uuid.uuid4()) if "{job_id}" in endpoint.template else None
    url = f"{alice.url}/{endpoint.path(job_id)}"
    answer = alice.session.request(endpoint.method, url, timeout=30)
    assert answer.status_code != 405
    assert answer.json() != {"detail": "Not Found"}  # the router's own 404
    assert alice.session.request("PATCH", url, timeout=30).status_code == 405


def test_the_api_lives_under_api_only(server):
    root = server.url.removesuffix("/api")
    answer = requests.get(
        f"{root}/qpusystem/", headers={"Authorization": f"Bearer {server.token}"}
    )
    assert answer.status_code == 404


def test_a_server_without_tokens_is_refused_before_it_starts():
    with pytest.raises(MissingCredentialsError, match="at least one token"):
        LocalServer(tokens=())


def test_repr_shows_no_token(server):
    assert "alice-token" not in repr(server)
    assert server.url in repr(server)
