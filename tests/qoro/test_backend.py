"""QoroBackend's Target, options and input checks: everything decided before a request."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import UnitaryGate
from qiskit.providers import BackendV2

from qiskit_divi import SamplerV2
from qiskit_divi.configuration import UNLIMITED
from qiskit_divi.exceptions import (
    CircuitTooWideError,
    DiviWarning,
    InvalidCircuitError,
    InvalidInputError,
    MissingCredentialsError,
)
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.qoro.protocol import (
    QELIB1_GATES,
    QPU,
    SIMULATOR_CLUSTER_QUBITS,
    JobType,
    QPUSystem,
)

from .wire import API_URL as API
from .wire import CLUSTER, QPU_SYSTEM, TOKEN, mock_submission


def test_a_backend_is_named_after_its_system(cluster_backend, qpu_backend):
    assert isinstance(cluster_backend, BackendV2)
    assert cluster_backend.name == "qoro_maestro"
    assert qpu_backend.name == "qoro_qpu"


def test_the_target_offers_every_qelib1_gate_on_all_qubit_pairs(qpu_backend):
    target = qpu_backend.target
    assert set(target.operation_names) == {*QELIB1_GATES, "measure", "reset"}
    assert qpu_backend.coupling_map is None
    assert target.instruction_supported("cx", (4, 0))
    assert target.instruction_supported("ccx", (3, 0, 2))


def test_widths_come_from_the_system(cluster_backend, qpu_backend):
    assert qpu_backend.num_qubits == 5
    assert cluster_backend.num_qubits == SIMULATOR_CLUSTER_QUBITS


def test_a_qpu_system_is_as_wide_as_its_widest_qpu(client):
    system = QPUSystem(
        name="pair",
        access_level="public",
        qpus=(QPU("a", 5, "online", "ion"), QPU("b", 11, "offline", "ion")),
    )
    assert QoroBackend(system, client).num_qubits == 11


def test_job_type_defaults_to_simulate_on_clusters_and_execute_on_qpus(
    cluster_backend, qpu_backend
):
    assert cluster_backend.options.job_type is JobType.SIMULATE
    assert qpu_backend.options.job_type is JobType.EXECUTE
    assert cluster_backend.simulator and not qpu_backend.simulator


def test_operational_follows_the_qpu_status(client):
    offline = QPUSystem("down", "public", (QPU("a", 5, "OFFLINE", "ion"),))
    online = QPUSystem("up", "public", (QPU("a", 5, "Online", "ion"),))
    assert not QoroBackend(offline, client).operational
    assert QoroBackend(online, client).operational
    assert QoroBackend(CLUSTER, client).operational


def test_options_can_be_given_at_construction_and_set_later(client):
    backend = QoroBackend(CLUSTER, client, shots=123, job_type="execute")
    assert backend.options.shots == 123
    assert backend.options.job_type is JobType.EXECUTE
    backend.set_options(tag="sweep", timeout=30, job_type=JobType.SIMULATE)
    assert (backend.options.tag, backend.options.timeout) == ("sweep", 30.0)
    assert backend.options.job_type is JobType.SIMULATE


@pytest.mark.parametrize(
    ("option", "value", "error", "match"),
    [
        ("shots", 0, InvalidInputError, "shots"),
        ("shots", 1.5, TypeError, "shots"),
        ("tag", "", InvalidInputError, "tag"),
        ("memory", "yes", TypeError, "memory"),
        ("polling_interval", 0, InvalidInputError, "polling_interval"),
        ("timeout", -1, InvalidInputError, "timeout"),
        ("job_type", "ESTIMATE", InvalidInputError, "EstimatorV2"),
        ("job_type", "NONSENSE", ValueError, "NONSENSE"),
        ("seed_simulator", 7, InvalidInputError, "no seed"),
        ("noise", True, InvalidInputError, "'noise'"),
    ],
)
def test_bad_options_are_refused_naming_the_option(cluster_backend, option, value, error, match):
    with pytest.raises(error, match=match):
        cluster_backend.set_options(**{option: value})


def test_max_circuits_is_unbounded_except_for_circuit_cutting(cluster_backend):
    assert cluster_backend.max_circuits is None
    cluster_backend.set_options(job_type=JobType.CIRCUIT_CUT)
    assert cluster_backend.max_circuits == 1


# -- run() refuses bad input before any request: the mock has no routes, so any request
# -- would fail the test with NoMockAddress instead of the expected error.


def test_run_refuses_unbound_parameters(mock, cluster_backend):
    qc = QuantumCircuit(1, 1, name="ansatz")
    qc.rx(Parameter("theta"), 0)
    qc.measure(0, 0)
    with pytest.raises(InvalidCircuitError, match=r"'0_ansatz'.*theta"):
        cluster_backend.run(qc)
    assert not mock.called


def test_run_names_the_circuit_and_instruction_that_cannot_be_exported(
    mock, cluster_backend, bell
):
    qc = QuantumCircuit(2, 2, name="feedback")
    qc.h(0)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(1)
    with pytest.raises(InvalidCircuitError, match=r"'1_feedback'.*'if_else' \(#2\)"):
        cluster_backend.run([bell, qc])
    assert not mock.called


def test_run_refuses_instructions_without_a_definition(mock, cluster_backend):
    qc = QuantumCircuit(1, 1, name="idle")
    qc.delay(100, 0)
    qc.measure(0, 0)
    with pytest.raises(InvalidCircuitError, match=r"'0_idle'.*'delay'.*opaque"):
        cluster_backend.run(qc)
    assert not mock.called


def _named_like_a_legacy_gate() -> QuantumCircuit:
    """A 2-qubit custom gate named ``c3x``: Qiskit's exporter would call it as the 4-qubit
    legacy gate, which no OpenQASM 2 reader, the service's included, accepts."""
    clash = QuantumCircuit(2, name="c3x")
    clash.h(0)
    qc = QuantumCircuit(2, name="clash")
    qc.append(clash.to_gate(), [0, 1])
    qc.measure_all()
    return qc


def test_run_refuses_a_circuit_whose_text_readers_would_refuse(mock, cluster_backend, bell):
    with pytest.raises(InvalidCircuitError, match=r"'1_clash'.*'c3x'"):
        cluster_backend.run([bell, _named_like_a_legacy_gate()])
    assert not mock.called


def test_the_sampler_sends_no_job_when_any_circuit_cannot_be_sent(mock, cluster_backend, bell):
    # Two shot counts make two jobs; the bad circuit is in the second.
    pubs = [(bell, None, 10), (_named_like_a_legacy_gate(), None, 20)]
    with pytest.raises(InvalidCircuitError, match=r"'c3x'"):
        SamplerV2(cluster_backend).run(pubs)
    assert not mock.called


def test_run_refuses_a_circuit_wider_than_the_system(mock, qpu_backend, bell):
    wide = QuantumCircuit(6, name="wide")
    wide.h(range(6))
    with pytest.raises(CircuitTooWideError, match=r"'1_wide'.*6 qubits.*has 5"):
        qpu_backend.run([bell, wide])
    assert not mock.called


def test_run_refuses_a_circuit_that_measures_nothing(mock, cluster_backend, bell):
    silent = QuantumCircuit(2, name="silent")
    silent.h(0)
    with pytest.raises(InvalidCircuitError, match=r"'1_silent'.*measures nothing"):
        cluster_backend.run([bell, silent])
    assert not mock.called


@pytest.mark.parametrize(
    ("run_input", "error"),
    [([], InvalidInputError), ("OPENQASM 2.0;", TypeError), ([object()], TypeError)],
)
def test_run_refuses_input_that_is_not_circuits(mock, cluster_backend, run_input, error):
    with pytest.raises(error):
        cluster_backend.run(run_input)
    assert not mock.called


def test_run_refuses_several_circuits_in_a_circuit_cutting_job(mock, cluster_backend, bell):
    with pytest.raises(InvalidInputError, match="CIRCUIT_CUT job takes one circuit"):
        cluster_backend.run([bell, bell], job_type=JobType.CIRCUIT_CUT)
    assert not mock.called


def test_run_ignores_unknown_options_naming_them(mock, cluster_backend, bell):
    mock_submission(mock)
    with pytest.warns(DiviWarning, match="does not have: job_tags, optimization_level$"):
        cluster_backend.run(bell, optimization_level=3, job_tags=["m3"])
    assert mock.request_history[0].json()["shots"] == 1024


def test_run_accepts_what_qiskit_libraries_pass_for_every_run(mock, cluster_backend, bell):
    mock_submission(mock)
    asked = {"meas_level": 2, "meas_return": "single", "init_qubits": True, "rep_delay": None}
    cluster_backend.run(bell, shots=np.int64(50), **asked)
    assert mock.request_history[0].json()["shots"] == 50


@pytest.mark.parametrize(("option", "value"), [("meas_level", 1), ("init_qubits", False)])
def test_run_refuses_what_no_run_can_do(mock, cluster_backend, bell, option, value):
    with pytest.raises(InvalidInputError, match=option):
        cluster_backend.run(bell, **{option: value})
    assert not mock.called


def test_numpy_integers_are_integers(cluster_backend):
    cluster_backend.set_options(shots=np.int64(100), memory=np.False_)
    assert type(cluster_backend.options.shots) is int and cluster_backend.options.shots == 100


def test_custom_gates_travel_with_their_definitions(mock, cluster_backend):
    """A gate outside qelib1 is exported with its definition, so run() accepts it."""
    from .wire import mock_submission, submitted_circuits

    qc = QuantumCircuit(2, 2, name="custom")
    qc.append(UnitaryGate([[0, 1], [1, 0]], label="flip"), [0])
    qc.measure([0, 1], [0, 1])
    mock_submission(mock)
    cluster_backend.run(qc)
    assert "gate unitary" in submitted_circuits(mock)["0_custom"]


# -- the token stays out of reprs and pickles


def test_the_token_is_not_in_the_repr(cluster_backend):
    assert TOKEN not in repr(cluster_backend)
    assert TOKEN not in str(cluster_backend)
    assert API in repr(cluster_backend)


def test_a_pickled_backend_holds_no_token_and_reconnects_from_the_environment(
    cluster_backend, monkeypatch, tmp_path
):
    data = pickle.dumps(cluster_backend)
    assert TOKEN.encode() not in data
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    copy = pickle.loads(data)
    assert copy.name == "qoro_maestro" and copy.options.shots == cluster_backend.options.shots
    with pytest.raises(MissingCredentialsError):
        _ = copy.client
    monkeypatch.setenv("QORO_API_KEY", "another-token")
    assert copy.client.api_url == API


def test_qpu_system_fixture_is_a_five_qubit_system():
    assert QPU_SYSTEM.num_qubits == 5


def test_configuration_says_whether_the_system_simulates_and_what_a_job_takes(client):
    cluster = QoroBackend(CLUSTER, client).configuration()
    qpu = QoroBackend(QPU_SYSTEM, client)

    assert cluster.simulator and not cluster.local
    assert cluster.n_qubits == CLUSTER.num_qubits
    assert not qpu.configuration().simulator
    assert qpu.configuration().max_experiments == UNLIMITED
    qpu.set_options(job_type=JobType.CIRCUIT_CUT)
    assert qpu.configuration().max_experiments == 1
