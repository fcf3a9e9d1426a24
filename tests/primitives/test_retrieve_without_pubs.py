"""A primitive's Qoro job read again, in a new process, from its id alone: the journal
keeps its PUBs' layout, and the rebuilt PrimitiveResult equals the original."""

from __future__ import annotations

import base64
import os
import pickle
import textwrap
import warnings

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

from qiskit_divi import DiviProvider, EstimatorV2, SamplerV2
from qiskit_divi.exceptions import InvalidInputError, JournalWarning

from server.helpers import run_elsewhere

RETRIEVE = textwrap.dedent(
    """
    import base64, pickle, sys
    from qiskit_divi import DiviProvider, EstimatorV2, SamplerV2

    kind, job_id = sys.argv[1:]
    backend = DiviProvider().get_backend("qoro")
    primitive = SamplerV2(backend) if kind == "sampler" else EstimatorV2(backend)
    result = primitive.retrieve_job(job_id).result()
    print(base64.b64encode(pickle.dumps(result)).decode())
    """
)


def retrieved_elsewhere(server, kind: str, job_id: str):
    return pickle.loads(base64.b64decode(run_elsewhere(server, RETRIEVE, kind, job_id)))


def assert_same_result(rebuilt, original) -> None:
    assert rebuilt.metadata == original.metadata
    assert len(rebuilt) == len(original)
    for got, expected in zip(rebuilt, original, strict=True):
        assert got.metadata == expected.metadata
        assert got.data.shape == expected.data.shape
        keys = list(expected.data.keys())
        assert list(got.data.keys()) == keys
        for key in keys:
            mine, theirs = got.data[key], expected.data[key]
            if hasattr(theirs, "array"):  # a BitArray
                assert mine.num_bits == theirs.num_bits
                np.testing.assert_array_equal(mine.array, theirs.array)
            else:
                np.testing.assert_array_equal(mine, theirs)


@pytest.fixture
def qoro(server, journal_path):
    return DiviProvider(auth_token=server.token, api_url=server.url).get_backend("qoro")


def test_sampler_job_is_rebuilt_without_pubs_in_a_new_process(qoro, server):
    theta = Parameter("theta")
    circuit = QuantumCircuit(
        QuantumRegister(2), ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    )
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.measure(0, 0)
    circuit.measure([0, 1], [2, 1])
    circuit.metadata = {"name": "mine"}
    pubs = [(circuit, np.linspace(0, np.pi, 6).reshape(2, 3, 1)), (circuit, [0.3], 77)]
    job = SamplerV2(qoro).run(pubs, shots=50)
    original = job.result()

    assert_same_result(retrieved_elsewhere(server, "sampler", job.job_id()), original)
    # PUBs still work, and give the same again
    again = SamplerV2(qoro).retrieve_job(job.job_id(), pubs, shots=50).result()
    assert_same_result(again, original)


def test_estimator_job_is_rebuilt_without_pubs_in_a_new_process(qoro, server):
    phi = Parameter("phi")
    circuit = QuantumCircuit(2)
    circuit.ry(phi, 0)
    circuit.cx(0, 1)
    observables = [
        [SparsePauliOp.from_list([("ZZ", 0.5), ("XI", -2.0)])],
        [SparsePauliOp.from_list([("XX", 1.5), ("II", 0.25)])],
    ]
    pubs = [(circuit, observables, [[0.1], [0.7], [1.2]], 0.01), (circuit, "ZI", [0.4])]
    job = EstimatorV2(qoro).run(pubs)
    original = job.result()
    assert original[0].data.evs.shape == (2, 3)

    assert_same_result(retrieved_elsewhere(server, "estimator", job.job_id()), original)


def test_without_pubs_or_journal_retrieve_says_to_pass_them(qoro, server, journal_path):
    circuit = QuantumCircuit(1)
    circuit.measure_all()
    job = qoro.run(circuit, shots=10)  # not a primitive's job: no PUBs recorded
    with pytest.raises(InvalidInputError, match="pass the PUBs"):
        SamplerV2(qoro).retrieve_job(job.job_id())
    sampler_job = SamplerV2(qoro).run([circuit])
    with pytest.raises(InvalidInputError, match="no estimator PUBs"):
        EstimatorV2(qoro).retrieve_job(sampler_job.job_id())


def test_an_unwritable_journal_leaves_the_run_alone(qoro, journal_path, monkeypatch):
    monkeypatch.setenv("QISKIT_DIVI_JOURNAL", str(journal_path.parent / "missing" / "x" / "j"))
    os.makedirs(journal_path.parent, exist_ok=True)
    (journal_path.parent / "missing").write_text("a file where a folder should be")
    circuit = QuantumCircuit(1)
    circuit.measure_all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = SamplerV2(qoro).run([circuit], shots=10)
    assert job.result()[0].data.meas.num_shots == 10
    assert any(issubclass(w.category, JournalWarning) for w in caught)
