"""One Qoro job per run on the 2026 wire, through the local server: the primitives'
mixed shots and observables, parametric PUBs as templates, the documented API's
per-circuit shots and observables and its parametric submission, run settings, and
the dialect of an unpickled backend."""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_divi import DiviProvider, EstimatorV2, SamplerV2
from qiskit_divi.backends import JobType, ParallelSimulator, QoroService
from qiskit_divi.exceptions import InvalidInputError
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.protocol import API_KEY_ENV, Dialect, Endpoint, ExecutionConfig
from qiskit_divi.server import LocalServer

from .conftest import ansatz, assert_counts_match, register_probabilities, two_register_circuit

RNG = np.random.default_rng(13)
VALUES = RNG.uniform(0, np.pi, (4, 2))
ANSATZ = ansatz(3, reps=1)
ANGLES = RNG.uniform(-np.pi, np.pi, (3, ANSATZ.num_parameters))


def jobs_on(server: LocalServer) -> int:
    """How many jobs the server holds."""
    with sqlite3.connect(server.db_path) as db:
        return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every ``add_circuits`` body the clients send during the test."""
    sent: list[dict[str, Any]] = []
    call = QoroClient._call

    def recording(self: QoroClient, endpoint: Endpoint, **kwargs: Any) -> Any:
        if endpoint is Endpoint.ADD_CIRCUITS:
            sent.append(kwargs["body"])
        return call(self, endpoint, **kwargs)

    monkeypatch.setattr(QoroClient, "_call", recording)
    yield sent


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


# -- the primitives ---------------------------------------------------------------------


def test_a_mixed_shots_sampler_run_is_one_job_with_one_template_per_parametric_pub(
    qoro: QoroBackend, server: LocalServer, uploads: list[dict[str, Any]]
) -> None:
    circuit = two_register_circuit()
    pubs = [(circuit, VALUES, 3000), (bell(), None, 700), (circuit, VALUES[2], 2000)]
    before = jobs_on(server)
    job = SamplerV2(qoro).run(pubs)
    result = job.result()

    assert len(job.job_ids) == 1 and jobs_on(server) == before + 1
    templates = [body for body in uploads if "circuit_template" in body]
    assert len(templates) == 2
    assert [len(body["parameter_sets"]) for body in templates] == [4, 1]
    assert [body["shots"] for body in templates] == [3000, 2000]
    assert [body["parameter_names"] for body in templates] == [["a", "b"]] * 2
    (plain,) = [body for body in uploads if "circuits" in body]
    assert len(plain["circuits"]) == 1 and plain["shots"] == 700
    assert [r.data.shape for r in result] == [(4,), (), ()]
    assert [r.metadata["shots"] for r in result] == [3000, 700, 2000]
    for index in range(4):
        bound = circuit.assign_parameters(VALUES[index])
        for register in ("alpha", "beta"):
            counts = result[0].data[register][index].get_counts()
            assert_counts_match(counts, register_probabilities(bound, register))
    assert_counts_match(result[1].data.meas.get_counts(), {"00": 0.5, "11": 0.5})
    bound = circuit.assign_parameters(VALUES[2])
    assert_counts_match(result[2].data.alpha.get_counts(), register_probabilities(bound, "alpha"))


def test_bound_pubs_with_different_shots_travel_as_shot_groups(
    qoro: QoroBackend, server: LocalServer, uploads: list[dict[str, Any]]
) -> None:
    before = jobs_on(server)
    job = SamplerV2(qoro).run([(bell(), None, 300), (bell(), None, 500), (bell(), None, 500)])
    result = job.result()
    assert jobs_on(server) == before + 1
    (body,) = uploads
    assert body["shot_groups"] == [[0, 1, 300], [1, 3, 500]] and "shots" not in body
    assert [r.data.meas.num_shots for r in result] == [300, 500, 500]


def test_a_sampler_job_with_templates_is_rebuilt_from_its_id(qoro: QoroBackend) -> None:
    pubs = [(two_register_circuit(), VALUES, 64), (bell(), None, 32)]
    job = SamplerV2(qoro).run(pubs)
    first = job.result()
    again = SamplerV2(qoro).retrieve_job(job.job_id(), pubs).result()
    for register in ("alpha", "beta"):
        assert np.array_equal(first[0].data[register].array, again[0].data[register].array)
    assert np.array_equal(first[1].data.meas.array, again[1].data.meas.array)


def test_a_pub_no_template_can_carry_travels_bound(
    qoro: QoroBackend, uploads: list[dict[str, Any]]
) -> None:
    """A product of parameters is not linear: the service could not fill it in."""
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(1)
    circuit.ry(a * b, 0)
    circuit.measure_all()
    values = [[1.0, 1.2], [0.5, 0.7]]
    result = SamplerV2(qoro).run([(circuit, values, 2000)]).result()
    (body,) = uploads
    assert "circuit_template" not in body and len(body["circuits"]) == 2
    for row, (x, y) in enumerate(values):
        p1 = np.sin(x * y / 2) ** 2
        assert_counts_match(result[0].data.meas[row].get_counts(), {"0": 1 - p1, "1": p1})


def test_a_mixed_observables_estimator_run_is_one_expectation_job(
    qoro: QoroBackend, server: LocalServer, uploads: list[dict[str, Any]]
) -> None:
    narrow = ansatz(2, reps=1)
    fixed = QuantumCircuit(3)
    fixed.h(0)
    fixed.cx(0, 2)
    pubs = [
        (ANSATZ, ["ZII", SparsePauliOp(["XYZ", "ZZI"], [0.5, -2.0])], ANGLES[:, None]),
        (narrow, "ZX", RNG.uniform(size=narrow.num_parameters)),
        (fixed, ["ZIZ", "XIX", "IIZ"]),
        (fixed, "YIY"),
    ]
    before = jobs_on(server)
    job = EstimatorV2(qoro).run(pubs)
    result = job.result()

    assert len(job.job_ids) == 1 and jobs_on(server) == before + 1
    assert sum("circuit_template" in body for body in uploads) == 2
    (plain,) = [body for body in uploads if "circuits" in body]
    assert len(plain["circuits"]) == 2 and len(plain["circuit_ham_map"]) == 2
    reference = StatevectorEstimator().run(pubs).result()
    for ours, theirs in zip(result, reference, strict=True):
        np.testing.assert_allclose(ours.data.evs, theirs.data.evs, rtol=0, atol=1e-10)


# -- the documented API -----------------------------------------------------------------


@pytest.fixture(scope="module")
def service(server: LocalServer) -> QoroService:
    return QoroService(server.token, shots=100, polling_interval=0.02, api_url=server.url)


def finished(service: QoroService, job_id: str) -> dict[str, Any]:
    service.poll_job_status(job_id, loop_until_complete=True, timeout=120, progress=False)
    return {each["label"]: each["results"] for each in service.get_job_results(job_id)}


def test_submit_circuits_takes_shots_and_observables_by_label(
    service: QoroService, server: LocalServer
) -> None:
    before = jobs_on(server)
    counts = finished(
        service, service.submit_circuits({"a": bell(), "b": bell()}, shots={"a": 40, "b": 90})
    )
    assert {k: sum(v.values()) for k, v in counts.items()} == {"a": 40, "b": 90}
    assert set(counts["a"]) <= {"00", "11"}

    plus = QuantumCircuit(2)
    plus.h([0, 1])
    zero = QuantumCircuit(1)
    values = finished(
        service,
        service.submit_circuits(
            {"plus": plus, "zero": zero},
            JobType.ESTIMATE,
            observables={"plus": "XX;ZI", "zero": ["Z"]},
        ),
    )
    assert values == {
        "plus": {"XX": pytest.approx(1.0), "ZI": pytest.approx(0.0, abs=1e-12)},
        "zero": {"Z": pytest.approx(1.0)},
    }
    assert jobs_on(server) == before + 2
    with pytest.raises(InvalidInputError, match="exactly the circuits"):
        service.submit_circuits({"plus": plus}, JobType.ESTIMATE, observables={"zero": "Z"})


def test_a_parametric_submission_gives_the_same_results_on_both_runners(
    service: QoroService, uploads: list[dict[str, Any]]
) -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1, name="rotation")
    circuit.ry(2 * theta, 0)
    circuit.measure_all()
    sets = {"flat": [0.0], "quarter": [np.pi / 8], "flip": [np.pi / 2]}

    on_qoro = finished(service, service.submit_parameter_sets(circuit, sets))
    (body,) = uploads
    assert body["parameter_names"] == ["theta"] and "circuits" not in body
    local = ParallelSimulator(shots=100, n_processes=1, seed=3)
    try:
        on_simulator = {
            r["label"]: r["results"] for r in local.submit_parameter_sets(circuit, sets)
        }
    finally:
        local.close()
    for results in (on_qoro, on_simulator):
        assert set(results) == set(sets)
        assert results["flat"] == {"0": 100} and results["flip"] == {"1": 100}
        p1 = np.sin(np.pi / 8) ** 2
        assert_counts_match(results["quarter"], {"0": 1 - p1, "1": p1})
    with pytest.raises(InvalidInputError, match="must list 1 finite values"):
        service.submit_parameter_sets(circuit, {"bad": [0.1, 0.2]})


def test_a_parametric_estimate_on_the_2025_wire_travels_bound(server: LocalServer) -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    service = QoroService(server.token, polling_interval=0.02, api_url=server.url, dialect="2025")
    sets = {"r0": [0.3], "r1": [1.1]}
    values = finished(
        service, service.submit_parameter_sets(circuit, sets, JobType.ESTIMATE, observables="Z")
    )
    for label, (angle,) in sets.items():
        exact = Statevector(circuit.assign_parameters([angle])).expectation_value(
            SparsePauliOp("Z")
        )
        assert values[label]["Z"] == pytest.approx(exact.real, abs=1e-12)


# -- settings and dialects of backends ----------------------------------------------------


def test_settings_travel_to_their_kind_of_system_only(
    provider: DiviProvider, qoro: QoroBackend, qpu: QoroBackend
) -> None:
    backend = provider.get_backend(
        "qoro", maestro_config={"max_bond_dimension": 8}, polling_interval=0.02
    )
    job = SamplerV2(backend).run([bell()], shots=10)
    assert backend.client.job_execution_config(job.job_id()) == ExecutionConfig(
        {"max_bond_dimension": 8}, None
    )
    raw = backend.run(bell(), shots=10, device_config=None)
    assert backend.client.job_execution_config(raw.job_id()).maestro_config == {
        "max_bond_dimension": 8
    }
    with pytest.raises(InvalidInputError, match="device_config does not apply to 'qoro_maestro'"):
        qoro.set_options(device_config={"TRANSPILE_LEVEL": 3})
    with pytest.raises(InvalidInputError, match="maestro_config does not apply"):
        qpu.run(bell(), maestro_config={"simulation_type": 1})
    qpu.set_options(device_config={"TRANSPILE_LEVEL": 3})
    try:
        job = qpu.run(bell(), shots=10)
        assert qpu.client.job_execution_config(job.job_id()).device_config == {
            "TRANSPILE_LEVEL": 3
        }
    finally:
        qpu.set_options(device_config=None)


def test_an_unpickled_backend_and_job_keep_their_dialect(
    provider: DiviProvider, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, server.token)
    backend = provider.get_backend("qoro", dialect="2025", polling_interval=0.02)
    job = backend.run(bell(), shots=20)
    for each in (backend, job):
        again = pickle.loads(pickle.dumps(each))
        assert again.client.dialect is Dialect.V2025
        assert again.client.api_url == server.url
    assert sum(pickle.loads(pickle.dumps(job)).result().get_counts().values()) == 20
