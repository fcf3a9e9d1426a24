"""DiviProvider: which backends it lists, how it finds them by name, where credentials
come from, and rebuilding a job from its id (requests-mock; no real service)."""

from __future__ import annotations

import pytest
import requests_mock

from qiskit_divi.exceptions import (
    InsecureURLError,
    JobNotFoundError,
    MissingCredentialsError,
    UnknownBackendError,
)
from qiskit_divi.provider import DiviProvider
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.job import QoroJob
from qiskit_divi.qoro.protocol import Dialect, JobType
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from qoro.wire import API_URL as API
from qoro.wire import JOB_ID, QPU_SYSTEMS, SIMULATOR_CLUSTERS, TOKEN


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No credentials anywhere: no environment variables and no .env up the tree."""
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.delenv("QORO_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def service(mock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch) -> requests_mock.Mocker:
    """A token and URL in the environment, and a service listing two QPUs and a cluster."""
    monkeypatch.setenv("QORO_API_KEY", TOKEN)
    monkeypatch.setenv("QORO_API_URL", API)
    mock.get(f"{API}/simulatorcluster/", json=SIMULATOR_CLUSTERS)
    mock.get(f"{API}/qpusystem/", json=QPU_SYSTEMS)
    return mock


def names(backends) -> list[str]:
    return [backend.name for backend in backends]


# -- without a token: the local simulator only, and no request at all


def test_without_a_token_only_the_local_simulator_is_listed(mock):
    assert names(DiviProvider().backends()) == ["parallel_simulator"]
    assert not mock.called


def test_the_local_simulator_takes_options_as_keywords(mock):
    provider = DiviProvider()
    backend = provider.get_backend("parallel_simulator", shots=2000, n_processes=1)
    assert isinstance(backend, ParallelSimulatorBackend)
    assert backend.options.shots == 2000
    assert backend.n_processes == 1
    assert backend.provider is provider
    assert not mock.called


@pytest.mark.parametrize("name", ["qoro", "qoro_maestro", "no_such_backend"])
def test_a_qoro_backend_without_a_token_says_what_is_missing(mock, name):
    with pytest.raises(MissingCredentialsError, match=rf"'{name}'.*QORO_API_KEY"):
        DiviProvider().get_backend(name)
    assert not mock.called


def test_retrieving_a_job_without_a_token_says_what_is_missing(mock):
    with pytest.raises(MissingCredentialsError, match=JOB_ID):
        DiviProvider().retrieve_job(JOB_ID)
    assert not mock.called


def test_a_plain_http_url_off_loopback_is_refused_at_once(mock):
    with pytest.raises(InsecureURLError):
        DiviProvider(auth_token=TOKEN, api_url="http://qoro.example/api")


# -- with a token: the Qoro systems too


def test_with_a_token_the_qoro_systems_are_listed_once(service):
    provider = DiviProvider()
    expected = ["parallel_simulator", "qoro_maestro", "qpu_five", "qpu_seven"]
    assert names(provider.backends()) == expected
    assert names(provider.backends()) == expected
    assert service.call_count == 2  # simulatorcluster/ and qpusystem/, once each


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"name": "qoro"}, ["qoro_maestro"]),
        ({"name": "qpu_five"}, ["qpu_five"]),
        ({"simulator": True}, ["parallel_simulator", "qoro_maestro"]),
        ({"simulator": False}, ["qpu_five", "qpu_seven"]),
        ({"operational": False}, ["qpu_seven"]),
        ({"simulator": False, "operational": True}, ["qpu_five"]),
        ({"num_qubits": 7}, ["qpu_seven"]),
        ({"filters": lambda b: b.name.endswith("five")}, ["qpu_five"]),
        ({"name": "nothing"}, []),
    ],
)
def test_backends_filter_like_other_providers(service, criteria, expected):
    assert names(DiviProvider().backends(**criteria)) == expected


def test_qoro_names_the_default_system(service):
    backend = DiviProvider().get_backend("qoro")
    assert isinstance(backend, QoroBackend)
    assert backend.name == "qoro_maestro"
    assert backend.options.job_type is JobType.SIMULATE


def test_the_dialect_reaches_the_backends_client(service):
    provider = DiviProvider()
    guide = DiviProvider(dialect="2025").get_backend("qoro")

    assert provider.get_backend("qoro").client.dialect is Dialect.V2026
    assert provider.get_backend("qoro", dialect="2025").client.dialect is Dialect.V2025
    assert guide.client.dialect is Dialect.V2025


def test_a_system_by_name_takes_options(service):
    provider = DiviProvider()
    backend = provider.get_backend("qpu_five", shots=10, tag="exp-1")
    assert (backend.name, backend.num_qubits) == ("qpu_five", 5)
    assert backend.options.job_type is JobType.EXECUTE
    assert (backend.options.shots, backend.options.tag) == (10, "exp-1")
    assert backend.provider is provider


def test_client_settings_are_construction_settings_not_run_options(service):
    """HTTP and retry settings reach a client of the backend's own; run options stay run
    options, and the provider's other backends keep the shared client."""
    provider = DiviProvider()
    shared = provider.get_backend("qoro")
    backend = provider.get_backend("qoro", request_timeout=7.5, max_retry_time=2.0, shots=10)
    assert backend.client.request_timeout == 7.5 and backend.client is not shared.client
    assert backend.client.api_url == shared.client.api_url
    assert backend.options.shots == 10
    assert "request_timeout" not in dict(backend.options.items())
    assert provider.get_backend("qoro").client is shared.client


def test_an_unknown_option_is_one_error_on_every_face(service):
    from qiskit_divi import EstimatorV2, SamplerV2
    from qiskit_divi.exceptions import UnknownOptionError

    with pytest.raises(UnknownOptionError, match="colour"):
        DiviProvider().get_backend("qoro", colour="blue")
    with pytest.raises(UnknownOptionError, match="colour"):
        DiviProvider().get_backend("parallel_simulator", colour="blue")
    simulator = ParallelSimulatorBackend(n_processes=1)
    with pytest.raises(UnknownOptionError, match=r"'colour'.*default_shots, seed"):
        SamplerV2(simulator, options={"colour": "blue"})
    with pytest.raises(UnknownOptionError, match=r"'colour'.*default_precision, seed"):
        EstimatorV2(simulator, options={"colour": "blue"})


def test_an_unknown_name_lists_what_exists(service):
    with pytest.raises(UnknownBackendError, match=r"'qpu_nine'.*'parallel_simulator'.*'qpu_five'"):
        DiviProvider().get_backend("qpu_nine")


def test_bad_options_fail_when_the_backend_is_made(service):
    with pytest.raises(ValueError, match="shots"):
        DiviProvider().get_backend("qoro", shots=-1)


# -- credentials: argument, then environment, then .env


def test_the_argument_token_wins_over_the_environment(service):
    # With its own URL: a token passed as an argument never goes to the environment's.
    DiviProvider(auth_token="argument-token", api_url=API).backends()
    assert service.last_request.headers["Authorization"] == "Bearer argument-token"


def test_the_token_can_come_from_a_dotenv_file(mock, tmp_path):
    (tmp_path / ".env").write_text(f"QORO_API_KEY=dotenv-token\nQORO_API_URL={API}\n")
    mock.get(f"{API}/simulatorcluster/", json=[])
    mock.get(f"{API}/qpusystem/", json=[])
    DiviProvider().backends()
    assert mock.last_request.headers["Authorization"] == "Bearer dotenv-token"


def test_a_token_set_after_the_provider_was_made_is_picked_up(mock, monkeypatch):
    provider = DiviProvider(api_url=API)
    assert names(provider.backends()) == ["parallel_simulator"]
    monkeypatch.setenv("QORO_API_KEY", TOKEN)
    mock.get(f"{API}/simulatorcluster/", json=[{"name": "qoro_maestro", "access_level": "x"}])
    mock.get(f"{API}/qpusystem/", json=[])
    assert provider.get_backend("qoro").name == "qoro_maestro"


def test_the_token_appears_in_no_repr(service):
    provider = DiviProvider()
    backend = provider.get_backend("qoro")
    for text in (repr(provider), str(provider), repr(backend), repr(backend.client)):
        assert TOKEN not in text


# -- jobs from an id


def test_retrieve_job_rebuilds_a_working_job_from_its_id(service):
    service.get(f"{API}/job/{JOB_ID}/status/", json={"status": "RUNNING"})
    job = DiviProvider().retrieve_job(JOB_ID)
    assert isinstance(job, QoroJob)
    assert job.job_id() == JOB_ID
    assert job.running()


def test_retrieving_an_unknown_job_is_an_error(service):
    service.get(f"{API}/job/{JOB_ID}/status/", status_code=404, json={"detail": "not found"})
    with pytest.raises(JobNotFoundError):
        DiviProvider().retrieve_job(JOB_ID)


def test_a_backend_from_the_provider_pickles_without_provider_or_token(service):
    import pickle

    backend = DiviProvider().get_backend("qpu_five", shots=10)
    data = pickle.dumps(backend)
    assert TOKEN.encode() not in data
    copy = pickle.loads(data)
    assert (copy.name, copy.options.shots, copy.provider) == ("qpu_five", 10, None)
