"""SamplerV2 and EstimatorV2 copy and pickle, as Aer's primitives do.

On the simulator, a copy runs on the same engine and a pickle on a rebuilt one: either
way the same seed gives the same numbers. On Qoro, a copy shares the client and its
credentials; a pickle carries no token.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp

from qiskit_divi import EstimatorV2, SamplerV2
from qiskit_divi.qoro.backend import QoroBackend
from qiskit_divi.server import LocalServer
from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .conftest import ansatz, two_register_circuit

RNG = np.random.default_rng(11)
SAMPLER_VALUES = RNG.uniform(0, np.pi, (3, 2))
ANSATZ = ansatz(3, reps=1)
ESTIMATOR_VALUES = RNG.uniform(-np.pi, np.pi, (4, ANSATZ.num_parameters))
OBSERVABLES = [SparsePauliOp("ZZI"), SparsePauliOp.from_list([("XIX", 0.5), ("IYZ", -1.0)])]


def deep_copy(thing: Any) -> Any:
    return copy.deepcopy(thing)


def pickled(thing: Any) -> Any:
    return pickle.loads(pickle.dumps(thing))


@pytest.mark.parametrize("copied", [deep_copy, pickled])
def test_a_copied_sampler_samples_the_same_bits(
    simulator: ParallelSimulatorBackend, copied: Callable[[Any], Any]
) -> None:
    sampler = SamplerV2(simulator, options={"seed": 8})
    pubs = [(two_register_circuit(), SAMPLER_VALUES)]
    twin = copied(sampler)
    try:
        expected = sampler.run(pubs, shots=500).result()[0].data
        data = twin.run(pubs, shots=500).result()[0].data
        assert twin.options == sampler.options and twin.options is not sampler.options
        for register in ("alpha", "beta"):
            np.testing.assert_array_equal(data[register].array, expected[register].array)
    finally:
        if twin.backend.engine is not simulator.engine:
            twin.backend.close()


@pytest.mark.parametrize("copied", [deep_copy, pickled])
@pytest.mark.parametrize("precision", [0.0, 0.05])
def test_a_copied_estimator_estimates_the_same_values(
    simulator: ParallelSimulatorBackend, copied: Callable[[Any], Any], precision: float
) -> None:
    estimator = EstimatorV2(simulator, options={"seed": 8, "default_precision": precision})
    pubs = [(ANSATZ, [[obs] for obs in OBSERVABLES], ESTIMATOR_VALUES)]
    twin = copied(estimator)
    try:
        expected = estimator.run(pubs).result()[0].data
        data = twin.run(pubs).result()[0].data
        np.testing.assert_array_equal(data.evs, expected.evs)
        np.testing.assert_array_equal(data.stds, expected.stds)
    finally:
        if twin.backend.engine is not simulator.engine:
            twin.backend.close()


def test_a_copied_sampler_on_qoro_shares_the_client_and_its_pickle_no_token(
    qoro: QoroBackend, server: LocalServer
) -> None:
    sampler = SamplerV2(qoro)
    twin = copy.deepcopy(sampler)
    assert twin.backend.client is qoro.client

    counts = twin.run([two_register_circuit().assign_parameters([np.pi, 0])], shots=100)
    assert counts.result()[0].data.alpha.get_counts() == {"11": 100}
    assert server.token.encode() not in pickle.dumps(sampler)
    assert server.token.encode() not in pickle.dumps(EstimatorV2(qoro))
