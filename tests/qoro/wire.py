"""Canned Qoro wire payloads, built by hand from ``docs/protocol.rst``, for the tests that
check requests and answers one by one under requests-mock (whole workflows run against
the local server instead).

Deliberately simple, loop-by-loop Python: an independent reading of the spec to check
the vectorised codec against, and a place to damage one field of a payload at a time.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests_mock

from qiskit_divi.qoro.codec import unpack_circuit
from qiskit_divi.qoro.protocol import QPU, QPUSystem, SimulatorCluster

API_URL = "https://qoro.test/api"
TOKEN = "tok-3f9a1c-very-secret"
JOB_ID = "7c0e7f3e-8f55-4a43-a0cb-2a3f6f1b9d11"


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def qh_sections(counts: dict[int, int], n_bits: int) -> dict[str, bytes]:
    """The named byte sections of a QH1/QH2 payload for ``{outcome: count}``."""
    outcomes = sorted(counts)
    gaps = [b - a for a, b in zip([0, *outcomes], outcomes, strict=False)]
    flags = [counts[k] == 1 for k in outcomes]
    runs: list[int] = []
    for i, flag in enumerate(flags):
        if i and flag == flags[i - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    first = bytes([int(flags[0]) if flags else 0])
    rb = uleb(len(runs)) + first + b"".join(uleb(r) for r in runs)
    extras = [counts[k] - 2 for k in outcomes if counts[k] != 1]
    qh2 = n_bits > 255
    return {
        "magic": b"QH2" if qh2 else b"QH1",
        "width": uleb(n_bits) if qh2 else bytes([n_bits]),
        "unique": uleb(len(outcomes)),
        "total": uleb(sum(counts.values())),
        "gaps": uleb(len(gaps)) + b"".join(uleb(g) for g in gaps),
        "flags": uleb(len(rb)) + rb,
        "extras": uleb(len(extras)) + b"".join(uleb(e) for e in extras),
    }


def qh_result(sections: dict[str, bytes], n_bits: int, encoding: str | None = None) -> dict:
    """A ``results`` value as the service sends it, from (possibly damaged) sections."""
    payload = b"".join(sections.values())
    return {
        "encoding": encoding or ("qh2" if n_bits > 255 else "qh1"),
        "n_bits": n_bits,
        "payload": base64.b64encode(payload).decode(),
    }


def histogram(counts: Mapping[str, int]) -> dict:
    """The encoded ``results`` of a sampling circuit with these bitstring counts."""
    n_bits = len(next(iter(counts)))
    sections = qh_sections({int(k, 2): v for k, v in counts.items()}, n_bits)
    return qh_result(sections, n_bits)


def status_body(status: str, **extra: Any) -> dict:
    return {"status": status, "job_id": JOB_ID, **extra}


def results_page(
    results: Mapping[str, Any] | Sequence[tuple[str, Any]], next_url: str | None = None
) -> dict:
    """A page of results, by label (a sequence of pairs may repeat a label)."""
    entries = results.items() if isinstance(results, Mapping) else results
    return {"results": [{"label": label, "results": r} for label, r in entries], "next": next_url}


def qpu_systems_body() -> list[dict]:
    return [
        {
            "name": "qoro_maestro",
            "access_level": "PUBLIC",
            "qpus": [],
            "supports_expval": True,
        },
        {
            "name": "ibm_fez",
            "access_level": "PRIVATE",
            "qpus": [
                {"nickname": "fez", "q_bits": 156, "status": "ONLINE", "system_kind": "QPU"},
                {"nickname": "fez_b", "q_bits": 27, "status": "OFFLINE", "system_kind": "QPU"},
            ],
        },
    ]


#: The systems a provider lists: one simulator cluster, two QPU systems of 5 and 7 qubits.
SIMULATOR_CLUSTERS = [
    {"name": "qoro_maestro", "access_level": "public", "minimum_tier": "", "supports_expval": True}
]
QPU_SYSTEMS = [
    {
        "name": "qpu_five",
        "access_level": "public",
        "qpus": [{"nickname": "a", "q_bits": 5, "status": "online", "system_kind": "ion"}],
    },
    {
        "name": "qpu_seven",
        "access_level": "public",
        "qpus": [{"nickname": "b", "q_bits": 7, "status": "offline", "system_kind": "ion"}],
    },
]

#: The systems a QoroBackend is built on, as the client reads them.
CLUSTER = SimulatorCluster(name="qoro_maestro", access_level="public", supports_expval=True)
QPU_SYSTEM = QPUSystem(
    name="qoro_qpu",
    access_level="public",
    qpus=(QPU(nickname="q5", q_bits=5, status="online", system_kind="superconducting"),),
)


def url(path: str) -> str:
    return f"{API_URL}/{path}"


def submitted_circuits(mock: requests_mock.Mocker) -> dict[str, str]:
    """label -> OpenQASM text of every circuit the client uploaded."""
    circuits: dict[str, str] = {}
    for request in mock.request_history:
        if request.path.endswith("/add_circuits/"):
            for label, packed in request.json()["circuits"].items():
                circuits[label] = unpack_circuit(packed)
    return circuits


def mock_submission(mock: requests_mock.Mocker, job_id: str = JOB_ID) -> None:
    mock.post(url("job/init/"), json={"job_id": job_id}, status_code=201)
    mock.post(url(f"job/{job_id}/add_circuits/"), json={})


def mock_finished(
    mock: requests_mock.Mocker, results: Mapping[str, Any], job_id: str = JOB_ID
) -> None:
    mock.get(url(f"job/{job_id}/status/"), json={"status": "COMPLETED"})
    mock.get(url(f"job/{job_id}/resultsV2/?limit=100&offset=0"), json=results_page(results))


def serve_counts(
    mock: requests_mock.Mocker,
    counts_of: Callable[[str], Mapping[str, int]],
    job_id: str = JOB_ID,
) -> None:
    """A finished job whose results answer each uploaded circuit (by its OpenQASM text)."""
    mock_submission(mock, job_id)
    mock.get(url(f"job/{job_id}/status/"), json={"status": "COMPLETED"})

    def results(request: Any, context: Any) -> dict[str, Any]:
        circuits = submitted_circuits(mock)
        return results_page(
            {label: histogram(counts_of(qasm)) for label, qasm in circuits.items()}
        )

    mock.get(url(f"job/{job_id}/resultsV2/?limit=100&offset=0"), json=results)
