"""EstimatorV2 on the parallel simulator: exact by default, honest errors when sampling."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import StatevectorEstimator
from qiskit.primitives.containers import ObservablesArray
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer.noise import NoiseModel, depolarizing_error
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

from qiskit_divi import EstimatorV2
from qiskit_divi.exceptions import CircuitTooWideError, InvalidInputError
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .conftest import ansatz

RNG = np.random.default_rng(7)
CIRCUIT = ansatz(3, reps=1)
VALUES = RNG.uniform(-np.pi, np.pi, (4, 1, CIRCUIT.num_parameters))
HAMILTONIAN = SparsePauliOp(["ZZI", "IXX", "YIY", "III"], [0.5, -1.25, 0.75, 0.1])

#: Observables in every form Qiskit coerces, with parameter sets they broadcast against.
PUBS = {
    "str": (CIRCUIT, "ZIZ", VALUES[0, 0]),
    "SparsePauliOp": (CIRCUIT, HAMILTONIAN, VALUES[:, 0]),
    "dict": (CIRCUIT, {"XYZ": 0.3, "IIZ": -2.0}, VALUES[:, 0]),
    "list broadcast": (CIRCUIT, ["ZII", HAMILTONIAN, {"XXI": 1.0}], VALUES),
    "nested array": (CIRCUIT, [["ZII", "IZI"], ["IIZ", "XXX"]], VALUES[:2]),
    "ObservablesArray": (CIRCUIT, ObservablesArray.coerce(["YYY", "ZZZ"]), VALUES[1, 0]),
    "no parameters": (CIRCUIT.assign_parameters(VALUES[2, 0]), [HAMILTONIAN, "XII"]),
}


@pytest.fixture(scope="module")
def reference() -> list:
    return list(StatevectorEstimator().run(list(PUBS.values())).result())


def test_exact_values_agree_with_the_statevector_estimator(
    simulator: ParallelSimulatorBackend, reference: list
) -> None:
    result = EstimatorV2(simulator).run(list(PUBS.values())).result()
    assert result.metadata == {"version": 2}
    for name, ours, theirs in zip(PUBS, result, reference, strict=True):
        assert ours.data.evs.shape == theirs.data.evs.shape, name
        np.testing.assert_allclose(ours.data.evs, theirs.data.evs, rtol=0, atol=1e-10)
        assert np.array_equal(ours.data.stds, np.zeros(theirs.data.evs.shape)), name
        assert ours.metadata == {"target_precision": 0.0, "circuit_metadata": {}}


def test_sampled_values_lie_within_their_reported_errors(
    simulator: ParallelSimulatorBackend, reference: list
) -> None:
    result = (
        EstimatorV2(simulator, options={"seed": 11}).run(PUBS.values(), precision=0.02).result()
    )
    for ours, theirs in zip(result, reference, strict=True):
        assert ours.metadata["shots"] == 2500
        assert np.all(ours.data.stds > 0)
        assert np.all(np.abs(ours.data.evs - theirs.data.evs) <= 5 * ours.data.stds)


def test_sampled_errors_are_the_measured_standard_errors(
    simulator: ParallelSimulatorBackend,
) -> None:
    """One Pauli term: the standard error of its mean is sqrt((1 - <P>^2) / shots)."""
    pub = (CIRCUIT, ["ZZZ", "XIX", "IYI"], VALUES[:, 0, None])
    exact = StatevectorEstimator().run([pub]).result()[0].data.evs
    sampled = EstimatorV2(simulator, options={"seed": 4}).run([pub], precision=0.01).result()[0]
    shots = sampled.metadata["shots"]
    assert shots == 10_000
    expected = np.sqrt((1 - exact**2) / shots)
    np.testing.assert_allclose(sampled.data.stds, expected, rtol=0.05, atol=1e-4)


def test_a_sum_of_terms_in_one_basis_gets_its_covariances(
    simulator: ParallelSimulatorBackend,
) -> None:
    """ZI + IZ on a Bell state: both terms are +-1 together, so Var(sum) = 4 (1 - 0) here,
    twice what adding the terms' standard errors in quadrature would claim."""
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.ry(0.4, 0)
    pub = (bell, SparsePauliOp(["ZI", "IZ"]))
    state = Statevector(bell)
    z1, z0 = (state.expectation_value(SparsePauliOp(p)).real for p in ("ZI", "IZ"))
    zz = state.expectation_value(SparsePauliOp("ZZ")).real
    variance = (1 - z1**2) + (1 - z0**2) + 2 * (zz - z0 * z1)
    result = EstimatorV2(simulator, options={"seed": 8}).run([pub], precision=0.01).result()[0]
    assert result.data.stds == pytest.approx(np.sqrt(variance / 10_000), rel=0.05)


def test_per_pub_precision_mixes_exact_and_sampled(simulator: ParallelSimulatorBackend) -> None:
    pubs = [(CIRCUIT, "ZZZ", VALUES[0, 0]), (CIRCUIT, "ZZZ", VALUES[0, 0], 0.05)]
    exact, sampled = EstimatorV2(simulator).run(pubs).result()
    assert exact.metadata["target_precision"] == 0.0 and "shots" not in exact.metadata
    assert sampled.metadata == {"target_precision": 0.05, "circuit_metadata": {}, "shots": 400}
    assert exact.data.stds == 0 and sampled.data.stds > 0


@pytest.mark.parametrize("precision", [np.float64(0.05), np.float32(0.05)], ids=str)
def test_a_precision_may_be_a_numpy_number(
    simulator: ParallelSimulatorBackend, precision: np.floating
) -> None:
    """As an option, a run argument or in a PUB, as the sampler takes NumPy shots."""
    pub = (CIRCUIT, "ZZZ", VALUES[0, 0])
    jobs = [
        EstimatorV2(simulator, options={"default_precision": precision}).run([pub]),
        EstimatorV2(simulator).run([pub], precision=precision),
        EstimatorV2(simulator).run([(*pub, precision)]),
    ]
    for job in jobs:
        result = job.result()[0]
        assert result.metadata["shots"] == 400 and result.data.stds > 0
    exact = EstimatorV2(simulator, options={"default_precision": np.int64(0)})
    assert exact.options.default_precision == 0.0
    assert "shots" not in exact.run([pub]).result()[0].metadata


def test_a_seed_makes_sampled_estimates_reproducible(simulator: ParallelSimulatorBackend) -> None:
    pubs = [(CIRCUIT, HAMILTONIAN, VALUES[:, 0]), (CIRCUIT, "XXX", VALUES[:, 0], 0.1)]
    runs = [
        EstimatorV2(simulator, options={"seed": seed}).run(pubs, precision=0.05).result()
        for seed in (3, 3, 4)
    ]
    for first, again, other in zip(*runs, strict=True):
        assert np.array_equal(first.data.evs, again.data.evs)
        assert not np.array_equal(first.data.evs, other.data.evs)


def test_exact_values_under_noise_are_the_density_matrixs() -> None:
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["ry", "rz"])
    backend = ParallelSimulatorBackend(noise_model=noise, n_processes=1)
    pub = (CIRCUIT, [HAMILTONIAN, "ZZZ"], VALUES)
    ours = EstimatorV2(backend).run([pub]).result()[0].data.evs
    aers = AerEstimatorV2(
        options={"backend_options": {"method": "density_matrix", "noise_model": noise}}
    )
    theirs = aers.run([pub]).result()[0].data.evs
    ideal = StatevectorEstimator().run([pub]).result()[0].data.evs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    assert np.abs(ours - ideal).max() > 1e-3  # the noise shows


BAD_RUNS = [
    ("too few values", [(CIRCUIT, "ZZZ", [0.1])], {}),
    ("observable too narrow", [(CIRCUIT, "ZZ", VALUES[0, 0])], {}),
    ("observable too wide", [(CIRCUIT, SparsePauliOp("ZZZZ"), VALUES[0, 0])], {}),
    ("negative precision", [(CIRCUIT, "ZZZ", VALUES[0, 0])], {"precision": -0.1}),
    ("negative pub precision", [(CIRCUIT, "ZZZ", VALUES[0, 0], -1.0)], {}),
    ("not hermitian", [(CIRCUIT, SparsePauliOp("ZZZ", 1j), VALUES[0, 0])], {}),
    ("not broadcastable", [(CIRCUIT, ["ZZZ"] * 3, VALUES[:2, 0])], {}),
    ("not a Pauli", [(CIRCUIT, "ABC", VALUES[0, 0])], {}),
]


@pytest.mark.parametrize(("case", "pubs", "kwargs"), BAD_RUNS, ids=[b[0] for b in BAD_RUNS])
def test_bad_pubs_fail_as_in_qiskit(
    simulator: ParallelSimulatorBackend, case: str, pubs: list, kwargs: dict
) -> None:
    with pytest.raises(Exception) as expected:
        StatevectorEstimator().run(pubs, **kwargs)
    with pytest.raises(type(expected.value)) as ours:
        EstimatorV2(simulator).run(pubs, **kwargs)
    assert str(ours.value) == str(expected.value)


def test_a_circuit_too_wide_for_the_device_fails_in_run() -> None:
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    backend = ParallelSimulatorBackend(qiskit_backend=FakeManilaV2(), n_processes=1)
    wide = ansatz(6, reps=0).assign_parameters(np.zeros(12))
    with pytest.raises(CircuitTooWideError, match="6 qubits"):
        EstimatorV2(backend).run([(wide, "Z" * 6)])


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"default_precision": -0.5}, InvalidInputError),
        ({"default_precision": "high"}, TypeError),
        ({"default_precision": np.bool_(True)}, TypeError),
        ({"default_precision": float("nan")}, InvalidInputError),
        ({"default_precision": np.inf}, InvalidInputError),
        ({"seed": -3}, InvalidInputError),
        ({"precision": 0.1}, TypeError),
    ],
)
def test_bad_options_fail_at_construction(
    simulator: ParallelSimulatorBackend, options: dict, error: type[Exception]
) -> None:
    with pytest.raises(error):
        EstimatorV2(simulator, options=options)


def test_mode_is_positional_or_a_keyword(simulator: ParallelSimulatorBackend) -> None:
    assert EstimatorV2(mode=simulator).backend is EstimatorV2(simulator).backend is simulator
    with pytest.raises(TypeError, match="ParallelSimulatorBackend or a QoroBackend"):
        EstimatorV2(StatevectorEstimator())  # type: ignore[arg-type]
