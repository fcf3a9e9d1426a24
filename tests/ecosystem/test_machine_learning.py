"""qiskit-machine-learning's QNNs forward and backward on our primitives, as on Aer's.

Backward passes use the library's parameter-shift gradients
(``ParamShiftEstimatorGradient`` / ``ParamShiftSamplerGradient``), which run the
primitive they are given on shifted parameter values.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import real_amplitudes, zz_feature_map
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from qiskit_aer.primitives import SamplerV2 as AerSampler
from qiskit_machine_learning.neural_networks import EstimatorQNN, SamplerQNN

from qiskit_divi import EstimatorV2, ParallelSimulatorBackend, SamplerV2

from .stats import assert_within

FEATURES = zz_feature_map(2, reps=1)
WEIGHTS = real_amplitudes(2, reps=1)
OBSERVABLES = [SparsePauliOp("ZZ"), SparsePauliOp("XI")]
_rng = np.random.default_rng(3)
INPUTS = _rng.uniform(0, np.pi, (3, FEATURES.num_parameters))
WEIGHT_VALUES = _rng.uniform(0, np.pi, WEIGHTS.num_parameters)


def model() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.compose(FEATURES, inplace=True)
    circuit.compose(WEIGHTS, inplace=True)
    return circuit


def estimator_qnn(estimator: object, precision: float) -> EstimatorQNN:
    return EstimatorQNN(
        circuit=model(),
        estimator=estimator,
        observables=OBSERVABLES,
        input_params=FEATURES.parameters,
        weight_params=WEIGHTS.parameters,
        input_gradients=True,
        default_precision=precision,
    )


def test_estimator_qnn_exact(simulator: ParallelSimulatorBackend) -> None:
    """Exact expectation values, and parameter-shift gradients (inputs and weights) built
    from them, equal Aer's to rounding."""
    ours = estimator_qnn(EstimatorV2(simulator), precision=0.0)
    aer = estimator_qnn(AerEstimator(), precision=0.0)
    forward = ours.forward(INPUTS, WEIGHT_VALUES)
    assert forward.shape == (len(INPUTS), len(OBSERVABLES))
    np.testing.assert_allclose(forward, aer.forward(INPUTS, WEIGHT_VALUES), atol=1e-9)
    for found, expected in zip(
        ours.backward(INPUTS, WEIGHT_VALUES), aer.backward(INPUTS, WEIGHT_VALUES), strict=True
    ):
        assert found is not None and found.shape == expected.shape
        np.testing.assert_allclose(found, expected, atol=1e-9)


def test_estimator_qnn_at_its_default_precision(simulator: ParallelSimulatorBackend) -> None:
    """At the QNN's default precision p our estimator samples ceil(1 / p**2) shots per
    basis (a Pauli's standard error is then at most p); Aer's adds normal noise of
    standard deviation p to the exact value. Each value is within z p of the exact one,
    the two within z sqrt(2) p of each other."""
    precision = 0.015625
    ours = estimator_qnn(EstimatorV2(simulator, options={"seed": 41}), precision)
    aer = estimator_qnn(AerEstimator(options={"run_options": {"seed_simulator": 42}}), precision)
    forward = ours.forward(INPUTS, WEIGHT_VALUES)
    exact = estimator_qnn(AerEstimator(), 0.0).forward(INPUTS, WEIGHT_VALUES)
    assert_within(
        np.stack([forward, forward]),
        np.stack([aer.forward(INPUTS, WEIGHT_VALUES), exact]),
        np.array([np.sqrt(2) * precision, precision])[:, None, None],
    )


def sampler_qnn(sampler: object) -> SamplerQNN:
    return SamplerQNN(
        circuit=model().measure_all(inplace=False),
        sampler=sampler,
        input_params=FEATURES.parameters,
        weight_params=WEIGHTS.parameters,
    )


def exact_probabilities(inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Outcome probabilities (index = the measured bits as an integer) of each input row."""
    circuit = model()
    return np.array(
        [
            Statevector(circuit.assign_parameters([*row, *weights])).probabilities()
            for row in inputs
        ]
    )


def test_sampler_qnn(simulator: ParallelSimulatorBackend) -> None:
    """Forward: each probability p estimated from n shots has variance p (1 - p) / n.
    Backward (weights, each in one rotation): the shift rule's (p+ - p-) / 2 has variance
    (p+ (1 - p+) + p- (1 - p-)) / 4n. The exact p, p+ and p- give each value's standard
    deviation; ours must be within z of them of the exact value and within z sqrt(2) of
    them of Aer's independent estimate (plus one count, 1/n, for rare outcomes)."""
    shots = 4000
    ours = sampler_qnn(SamplerV2(simulator, options={"seed": 51, "default_shots": shots}))
    aer = sampler_qnn(AerSampler(seed=52, default_shots=shots))

    forward = ours.forward(INPUTS, WEIGHT_VALUES)
    probabilities = exact_probabilities(INPUTS, WEIGHT_VALUES)
    sigma = np.sqrt(probabilities * (1 - probabilities) / shots)
    assert_within(
        np.stack([forward, forward]),
        np.stack([aer.forward(INPUTS, WEIGHT_VALUES), probabilities]),
        np.stack([np.sqrt(2) * sigma, sigma]),
        allowance=1 / shots,
    )

    input_gradient, gradient = ours.backward(INPUTS, WEIGHT_VALUES)
    assert input_gradient is None
    shifts = np.eye(len(WEIGHT_VALUES)) * np.pi / 2  # gradient[sample, outcome, weight]
    plus = np.stack([exact_probabilities(INPUTS, WEIGHT_VALUES + s) for s in shifts], axis=-1)
    minus = np.stack([exact_probabilities(INPUTS, WEIGHT_VALUES - s) for s in shifts], axis=-1)
    sigma = np.sqrt((plus * (1 - plus) + minus * (1 - minus)) / (4 * shots))
    assert_within(
        np.stack([gradient, gradient]),
        np.stack([aer.backward(INPUTS, WEIGHT_VALUES)[1], (plus - minus) / 2]),
        np.stack([np.sqrt(2) * sigma, sigma]),
        allowance=1 / shots,
    )
