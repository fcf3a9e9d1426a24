"""ParallelSimulatorBackend and its jobs: the BackendV2/JobV1 contract and the Result shape."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import Parameter
from qiskit.exceptions import QiskitError
from qiskit.primitives import BackendSamplerV2
from qiskit.providers import BackendV2, JobStatus, JobV1
from qiskit.result import Result
from qiskit.result.models import MeasLevel
from qiskit_aer.noise import NoiseModel
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import ParallelSimulatorBackend
from qiskit_divi.configuration import UNLIMITED
from qiskit_divi.exceptions import (
    CircuitTooWideError,
    DiviWarning,
    InvalidInputError,
    JobCancelledError,
    UnknownOptionError,
)
from qiskit_divi.simulator import SimulationEngine

from .circuits import assert_distribution, bell, ghz, qaoa

SHOTS = 4000


@pytest.fixture(scope="module")
def backend():
    backend = ParallelSimulatorBackend(n_processes=2)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def manila():
    backend = ParallelSimulatorBackend(qiskit_backend=FakeManilaV2(), n_processes=1)
    yield backend
    backend.close()


# -- the BackendV2 contract -------------------------------------------------------------


def test_it_is_a_backend_v2_named_parallel_simulator(backend):
    assert isinstance(backend, BackendV2)
    assert backend.name == "parallel_simulator"
    assert backend.max_circuits is None
    assert backend.n_processes == 2


def test_default_options_are_shots_seed_and_memory(backend):
    options = backend.options
    assert (options.shots, options.seed_simulator, options.memory) == (1024, None, False)


def test_constructor_options_become_run_defaults():
    backend = ParallelSimulatorBackend(shots=10, seed_simulator=3, n_processes=1)
    result = backend.run(bell()).result()
    assert sum(result.get_counts().values()) == 10
    assert result.results[0].seed_simulator == 3


def test_an_ideal_target_is_all_to_all_with_the_instructions_aer_runs(backend):
    target = backend.target
    assert target.num_qubits >= 20
    assert {"cx", "rzz", "measure", "reset", "delay"} <= set(target.operation_names)
    assert target.instruction_supported("cx", (0, target.num_qubits - 1))


def test_a_fake_backend_lends_its_target(manila):
    target = manila.target
    assert target.num_qubits == 5
    assert set(target.operation_names) == set(FakeManilaV2().target.operation_names)
    assert not target.instruction_supported("cx", (0, 4))


def test_transpile_targets_the_imitated_device(manila):
    circuit = transpile(ghz(3), manila, seed_transpiler=1)
    assert set(circuit.count_ops()) <= {"rz", "sx", "x", "cx", "measure", "barrier"}
    for instruction in circuit.data:
        qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        name = instruction.operation.name
        assert name == "barrier" or manila.target.instruction_supported(name, qubits)


def test_transpile_rewrites_gates_aer_lacks(backend):
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cs(0, 1)  # Aer has no "cs"
    circuit.measure_all()
    assert "cs" not in transpile(circuit, backend).count_ops()


# -- running ------------------------------------------------------------------------------


def test_run_returns_a_job_whose_result_has_the_exact_distribution(backend):
    job = backend.run([bell(), ghz(3)], shots=SHOTS, seed_simulator=5)
    assert isinstance(job, JobV1) and job.backend() is backend
    result = job.result()
    assert isinstance(result, Result) and result.success and result.job_id == job.job_id()
    assert job.status() is JobStatus.DONE
    assert_distribution(result.get_counts(0), {"00": 0.5, "11": 0.5})
    assert_distribution(result.get_counts("ghz3"), {"000": 0.5, "111": 0.5})


def test_a_single_circuit_is_one_experiment(backend):
    result = backend.run(bell(), shots=10).result()
    assert len(result.results) == 1
    assert sum(result.get_counts().values()) == 10


def test_job_ids_are_unique(backend):
    assert backend.run(bell(), shots=1).job_id() != backend.run(bell(), shots=1).job_id()


def test_a_seed_reproduces_the_engine_outcomes_exactly(backend):
    rng = np.random.default_rng(2)
    circuits = [qaoa(6, rng) for _ in range(40)]
    result = backend.run(circuits, shots=300, seed_simulator=8, memory=True).result()
    expected = SimulationEngine(n_processes=1).sample(circuits, shots=300, seed=8, memory=True)
    assert [result.get_counts(i) for i in range(40)] == [e.outcomes.get_counts() for e in expected]
    assert [result.get_memory(i) for i in range(40)] == [e.outcomes.get_memory() for e in expected]


def test_the_result_header_and_metadata_describe_each_experiment(backend):
    circuit = QuantumCircuit(QuantumRegister(3, "q"), ClassicalRegister(1, "a"))
    circuit.add_register(ClassicalRegister(2, "b"))
    circuit.name = "registers"
    circuit.metadata = {"purpose": "test"}
    circuit.x(1)
    circuit.measure([0, 1, 2], [0, 1, 2])
    experiment = backend.run(circuit, shots=7, seed_simulator=3).result().results[0]
    assert experiment.header["name"] == "registers"
    assert experiment.header["creg_sizes"] == [["a", 1], ["b", 2]]
    assert experiment.header["memory_slots"] == 3
    assert experiment.header["metadata"] == {"purpose": "test"}
    assert experiment.shots == 7 and experiment.seed_simulator == 3
    assert experiment.metadata == {"device": "aer_simulator", "seed_simulator": 3}
    assert backend.run(circuit, shots=7).result().get_counts() == {"01 0": 7}


def test_memory_is_kept_when_asked(backend):
    result = backend.run(bell(), shots=20, memory=True, seed_simulator=1).result()
    memory = result.get_memory()
    assert len(memory) == 20
    assert {outcome: memory.count(outcome) for outcome in memory} == result.get_counts()


def test_a_circuit_without_measurements_has_no_counts_as_in_aer(backend):
    circuit = QuantumCircuit(1, 1, name="silent")
    circuit.h(0)
    with pytest.warns(DiviWarning, match="'silent'"):
        job = backend.run(circuit, shots=5)
    with pytest.raises(QiskitError, match="No counts"):
        job.result().get_counts()


def test_a_fake_backend_run_sees_noise(manila):
    result = manila.run(ghz(3), shots=SHOTS, seed_simulator=4).result()
    counts = result.get_counts()
    assert set(counts) > {"000", "111"}
    assert result.results[0].metadata["device"] == "fake_manila"


def test_a_queued_job_can_be_cancelled():
    backend = ParallelSimulatorBackend(n_processes=1)
    release = threading.Event()
    blocker = backend.execution.runner.submit(release.wait)  # keep the runner busy
    job = backend.run(bell(), shots=10)
    assert job.status() is JobStatus.QUEUED
    assert job.cancel()
    release.set()
    blocker.result()
    assert job.status() is JobStatus.CANCELLED
    with pytest.raises(JobCancelledError, match=job.job_id()):
        job.result()


def test_a_finished_job_cannot_be_cancelled(backend):
    job = backend.run(bell(), shots=10)
    job.result()
    assert not job.cancel()
    assert job.status() is JobStatus.DONE


# -- bad input, refused by run() before a job exists --------------------------------------


def test_unknown_run_options_are_named(backend):
    """Ignored, as Aer ignores them, but named in one warning."""
    with pytest.warns(DiviWarning) as caught:
        job = backend.run(bell(), shots=10, shot=10, rep_delay=1e-4, job_tags=["m3"])
    (warning,) = [each for each in caught if issubclass(each.category, DiviWarning)]
    assert str(warning.message).endswith("it does not have: job_tags, rep_delay, shot")
    assert sum(job.result().get_counts().values()) == 10


def test_what_qiskit_libraries_pass_for_every_run_is_accepted(backend):
    """Classified outcomes from initialised qubits: what every run does (no warning)."""
    options = {"shots": 500, "seed_simulator": 3}
    expected = backend.run(bell(), **options).result().get_counts()
    asked = {"meas_level": MeasLevel.CLASSIFIED, "meas_return": "avg", "init_qubits": True}
    counts = backend.run(bell(), **options, **asked, rep_delay=None).result().get_counts()
    assert counts == expected


@pytest.mark.parametrize(
    ("option", "value"),
    [("meas_level", 1), ("meas_level", 0), ("init_qubits", False), ("noise_model", NoiseModel())],
)
def test_what_no_run_can_do_is_refused(backend, option, value):
    with pytest.raises(InvalidInputError, match=option):
        backend.run(bell(), **{option: value})


def test_numpy_integers_are_integers():
    backend = ParallelSimulatorBackend(n_processes=1, shots=np.int64(100))
    backend.set_options(seed_simulator=np.uint32(5), memory=np.True_)
    assert (backend.options.shots, backend.options.seed_simulator) == (100, 5)
    assert type(backend.options.shots) is int and backend.options.memory is True
    result = backend.run(bell(), shots=np.int32(7)).result()
    assert sum(result.get_counts().values()) == 7 and len(result.get_memory()) == 7


def test_unknown_constructor_options_are_refused():
    with pytest.raises(AttributeError, match="colour"):
        ParallelSimulatorBackend(colour="blue")


def test_unknown_options_cannot_be_set(backend):
    with pytest.raises(UnknownOptionError, match=r"'shot'.*memory, seed_simulator, shots"):
        backend.set_options(shot=10)


def test_bad_shots_are_refused_at_run(backend):
    with pytest.raises(InvalidInputError, match="shots"):
        backend.run(bell(), shots=0)


def test_too_wide_circuits_are_refused_at_run(manila):
    with pytest.raises(CircuitTooWideError, match="'ghz6'"):
        manila.run(ghz(6))


# -- Qiskit's BackendSamplerV2 ------------------------------------------------------------


def test_backend_sampler_v2_samples_exact_distributions(backend):
    sampler = BackendSamplerV2(backend=backend, options={"seed_simulator": 12})
    result = sampler.run([ghz(3)], shots=SHOTS).result()
    assert_distribution(result[0].data.meas.get_counts(), {"000": 0.5, "111": 0.5})


def test_backend_sampler_v2_binds_parameters(backend):
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.ry(theta, 0)
    circuit.measure_all()
    angles = np.array([[0.0], [np.pi], [np.pi / 2]])
    sampler = BackendSamplerV2(backend=backend, options={"seed_simulator": 3})
    data = sampler.run([(circuit, angles)], shots=SHOTS).result()[0].data.meas
    assert data.get_counts(0) == {"0": SHOTS}
    assert data.get_counts(1) == {"1": SHOTS}
    assert_distribution(data.get_counts(2), {"0": 0.5, "1": 0.5})


def test_backend_sampler_v2_on_a_transpiled_noisy_circuit(manila):
    sampler = BackendSamplerV2(backend=manila, options={"seed_simulator": 3})
    circuit = transpile(ghz(3), manila, seed_transpiler=2)
    counts = sampler.run([circuit], shots=SHOTS).result()[0].data.meas.get_counts()
    assert 0.5 < (counts.get("000", 0) + counts.get("111", 0)) / SHOTS < 0.99


def test_configuration_describes_the_imitated_device_for_libraries_that_read_it():
    manila = FakeManilaV2()
    config = ParallelSimulatorBackend(qiskit_backend=manila).configuration()

    assert config.num_qubits == config.n_qubits == 5
    assert sorted(map(tuple, config.coupling_map)) == sorted(manila.coupling_map.get_edges())
    assert "cx" in config.basis_gates and "ecr" not in config.basis_gates
    assert config.simulator and config.local
    assert config.max_experiments == UNLIMITED and config.max_shots is None


def test_configuration_of_the_ideal_simulator_couples_every_qubit():
    backend = ParallelSimulatorBackend()
    config = backend.configuration()

    assert config.coupling_map is None
    assert config.n_qubits == backend.num_qubits
    assert config.backend_name == "parallel_simulator"
