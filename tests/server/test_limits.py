"""Limits a job meets before anything runs: circuit sizes read from the text before any
parse, shots and outcomes, integers past their range, and clients too slow to send."""

from __future__ import annotations

import socket

import pytest
from qiskit import QuantumCircuit, qasm2

from qiskit_divi.exceptions import CircuitTooWideError, InvalidCircuitError, InvalidInputError
from qiskit_divi.qoro.codec import decode_histogram
from qiskit_divi.server import Limits, LocalServer
from qiskit_divi.server.limits import measure_program

from .helpers import Api, bell, qasm_job, read_answer

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def nested(depth: int, calls: int) -> str:
    """Gate definitions ``depth`` deep, each calling the one below ``calls`` times."""
    lines = [HEADER, "gate g0 a { " + "h a; " * calls + "}"]
    for level in range(1, depth):
        lines.append(f"gate g{level} a {{ " + f"g{level - 1} a; " * calls + "}")
    lines.append(f"qreg q[1];\ncreg c[1];\ng{depth - 1} q[0];\nmeasure q -> c;")
    return "\n".join(lines)


def measure(text: str, limits: Limits | None = None, width: int = 64):
    return measure_program("c", text, limits or Limits(), width, "'sim'")


def test_sizes_read_from_the_text_match_the_parsed_circuit():
    circuit = QuantumCircuit(5, 3)
    circuit.h(range(5))
    circuit.rzz(0.3, 0, 4)
    circuit.measure([0, 1, 2], [0, 1, 2])
    size = measure(qasm2.dumps(circuit))
    assert (size.qubits, size.clbits, size.measures) == (5, 3, True)
    assert size.gates == len(circuit.data)


def test_definitions_and_register_wide_statements_are_counted_expanded():
    text = nested(depth=3, calls=2) + "\nqreg r[4];\nh r;\nbarrier r;\nif (c == 1) x r;"
    size = measure(text)
    # g2 = 2 g1 = 4 g0 = 8 h; measure q -> c is 1; h, barrier and x on r are 4 each
    assert (size.qubits, size.clbits, size.gates, size.measures) == (5, 1, 8 + 1 + 12, True)
    assert not measure(HEADER + "qreg q[2];\nh q[0];").measures


@pytest.mark.parametrize(
    ("text", "error", "problem"),
    [
        (HEADER + "qreg q[4000000];", CircuitTooWideError, "4000000 qubits, but 'sim' has 64"),
        (HEADER + "qreg q[40];\nqreg r[40];", CircuitTooWideError, "80 qubits"),
        (HEADER + f"qreg q[{'9' * 5000}];", CircuitTooWideError, "9999 qubits"),
        (HEADER + "qreg q[1];\ncreg c[1100000];", InvalidCircuitError, "1100000 classical bits"),
        (nested(depth=40, calls=1), InvalidCircuitError, "nest deeper than 20 levels"),
        (nested(depth=17, calls=3), InvalidCircuitError, "expands to more than 1000000 gates"),
        (
            HEADER + "qreg q[64];\n" + "h q;\n" * 20_000,
            InvalidCircuitError,
            "runs more than 1000000 gates",
        ),
    ],
)
def test_programs_past_a_limit_are_refused_from_their_text(text, error, problem):
    with pytest.raises(error, match="circuit 'c': ") as refusal:
        measure(text)
    assert problem in str(refusal.value)


def test_limits_are_checked_when_made():
    with pytest.raises(InvalidInputError, match="max_shots must be positive"):
        Limits(max_shots=0)
    with pytest.raises(InvalidInputError, match="max_qubits must be an integer"):
        Limits(max_qubits=2.5)
    with pytest.raises(InvalidInputError, match="max_clbits may be at most 1048576"):
        Limits(max_clbits=1_100_000)
    with pytest.raises(InvalidInputError, match="may not pass max_outcomes"):
        Limits(max_shots=10, max_outcomes=5)


# -- over HTTP ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            HEADER + "qreg q[4000000];",
            "4000000 qubits, but 'qoro_maestro' (the server's max_qubits)",
        ),
        (HEADER + "qreg q[1];\ncreg c[1100000];", "1100000 classical bits"),
        (nested(depth=40, calls=1), "nest deeper than 20 levels"),
        (nested(depth=17, calls=3), "expands to more than 1000000 gates"),
    ],
)
def test_hostile_circuits_are_refused_with_400(alice, text, problem):
    job_id = alice.init(shots=10)
    answer = alice.add(job_id, qasm_job(text))
    assert answer.status_code == 400
    assert problem in answer.json()["detail"]
    assert alice.status(job_id)["circuits"] == 0


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("resultsV2/?limit=9223372036854775808", "limit"),
        ("resultsV2/?offset=9223372036854775808", "offset"),
        ("resultsV2/?limit=" + "9" * 5000, "limit"),
    ],
)
def test_integers_out_of_range_answer_400_naming_the_field(alice, path, field):
    job_id = alice.submit({"b": bell()})
    answer = alice.get(f"job/{job_id}/{path}")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(f"{field} must be an integer from")


@pytest.mark.parametrize("shots", [2**63, 2**64 + 1, 1_000_001])
def test_shots_past_the_limit_answer_400(alice, shots):
    answer = alice.post("job/init/", {"job_type": "SIMULATE", "shots": shots})
    assert answer.status_code == 400
    assert "shots must be at most 1000000" in answer.json()["detail"]
    job_id = alice.init()
    answer = alice.add(job_id, {"b": bell()}, shots=shots)
    assert answer.status_code == 400
    assert "shots must be at most 1000000" in answer.json()["detail"]


def test_a_job_may_not_ask_more_outcomes_than_the_limit(alice):
    job_id = alice.init(shots=1_000_000)
    assert alice.add(job_id, {f"b{i}": bell() for i in range(10)}, final=False).status_code == 200
    answer = alice.add(job_id, {"one_more": bell()})
    assert answer.status_code == 400
    assert "at most 10000000 outcomes" in answer.json()["detail"]


def test_the_server_process_never_parses_a_circuit(alice, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("OpenQASM parsed in the server's own process")

    monkeypatch.setattr(qasm2, "loads", refuse)
    job_id = alice.submit({"b": bell()})
    assert alice.wait(job_id)["status"] == "COMPLETED"
    assert set(decode_histogram(alice.results(job_id)["b"]).get_counts()) == {"00", "11"}
    invalid = alice.add(alice.init(shots=5), qasm_job(HEADER + "qreg q[1];\nfoo q[0];"))
    assert invalid.status_code == 400
    assert "invalid OpenQASM 2" in invalid.json()["detail"]


def test_a_client_too_slow_to_send_its_body_gets_408_and_stores_nothing():
    with LocalServer(limits=Limits(body_seconds=0.5)) as server:
        api = Api(server.url, server.token)
        job_id = api.init(shots=10)
        port = int(server.url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(
                f"POST /api/job/{job_id}/add_circuits/ HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{".encode()
            )
            answer = read_answer(client)
        assert answer.startswith("HTTP/1.1 408")
        assert "body_seconds" in answer
        assert api.status(job_id)["circuits"] == 0
        assert api.get("").status_code == 200
