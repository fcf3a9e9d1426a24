"""The protocol's endpoint table: the paths the client requests and the server routes."""

from __future__ import annotations

import pytest

from qiskit_divi.qoro.protocol import API_ROOT, DEFAULT_API_URL, Endpoint

JOB_ID = "7c0e7f3e-8f55-4a43-a0cb-2a3f6f1b9d11"


@pytest.mark.parametrize(
    ("endpoint", "method", "path"),
    [
        (Endpoint.PING, "GET", ""),
        (Endpoint.QPU_SYSTEMS, "GET", "qpusystem/"),
        (Endpoint.SIMULATOR_CLUSTERS, "GET", "simulatorcluster/"),
        (Endpoint.INIT_JOB, "POST", "job/init/"),
        (Endpoint.ADD_CIRCUITS, "POST", f"job/{JOB_ID}/add_circuits/"),
        (Endpoint.STATUS, "GET", f"job/{JOB_ID}/status/"),
        (Endpoint.RESULTS, "GET", f"job/{JOB_ID}/resultsV2/"),
        (Endpoint.CANCEL, "POST", f"job/{JOB_ID}/cancel/"),
        (Endpoint.DELETE, "DELETE", f"job/{JOB_ID}"),
    ],
)
def test_each_endpoint_has_the_services_method_and_path(endpoint, method, path):
    job_id = JOB_ID if "{job_id}" in endpoint.template else None
    assert (endpoint.method, endpoint.path(job_id)) == (method, path)
    assert endpoint.route() == f"/api/{endpoint.template}"


def test_the_default_url_ends_in_the_api_root():
    assert DEFAULT_API_URL.endswith(API_ROOT)


@pytest.mark.parametrize(
    ("endpoint", "job_id"), [(Endpoint.STATUS, None), (Endpoint.PING, JOB_ID)]
)
def test_a_path_takes_a_job_id_exactly_when_it_names_a_job(endpoint, job_id):
    with pytest.raises(TypeError, match=endpoint.name):
        endpoint.path(job_id)
