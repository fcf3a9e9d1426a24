"""DiviProvider against the local Qoro-compatible server, and a job retrieved by id in
a new Python process."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from qiskit_divi import DiviProvider
from qiskit_divi.server import LocalServer

from server.helpers import run_elsewhere
from simulator.circuits import ghz

RETRIEVE = textwrap.dedent(
    """
    import json, sys
    from qiskit_divi import DiviProvider

    job = DiviProvider().retrieve_job(sys.argv[1])
    result = job.result(timeout=120)
    print(json.dumps({
        "job_id": job.job_id(),
        "names": [experiment.header["name"] for experiment in result.results],
        "counts": result.get_counts(),
    }))
    """
)


@pytest.fixture(scope="module")
def server_settings() -> dict[str, Any]:
    return {"seed": 7}


@pytest.fixture
def provider(server: LocalServer) -> DiviProvider:
    return DiviProvider(auth_token=server.token, api_url=server.url)


def test_the_servers_systems_are_listed(provider):
    assert [b.name for b in provider.backends()] == [
        "parallel_simulator",
        "qoro_maestro",
        "fake_manila",
    ]
    assert provider.get_backend("fake_manila").num_qubits == 5


def test_the_same_circuits_run_locally_and_on_qoro(provider):
    for name in ("parallel_simulator", "qoro"):
        backend = provider.get_backend(name, shots=2000)
        counts = backend.run(ghz(3)).result().get_counts()
        assert set(counts) <= {"000", "111"}, name
        assert sum(counts.values()) == 2000, name


def test_a_job_is_retrieved_by_id_in_a_new_process(provider, server, tmp_path):
    job = provider.get_backend("qoro").run([ghz(2), ghz(4)], shots=500)
    expected = job.result(timeout=120)

    retrieved = json.loads(run_elsewhere(server, RETRIEVE, job.job_id(), cwd=tmp_path))

    assert retrieved["job_id"] == job.job_id()
    assert retrieved["names"] == ["ghz2", "ghz4"]
    assert retrieved["counts"] == expected.get_counts()
