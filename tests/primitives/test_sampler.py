"""SamplerV2 on the parallel simulator: Qiskit's semantics, exact distributions, Aer's bits."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import StatevectorSampler
from qiskit.primitives.containers import BitArray
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import SamplerV2
from qiskit_divi.exceptions import CircuitTooWideError, InvalidInputError
from qiskit_divi.primitives.sampler import Options
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .conftest import assert_counts_match, register_probabilities, two_register_circuit

RNG = np.random.default_rng(2024)
VALUES = RNG.uniform(0, np.pi, (2, 3, 2))


def test_each_register_follows_the_exact_distribution(simulator: ParallelSimulatorBackend) -> None:
    circuit = two_register_circuit()
    result = (
        SamplerV2(simulator, options={"seed": 1}).run([(circuit, VALUES)], shots=4000).result()
    )
    data = result[0].data
    assert data.shape == (2, 3)
    assert (data.alpha.num_bits, data.beta.num_bits) == (2, 1)
    for index in np.ndindex(2, 3):
        bound = circuit.assign_parameters(VALUES[index])
        for register in ("alpha", "beta"):
            counts = data[register][index].get_counts()
            assert sum(counts.values()) == 4000
            assert_counts_match(counts, register_probabilities(bound, register))


def test_bits_are_aers_own_for_the_same_seed(simulator: ParallelSimulatorBackend) -> None:
    """Same seed, same batch order: identical shots, in the same order, in every register."""
    pubs = [(two_register_circuit(), VALUES), (two_register_circuit(), VALUES[0, 0])]
    ours = SamplerV2(simulator, options={"seed": 42}).run(pubs, shots=300).result()
    aers = AerSamplerV2(seed=42).run(pubs, shots=300).result()
    for mine, theirs in zip(ours, aers, strict=True):
        for register in ("alpha", "beta"):
            assert np.array_equal(mine.data[register].array, theirs.data[register].array)


def test_pubs_sharing_a_circuit_get_aers_own_bits(simulator: ParallelSimulatorBackend) -> None:
    circuit = two_register_circuit()
    pubs = [(circuit, VALUES[0]), (circuit, VALUES[1, 2]), (circuit, VALUES)]
    ours = SamplerV2(simulator, options={"seed": 8}).run(pubs, shots=200).result()
    aers = AerSamplerV2(seed=8).run(pubs, shots=200).result()
    for mine, theirs in zip(ours, aers, strict=True):
        for register in ("alpha", "beta"):
            assert np.array_equal(mine.data[register].array, theirs.data[register].array)


def test_noisy_bits_are_aers_own_for_the_same_seed() -> None:
    device = FakeManilaV2()
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    circuit = transpile(bell, device, seed_transpiler=1)
    backend = ParallelSimulatorBackend(qiskit_backend=device, n_processes=1)
    ours = SamplerV2(backend, options={"seed": 5}).run([circuit], shots=2000).result()
    aers = AerSamplerV2.from_backend(device, seed=5).run([circuit], shots=2000).result()
    assert np.array_equal(ours[0].data.meas.array, aers[0].data.meas.array)
    counts = ours[0].data.meas.get_counts()
    assert counts.get("01", 0) + counts.get("10", 0) > 0  # the device's noise shows


@pytest.mark.parametrize(
    ("values", "shape"),
    [
        (None, ()),
        (VALUES[0, 0], ()),
        (VALUES[0], (3,)),
        (VALUES, (2, 3)),
        (VALUES[:, None], (2, 1, 3)),
    ],
)
def test_results_are_shaped_like_the_parameter_values(
    simulator: ParallelSimulatorBackend, values: np.ndarray | None, shape: tuple[int, ...]
) -> None:
    circuit = two_register_circuit()
    if values is None:
        circuit = circuit.assign_parameters([0.3, 0.4])
    pub = (circuit,) if values is None else (circuit, values)
    data = SamplerV2(simulator).run([pub], shots=10).result()[0].data
    assert data.shape == shape
    assert data.alpha.shape == data.beta.shape == shape
    assert data.alpha.num_shots == 10


def test_shots_come_from_the_pub_then_run_then_options(
    simulator: ParallelSimulatorBackend,
) -> None:
    circuit = two_register_circuit()
    sampler = SamplerV2(simulator, options=Options(default_shots=7, seed=3))
    pubs = [(circuit, VALUES[0, 0]), (circuit, VALUES[0, 0], 11)]
    assert [r.data.alpha.num_shots for r in sampler.run(pubs).result()] == [7, 11]
    results = sampler.run(pubs, shots=5).result()
    assert [r.data.alpha.num_shots for r in results] == [5, 11]
    assert [r.metadata["shots"] for r in results] == [5, 11]


def test_a_seed_makes_runs_reproducible(simulator: ParallelSimulatorBackend) -> None:
    pubs = [(two_register_circuit(), VALUES), (two_register_circuit(), VALUES, 64)]
    first = SamplerV2(simulator, options={"seed": 9}).run(pubs, shots=32).result()
    again = SamplerV2(simulator, options={"seed": 9}).run(pubs, shots=32).result()
    other = SamplerV2(simulator, options={"seed": 10}).run(pubs, shots=32).result()
    for a, b, c in zip(first, again, other, strict=True):
        assert np.array_equal(a.data.alpha.array, b.data.alpha.array)
        assert not np.array_equal(a.data.alpha.array, c.data.alpha.array)


def test_metadata_is_qiskits(simulator: ParallelSimulatorBackend) -> None:
    circuit = two_register_circuit()
    circuit.metadata = {"experiment": "x"}
    result = SamplerV2(simulator).run([(circuit, VALUES[0, 0])], shots=3).result()
    assert result.metadata == {"version": 2}
    assert result[0].metadata == {"shots": 3, "circuit_metadata": {"experiment": "x"}}


def test_a_circuit_without_registers_warns_as_qiskit_does(
    simulator: ParallelSimulatorBackend,
) -> None:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    with pytest.warns(UserWarning, match="no output classical registers"):
        result = SamplerV2(simulator).run([circuit], shots=5).result()
    assert list(result[0].data) == []


def test_a_register_never_measured_reads_zero(simulator: ParallelSimulatorBackend) -> None:
    circuit = QuantumCircuit(1, 2)
    circuit.x(0)
    circuit.measure(0, 1)
    data = SamplerV2(simulator).run([circuit], shots=20).result()[0].data
    assert data.c.get_counts() == {"10": 20}


BAD_PUBS = [
    ("too few values", lambda c: [(c, [0.1])], {}),
    ("too many values", lambda c: [(c, np.zeros((3, 4)))], {}),
    ("zero shots", lambda c: [(c, [0.1, 0.2])], {"shots": 0}),
    ("negative pub shots", lambda c: [(c, [0.1, 0.2], -5)], {}),
    ("fractional shots", lambda c: [(c, [0.1, 0.2])], {"shots": 2.5}),
    ("not a circuit", lambda c: [("OPENQASM 2.0;", [0.1])], {}),
]


@pytest.mark.parametrize(("case", "pubs", "kwargs"), BAD_PUBS, ids=[b[0] for b in BAD_PUBS])
def test_bad_pubs_fail_as_in_qiskit(
    simulator: ParallelSimulatorBackend, case: str, pubs, kwargs
) -> None:
    circuit = two_register_circuit()
    with pytest.raises(Exception) as expected:
        StatevectorSampler().run(pubs(circuit), **kwargs)
    with pytest.raises(type(expected.value)) as ours:
        SamplerV2(simulator).run(pubs(circuit), **kwargs)
    assert str(ours.value) == str(expected.value)


def test_a_circuit_too_wide_for_the_device_fails_in_run() -> None:
    backend = ParallelSimulatorBackend(qiskit_backend=FakeManilaV2(), n_processes=1)
    wide = QuantumCircuit(6)
    wide.h(range(6))
    wide.measure_all()
    with pytest.raises(CircuitTooWideError, match="6 qubits"):
        SamplerV2(backend).run([wide])


def test_mode_is_positional_or_a_keyword(simulator: ParallelSimulatorBackend) -> None:
    assert SamplerV2(simulator).backend is simulator
    assert SamplerV2(mode=simulator).backend is simulator


def test_other_backends_are_refused() -> None:
    from qiskit_aer import AerSimulator

    with pytest.raises(TypeError, match="ParallelSimulatorBackend or a QoroBackend"):
        SamplerV2(AerSimulator())


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"default_shots": 0}, InvalidInputError),
        ({"default_shots": 1.5}, TypeError),
        ({"seed": -1}, InvalidInputError),
        ({"seed": 2**40}, InvalidInputError),
        ({"shots": 10}, TypeError),
    ],
)
def test_bad_options_fail_at_construction(
    simulator: ParallelSimulatorBackend, options: dict, error: type[Exception]
) -> None:
    with pytest.raises(error):
        SamplerV2(simulator, options=options)


def test_bit_arrays_are_qiskit_containers(simulator: ParallelSimulatorBackend) -> None:
    data = SamplerV2(simulator).run([(two_register_circuit(), VALUES)], shots=4).result()[0].data
    assert isinstance(data.alpha, BitArray)
    assert data.alpha.array.dtype == np.uint8
    assert data.alpha.array.shape == (2, 3, 4, 1)


def test_classical_bits_outside_one_register_are_refused(
    simulator: ParallelSimulatorBackend,
) -> None:
    from qiskit import ClassicalRegister
    from qiskit.circuit import Clbit, Qubit

    from qiskit_divi.exceptions import InvalidCircuitError

    loose = QuantumCircuit([Qubit(), Qubit()], [Clbit()], ClassicalRegister(1, "r"))
    loose.measure([0, 1], [0, 1])
    shared = QuantumCircuit(1, 1)
    shared.add_register(ClassicalRegister(name="alias", bits=shared.clbits))
    shared.measure(0, 0)
    for circuit in (loose, shared):
        with pytest.raises(InvalidCircuitError, match="exactly one register"):
            SamplerV2(simulator).run([circuit])
