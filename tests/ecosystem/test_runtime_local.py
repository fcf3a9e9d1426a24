"""qiskit-ibm-runtime's local mode on our backends gives the numbers it gives on Aer.

Given a plain ``BackendV2`` as its mode, or a ``Batch``/``Session`` opened on one,
qiskit-ibm-runtime's ``SamplerV2``/``EstimatorV2`` deep-copy their options (the backend
with them) and run Qiskit's ``BackendSamplerV2``/``BackendEstimatorV2`` over
``backend.run``. The same script runs on each backend of ours and on its Aer twin, with
independent seeds, and the two must agree in distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_ibm_runtime import Batch, EstimatorV2, SamplerV2, Session

from qiskit_divi.qoro.backend import QoroBackend

from .stats import assert_same_distribution, assert_within

# qiskit-ibm-runtime 0.50 deprecated these primitives for client-side ones; they remain
# what local mode, qiskit-experiments and others use.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The (Sampler|Estimator)V2 class is deprecated:DeprecationWarning"
)

SHOTS = 4000
#: Estimator precision: BackendEstimatorV2 takes ceil(1 / precision**2) shots per basis.
PRECISION = 0.01
OURS_SEED, AER_SEED = 11, 12
#: Where the logical qubits sit on FakeManilaV2 (a line: 0-1-2-3-4).
LAYOUT = [0, 1, 2]

#: (our backend's fixture, its Aer twin's fixture, whether FakeManilaV2 noise is on)
PAIRS = {
    "simulator": ("simulator", "aer", False),
    "noisy_simulator": ("noisy_simulator", "noisy_aer", True),
    "qoro": ("qoro", "aer", False),
    "qpu": ("qpu", "noisy_aer", True),
}


def logical_circuit() -> QuantumCircuit:
    """Three entangled qubits with uneven outcome probabilities."""
    circuit = QuantumCircuit(3)
    circuit.ry(0.7, 0)
    circuit.cx(0, 1)
    circuit.rx(1.1, 2)
    circuit.cx(1, 2)
    circuit.h(0)
    return circuit


#: Single Pauli strings (so the estimator's standard error is at most its precision).
PAULIS = ["ZZI", "IZZ", "ZIZ", "XII", "IIY", "YXZ"]


@pytest.fixture(params=list(PAIRS))
def pair(request: pytest.FixtureRequest) -> tuple[BackendV2, BackendV2, bool]:
    ours, aer, noisy = PAIRS[request.param]
    return request.getfixturevalue(ours), request.getfixturevalue(aer), noisy


@pytest.fixture(params=["backend", "batch", "session"])
def mode_of(request: pytest.FixtureRequest) -> Callable[[BackendV2], AbstractContextManager[Any]]:
    """How the primitive gets its backend: directly, or through a Batch or a Session."""
    if request.param == "backend":
        return nullcontext
    return Batch if request.param == "batch" else Session


def circuit_for(backend: BackendV2, noisy: bool) -> QuantumCircuit:
    """What a user hands the primitive: the logical circuit on a noiseless backend; on a
    noisy one, its ISA form for that backend on the qubits of :data:`LAYOUT`.

    On the noisy simulator and Aer that is FakeManilaV2's ISA, run as it is, so both see
    the same qubits' noise. The Qoro "QPU" offers ``qelib1.inc`` gates on any qubits; its
    server compiles the circuit for FakeManilaV2 itself, keeping a layout that needs no
    swaps (this one), so only the single-qubit gates' spelling may differ from Aer's run:
    at most one gate's error (< 1e-3), far below what SHOTS can resolve (~1e-2).
    """
    circuit = logical_circuit()
    if not noisy:
        return circuit
    return transpile(circuit, backend, initial_layout=LAYOUT, seed_transpiler=5)


def seeded(backend: BackendV2, seed: int) -> dict[str, Any]:
    """Runtime options that seed a simulator (the Qoro service takes no seed)."""
    if isinstance(backend, QoroBackend):
        return {}
    return {"simulator": {"seed_simulator": seed}}


def sample(
    backend: BackendV2,
    circuit: QuantumCircuit,
    seed: int,
    mode_of: Callable[[BackendV2], AbstractContextManager[Any]],
) -> dict[str, int]:
    measured = circuit.measure_all(inplace=False)
    with mode_of(backend) as mode:
        sampler = SamplerV2(mode=mode, options=seeded(backend, seed))
        result = sampler.run([measured], shots=SHOTS).result()
    return result[0].data.meas.get_counts()


def estimate(
    backend: BackendV2,
    circuit: QuantumCircuit,
    seed: int,
    mode_of: Callable[[BackendV2], AbstractContextManager[Any]],
) -> np.ndarray:
    observables = [SparsePauliOp(p).apply_layout(circuit.layout) for p in PAULIS]
    with mode_of(backend) as mode:
        estimator = EstimatorV2(mode=mode, options=seeded(backend, seed))
        result = estimator.run([(circuit, observables)], precision=PRECISION).result()
    return np.asarray(result[0].data.evs)


def test_sampler_matches_aer(pair: tuple[BackendV2, BackendV2, bool], mode_of: Any) -> None:
    ours, aer, noisy = pair
    counts = sample(ours, circuit_for(ours, noisy), OURS_SEED, mode_of)
    assert sum(counts.values()) == SHOTS
    assert_same_distribution(counts, sample(aer, circuit_for(aer, noisy), AER_SEED, mode_of))


def test_estimator_matches_aer(pair: tuple[BackendV2, BackendV2, bool], mode_of: Any) -> None:
    """Each value's standard error is at most PRECISION (a Pauli's variance is at most 1,
    over at least 1 / PRECISION**2 shots), so two independent estimates differ by a
    standard deviation of at most sqrt(2) * PRECISION; noiseless, each is also within
    PRECISION (one standard error) of the exact value."""
    ours, aer, noisy = pair
    evs = estimate(ours, circuit_for(ours, noisy), OURS_SEED, mode_of)
    reference = estimate(aer, circuit_for(aer, noisy), AER_SEED, mode_of)
    assert evs.shape == (len(PAULIS),)
    if noisy:
        assert_within(evs, reference, np.sqrt(2) * PRECISION)
    else:
        exact = [
            Statevector(logical_circuit()).expectation_value(SparsePauliOp(p)).real for p in PAULIS
        ]
        assert_within(
            np.concatenate([evs, evs]),
            np.concatenate([reference, exact]),
            np.repeat([np.sqrt(2) * PRECISION, PRECISION], len(PAULIS)),
        )


def test_a_seed_given_to_local_mode_reaches_the_simulator(
    noisy_simulator: BackendV2, noisy_aer: BackendV2
) -> None:
    """Local mode's ``simulator.seed_simulator`` becomes our ``seed_simulator``: the same
    seed gives the same counts, and they still agree with Aer's."""
    circuit = circuit_for(noisy_simulator, noisy=True)
    first, again = (sample(noisy_simulator, circuit, 42, nullcontext) for _ in range(2))
    assert first == again
    reference = sample(noisy_aer, circuit_for(noisy_aer, noisy=True), AER_SEED, nullcontext)
    assert_same_distribution(first, reference)
