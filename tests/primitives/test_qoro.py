"""Both primitives on a QoroBackend, end to end through the local Qoro-compatible server."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import requests
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Clbit
from qiskit.primitives import StatevectorEstimator
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp

from qiskit_divi import DiviProvider, EstimatorV2, ParallelSimulatorBackend, SamplerV2
from qiskit_divi.exceptions import (
    CircuitTooWideError,
    CorruptResultError,
    InvalidCircuitError,
    InvalidInputError,
    JobNotFoundError,
)
from qiskit_divi.outcomes import Outcomes
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.server import LocalServer

from .conftest import ansatz, assert_counts_match, register_probabilities, two_register_circuit

RNG = np.random.default_rng(5)
VALUES = RNG.uniform(0, np.pi, (3, 2))
ANSATZ = ansatz(3, reps=1)
ANGLES = RNG.uniform(-np.pi, np.pi, (2, ANSATZ.num_parameters))


def job_type_on_server(server: LocalServer, job_id: str) -> str:
    answer = requests.get(
        f"{server.url}/job/{job_id}/status/",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )
    return str(answer.json()["job_type"])


def test_sampler_counts_follow_the_exact_distribution(
    qoro: QoroBackend, server: LocalServer
) -> None:
    circuit = two_register_circuit()
    job = SamplerV2(qoro).run([(circuit, VALUES)], shots=3000)
    result = job.result()
    assert job.status() is JobStatus.DONE
    # SIMULATE on a cluster travels as EXECUTE on the default (2026) wire.
    assert job_type_on_server(server, job.job_id()) == "EXECUTE"
    assert result.metadata == {"version": 2, "qoro_job_ids": [job.job_id()]}
    assert result[0].metadata == {"shots": 3000, "circuit_metadata": {}}
    data = result[0].data
    assert data.shape == (3,)
    for index in range(3):
        bound = circuit.assign_parameters(VALUES[index])
        for register in ("alpha", "beta"):
            assert_counts_match(
                data[register][index].get_counts(), register_probabilities(bound, register)
            )


def test_a_register_whose_bits_are_out_of_circuit_order_reads_as_on_the_simulator(
    qoro: QoroBackend,
) -> None:
    """The text sent declares the register in its own order; its bits still read as the
    circuit names them, as the simulator reads them: r[1] is the bit qubit 0 set. (Aer's
    SamplerV2 and Qiskit's BackendSamplerV2 on Aer read 00 here: they take a register's
    bits to be in circuit order.)"""
    bits = [Clbit(), Clbit()]
    circuit = QuantumCircuit(QuantumRegister(2, "q"), bits)
    circuit.add_register(ClassicalRegister(bits=bits[::-1], name="r"))
    circuit.x(0)
    circuit.measure([0, 1], bits)
    simulator = ParallelSimulatorBackend(n_processes=1)

    on_qoro = SamplerV2(qoro).run([circuit], shots=10).result()[0].data.r.get_counts()
    simulated = SamplerV2(simulator).run([circuit], shots=10).result()[0].data.r.get_counts()
    simulator.close()

    assert on_qoro == simulated == {"10": 10}


@pytest.fixture(scope="module")
def qoro_2025(provider: DiviProvider) -> QoroBackend:
    """The noiseless cluster over the guide's 2025 wire: one shot count per job."""
    backend = provider.get_backend("qoro", dialect="2025", polling_interval=0.02, timeout=120)
    assert isinstance(backend, QoroBackend)
    return backend


def test_sampler_sends_one_job_per_shot_count_on_the_2025_wire(qoro_2025: QoroBackend) -> None:
    circuit = two_register_circuit()
    pubs = [(circuit, VALUES), (circuit, VALUES[0], 50), (circuit, VALUES[1])]
    job = SamplerV2(qoro_2025).run(pubs, shots=20)
    assert len(job.job_ids) == 2 and job.job_id() == ",".join(job.job_ids)
    result = job.result()
    assert [r.data.alpha.num_shots for r in result] == [20, 50, 20]
    assert [r.data.shape for r in result] == [(3,), (), ()]


def test_sampler_sends_execute_jobs_to_a_qpu(qpu: QoroBackend, server: LocalServer) -> None:
    bell = QuantumCircuit(2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    job = SamplerV2(qpu).run([bell], shots=500)
    counts = job.result()[0].data.meas.get_counts()
    assert job_type_on_server(server, job.job_id()) == "EXECUTE"
    assert sum(counts.values()) == 500 and counts.get("00", 0) + counts.get("11", 0) > 400


def test_a_sampler_job_is_rebuilt_from_its_id(qoro: QoroBackend, provider: DiviProvider) -> None:
    pubs = [(two_register_circuit(), VALUES)]
    sampler = SamplerV2(qoro)
    job = sampler.run(pubs, shots=64)
    first = job.result()
    again = SamplerV2(qoro).retrieve_job(job.job_id(), pubs, shots=64).result()
    for register in ("alpha", "beta"):
        # Same histogram, same shot order: the order is drawn from the job id.
        assert np.array_equal(first[0].data[register].array, again[0].data[register].array)
    raw = provider.retrieve_job(job.job_id()).result()
    assert len(raw.results) == 3


def test_a_pickled_sampler_job_holds_no_token_and_works_with_the_environments(
    qoro: QoroBackend, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = SamplerV2(qoro).run([(two_register_circuit(), VALUES)], shots=64)
    data = pickle.dumps(job)
    assert server.token.encode() not in data

    monkeypatch.setenv("QORO_API_KEY", server.token)
    again = pickle.loads(data).result()
    first = job.result()
    for register in ("alpha", "beta"):
        assert np.array_equal(first[0].data[register].array, again[0].data[register].array)


def test_rebuilding_with_other_pubs_is_refused(qoro: QoroBackend, qoro_2025: QoroBackend) -> None:
    circuit = two_register_circuit()
    split = [(circuit, VALUES), (circuit, VALUES[0], 8)]
    job = SamplerV2(qoro_2025).run([(circuit, VALUES)], shots=16)
    job.result()
    with pytest.raises(InvalidInputError, match="1 Qoro job ids for 2"):
        SamplerV2(qoro_2025).retrieve_job(job.job_id(), split)
    for backend in (qoro, qoro_2025):
        job = SamplerV2(backend).run([(circuit, VALUES)], shots=16)
        job.result()
        other = SamplerV2(backend).retrieve_job(job.job_id(), [(circuit, VALUES[:2])], shots=16)
        with pytest.raises(CorruptResultError, match="do not match"):
            other.result()


def test_an_unknown_job_id_is_refused(qoro: QoroBackend) -> None:
    with pytest.raises(JobNotFoundError):
        SamplerV2(qoro).retrieve_job("no-such-job", [(two_register_circuit(), VALUES)])


def test_estimator_values_agree_with_the_statevector_estimator(qoro: QoroBackend) -> None:
    """Asymmetric terms (Z on one end only) would expose a wrong wire endianness."""
    pubs = [
        (ANSATZ, ["ZII", "IIZ", SparsePauliOp(["XYZ", "ZZI"], [0.5, -2.0])], ANGLES[:, None]),
        (ANSATZ, {"IXY": 1.5}, ANGLES[0]),
    ]
    job = EstimatorV2(qoro).run(pubs)
    result = job.result()
    reference = StatevectorEstimator().run(pubs).result()
    assert len(job.job_ids) == 1
    for ours, theirs in zip(result, reference, strict=True):
        np.testing.assert_allclose(ours.data.evs, theirs.data.evs, rtol=0, atol=1e-10)
        assert np.array_equal(ours.data.stds, np.zeros(theirs.data.evs.shape))


@pytest.mark.parametrize("dialect", ["2025", "2026"])
def test_estimator_reports_the_precision_in_one_job_or_one_per_width(
    provider: DiviProvider, server: LocalServer, dialect: str
) -> None:
    """The 2025 wire carries one set of terms per job, so a job per width; the 2026
    wire carries each circuit's own terms: one job."""
    qoro = provider.get_backend("qoro", dialect=dialect, polling_interval=0.02, timeout=120)
    narrow = ansatz(2, reps=1)
    pubs = [
        (ANSATZ, "XXZ", ANGLES, 0.05),
        (narrow, "ZX", RNG.uniform(size=narrow.num_parameters), 0.05),
        (ANSATZ, "ZZZ", ANGLES[0], 0.05),
    ]
    job = EstimatorV2(qoro).run(pubs)
    assert len(job.job_ids) == (2 if dialect == "2025" else 1)
    assert {job_type_on_server(server, each) for each in job.job_ids} == {"EXPECTATION"}
    result = job.result()
    reference = StatevectorEstimator().run([pub[:3] for pub in pubs]).result()
    for ours, theirs in zip(result, reference, strict=True):
        np.testing.assert_allclose(ours.data.evs, theirs.data.evs, rtol=0, atol=1e-10)
        assert np.all(ours.data.stds == 0.05)
        assert ours.metadata["target_precision"] == 0.05


def test_an_estimator_job_is_rebuilt_from_its_ids(qoro: QoroBackend) -> None:
    pubs = [(ANSATZ, ["ZZI", "XII"], ANGLES[:, None]), (ansatz(1, reps=0), "Y", [0.3, 0.2])]
    job = EstimatorV2(qoro).run(pubs)
    first = job.result()
    again = EstimatorV2(qoro).retrieve_job(list(job.job_ids), pubs).result()
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.data.evs, b.data.evs)


def test_an_estimator_job_retrieved_by_id_alone_gives_each_circuits_term_values(
    qoro: QoroBackend, provider: DiviProvider
) -> None:
    """Without the PUBs, a result has an experiment per circuit (parameter set), in
    submission order, with the service's value of each term (qubit 0 leftmost)."""
    job = EstimatorV2(qoro).run([(ANSATZ, ["ZZI", "XII"], ANGLES[:, None])])
    evs = job.result()[0].data.evs
    raw = provider.retrieve_job(job.job_id()).result()
    assert [each.header["name"] for each in raw.results] == ["pub0_0", "pub0_1"]
    assert [each.shots for each in raw.results] == [0, 0]
    for row in range(2):
        by_term = raw.data(row)["expectation_values"]
        assert by_term == pytest.approx({"IZZ": evs[row, 0], "IIX": evs[row, 1]}, abs=1e-12)


def test_estimator_refuses_a_system_without_expectation_values(qpu: QoroBackend) -> None:
    with pytest.raises(InvalidInputError, match="supports_expval"):
        EstimatorV2(qpu).run([(QuantumCircuit(2), "ZZ")])


def test_too_wide_circuits_are_refused_before_sending(qpu: QoroBackend) -> None:
    wide = QuantumCircuit(6)
    wide.h(0)
    wide.measure_all()
    with pytest.raises(CircuitTooWideError, match="6 qubits"):
        SamplerV2(qpu).run([wide])


def test_a_circuit_that_measures_nothing_is_refused(qoro: QoroBackend) -> None:
    circuit = QuantumCircuit(1, 1, name="silent")
    circuit.h(0)
    with pytest.raises(InvalidCircuitError, match="measures nothing"):
        SamplerV2(qoro).run([circuit])


def test_a_seed_is_refused_on_qoro(qoro: QoroBackend) -> None:
    with pytest.raises(InvalidInputError, match="no seed"):
        SamplerV2(qoro, options={"seed": 1}).run(
            [two_register_circuit().assign_parameters([1, 2])]
        )
    with pytest.raises(InvalidInputError, match="no seed"):
        EstimatorV2(qoro, options={"seed": 1}).run([(QuantumCircuit(1), "Z")])


def test_simulator_jobs_cannot_be_retrieved() -> None:
    from qiskit_divi.simulator.backend import ParallelSimulatorBackend

    sampler = SamplerV2(ParallelSimulatorBackend(n_processes=1))
    with pytest.raises(InvalidInputError, match="only jobs of a QoroBackend"):
        sampler.retrieve_job("abc", [])


def test_a_circuit_cutting_backend_gets_one_job_per_circuit(provider: DiviProvider) -> None:
    # Only the guide's 2025 wire cuts on the service.
    backend = provider.get_backend(
        "qoro", dialect="2025", job_type="CIRCUIT_CUT", polling_interval=0.02
    )
    job = SamplerV2(backend).run([(two_register_circuit(), VALUES)], shots=40)
    assert len(job.job_ids) == 3
    result = job.result()
    assert result[0].data.alpha.shape == (3,)
    assert result[0].data.alpha.num_shots == 40


def test_each_circuit_of_a_job_gets_its_own_shot_order() -> None:
    """A histogram has no shot order: each circuit's is drawn from the job id and its
    position, so equal histograms in one job are not laid out alike."""
    from qiskit_divi.qoro.rules import counted, shot_order

    def shots(job_id: str, position: int) -> np.ndarray:
        outcomes = counted(job_id, "0_bell", histogram, 1000, 2).shuffled(
            shot_order(job_id, position)
        )
        return outcomes.values[outcomes.memory]

    histogram = Outcomes.from_counts({"00": 300, "01": 200, "10": 100, "11": 400}, 2)
    first = shots("job-1", 0)
    assert np.array_equal(first, shots("job-1", 0))
    assert not np.array_equal(first, shots("job-1", 1))
    assert not np.array_equal(first, shots("job-2", 0))
    assert first.ravel().tolist().count(0b11) == 400
