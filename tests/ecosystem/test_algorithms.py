"""qiskit-algorithms' VQE and QAOA on our primitives retrace their runs on Aer's.

The same optimiser from the same initial point sees the same energies when the
primitive gives Aer's numbers: exact estimates to rounding, so VQE's whole trajectory,
and hence its result, is Aer's; a seeded sampler draws, batch by batch, the very shots
Aer's draws (a single engine batch is seeded as Aer seeds one run), so QAOA's is too.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from qiskit_aer.primitives import SamplerV2 as AerSampler
from qiskit_algorithms import QAOA, VQE, NumPyMinimumEigensolver
from qiskit_algorithms.minimum_eigensolvers import MinimumEigensolverResult
from qiskit_algorithms.optimizers import COBYLA
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import EstimatorV2, ParallelSimulatorBackend, SamplerV2

#: H2 at 0.735 Å, two qubits after parity mapping and tapering (Hartree).
H2 = SparsePauliOp.from_list(
    [("II", -1.052373), ("IZ", 0.397937), ("ZI", -0.397937), ("ZZ", -0.011280), ("XX", 0.180931)]
)
ANSATZ = real_amplitudes(2, reps=1)
INITIAL_POINT = np.linspace(0.1, 0.4, ANSATZ.num_parameters)
#: Exact estimates agree to rounding (~1e-12); this leaves room for an optimiser's
#: few dozen steps to amplify it.
EXACT = 1e-6


def assert_same_run(ours: MinimumEigensolverResult, aer: MinimumEigensolverResult) -> None:
    assert ours.cost_function_evals == aer.cost_function_evals
    np.testing.assert_allclose(ours.optimal_point, aer.optimal_point, atol=EXACT)
    assert ours.eigenvalue.real == pytest.approx(aer.eigenvalue.real, abs=EXACT)


@pytest.mark.parametrize("transpiled", [False, True], ids=["logical", "manila_isa"])
def test_vqe_on_the_exact_estimator(simulator: ParallelSimulatorBackend, transpiled: bool) -> None:
    """With ``transpiler=`` VQE runs ISA circuits of FakeManilaV2 (5 qubits, a layout)
    and applies that layout to the Hamiltonian itself; the noiseless simulator must
    estimate them as Aer does, and both reach the exact ground energy."""
    transpiler = (
        generate_preset_pass_manager(
            optimization_level=1, backend=FakeManilaV2(), seed_transpiler=7
        )
        if transpiled
        else None
    )

    def solve(estimator: object) -> MinimumEigensolverResult:
        vqe = VQE(
            estimator,
            ANSATZ,
            COBYLA(maxiter=80),
            initial_point=INITIAL_POINT,
            transpiler=transpiler,
        )
        return vqe.compute_minimum_eigenvalue(H2)

    ours = solve(EstimatorV2(simulator))
    assert_same_run(ours, solve(AerEstimator()))
    ground = NumPyMinimumEigensolver().compute_minimum_eigenvalue(H2).eigenvalue.real
    assert ours.eigenvalue.real == pytest.approx(ground, abs=1e-5)


@pytest.mark.slow
def test_vqe_on_the_noisy_exact_estimator(
    noisy_simulator: ParallelSimulatorBackend, fake_manila: FakeManilaV2
) -> None:
    """Exact estimates under FakeManilaV2's gate noise (no readout: nothing is measured)
    are Aer's, whose estimator is given the same device's noise model."""
    transpiler = generate_preset_pass_manager(
        optimization_level=1, backend=fake_manila, seed_transpiler=7
    )
    aer = AerEstimator(
        options={"backend_options": {"noise_model": NoiseModel.from_backend(fake_manila)}}
    )

    def solve(estimator: object) -> MinimumEigensolverResult:
        vqe = VQE(
            estimator,
            ANSATZ,
            COBYLA(maxiter=25),
            initial_point=INITIAL_POINT,
            transpiler=transpiler,
        )
        return vqe.compute_minimum_eigenvalue(H2)

    assert_same_run(solve(EstimatorV2(noisy_simulator)), solve(aer))


# QAOA builds its ansatz with Qiskit's deprecated QAOAAnsatz class.
@pytest.mark.filterwarnings("ignore:The class ``qiskit.circuit.library:DeprecationWarning")
def test_qaoa_on_the_seeded_sampler(simulator: ParallelSimulatorBackend) -> None:
    """MaxCut of a square with one diagonal: both runs find the same cut, one of the
    two best ones (value -1.5), along the same trajectory."""
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)]
    cost = SparsePauliOp.from_sparse_list([("ZZ", list(edge), 0.5) for edge in edges], 4)
    transpiler = generate_preset_pass_manager(
        optimization_level=1, basis_gates=["rz", "sx", "x", "cx"], seed_transpiler=3
    )
    seed, shots = 17, 1000

    def solve(sampler: object) -> MinimumEigensolverResult:
        qaoa = QAOA(
            sampler, COBYLA(maxiter=30), reps=1, initial_point=[0.5, 0.5], transpiler=transpiler
        )
        return qaoa.compute_minimum_eigenvalue(cost)

    ours = solve(SamplerV2(simulator, options={"seed": seed, "default_shots": shots}))
    aer = solve(AerSampler(seed=seed, default_shots=shots))
    assert_same_run(ours, aer)
    assert ours.best_measurement["bitstring"] == aer.best_measurement["bitstring"]
    assert ours.best_measurement["bitstring"] in {"0101", "1010"}
    assert ours.best_measurement["value"].real == pytest.approx(-1.5)
