"""qiskit-experiments' characterisation experiments on our noisy simulator, as on Aer.

``exp.run(backend)`` takes qiskit-ibm-runtime's local-mode ``SamplerV2`` on the backend
(a deep copy of it), with the experiment's run options (``meas_level``, ``meas_return``,
``shots``, ``seed_simulator``). Each experiment runs on
``ParallelSimulatorBackend(qiskit_backend=FakeManilaV2())`` and on
``AerSimulator.from_backend(FakeManilaV2())`` with independent seeds: the raw counts of
every circuit must agree in distribution, and the fitted values must agree with each
other and with the fake device's own properties.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.providers import BackendV2
from qiskit_experiments.framework import BaseExperiment, ExperimentData, ExperimentStatus
from qiskit_experiments.library import T1, LocalReadoutError, StandardRB
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from .stats import assert_same_distributions, assert_within

pytestmark = pytest.mark.filterwarnings(
    "ignore:The SamplerV2 class is deprecated:DeprecationWarning"
)

OURS_SEED, AER_SEED = 21, 22
#: The brief's bound for a fitted value against a reference: 3 standard errors.
FIT_SIGMAS = 3.0


def run(experiment: BaseExperiment, backend: BackendV2, seed: int) -> ExperimentData:
    """``experiment`` run and analysed on ``backend`` as qiskit-experiments users do."""
    data = experiment.run(backend, seed_simulator=seed).block_for_results(timeout=300)
    assert data.status() is ExperimentStatus.DONE, data.errors()
    return data


def run_twice(
    experiment: BaseExperiment, ours: BackendV2, aer: BackendV2
) -> tuple[ExperimentData, ExperimentData]:
    """The experiment on both backends; their circuits' counts agree in distribution."""
    data, reference = run(experiment, ours, OURS_SEED), run(experiment, aer, AER_SEED)
    assert [d["metadata"] for d in data.data()] == [d["metadata"] for d in reference.data()]
    assert_same_distributions(
        [d["counts"] for d in data.data()], [d["counts"] for d in reference.data()]
    )
    return data, reference


def fitted(data: ExperimentData, name: str) -> tuple[float, float]:
    """A fitted value and its standard error."""
    value = data.analysis_results(name, dataframe=True).iloc[0].value
    return float(value.nominal_value), float(value.std_dev)


def assert_fits_agree(ours: tuple[float, float], reference: tuple[float, float]) -> None:
    """Two independent fits within FIT_SIGMAS of their combined standard error."""
    (value, sigma), (other, other_sigma) = ours, reference
    assert abs(value - other) <= FIT_SIGMAS * np.hypot(sigma, other_sigma), (ours, reference)


@pytest.mark.slow
def test_t1(noisy_simulator: BackendV2, noisy_aer: BackendV2, fake_manila: FakeManilaV2) -> None:
    """Delays up to 4 T1 (in the device's ``dt``, so through its target): the fitted T1
    is the one the noise model relaxes with, the device's, and Aer's fit."""
    qubit = 0
    device_t1 = fake_manila.target.qubit_properties[qubit].t1
    experiment = T1((qubit,), delays=np.linspace(0, 4 * device_t1, 12))
    experiment.set_run_options(shots=400)
    data, reference = run_twice(experiment, noisy_simulator, noisy_aer)

    t1, sigma = fitted(data, "T1")
    assert abs(t1 - device_t1) <= FIT_SIGMAS * sigma, (t1, sigma, device_t1)
    assert_fits_agree((t1, sigma), fitted(reference, "T1"))


@pytest.mark.slow
def test_standard_rb(noisy_simulator: BackendV2, noisy_aer: BackendV2) -> None:
    """One qubit's Clifford sequences (the same ones: the experiment is seeded) decay
    alike, and the errors per Clifford agree within the fits' uncertainties."""
    experiment = StandardRB((2,), lengths=[1, 50, 150, 300, 600, 1000], num_samples=4, seed=5)
    experiment.set_run_options(shots=300)
    data, reference = run_twice(experiment, noisy_simulator, noisy_aer)

    epc, sigma = fitted(data, "EPC")
    assert 0 < sigma < epc  # a decay was seen and fitted
    assert_fits_agree((epc, sigma), fitted(reference, "EPC"))


def test_local_readout_error(
    noisy_simulator: BackendV2, noisy_aer: BackendV2, fake_manila: FakeManilaV2
) -> None:
    """Each qubit's assignment matrix ``A[measured, prepared]`` agrees with Aer's and with
    the fake device's readout error ``e``, which Aer's model applies symmetrically:
    ``A[1, 0] = e``; ``A[0, 1] = e`` plus at most the error of the ``x`` preparing |1>.
    An entry estimated from ``n`` shots has standard deviation ``sqrt(p (1 - p) / n)``;
    two independent estimates differ by ``sqrt(2)`` times that."""
    qubits, shots = [0, 1, 2], 2000
    experiment = LocalReadoutError(qubits)
    experiment.set_run_options(shots=shots)
    data, reference = run_twice(experiment, noisy_simulator, noisy_aer)

    def matrices(found: ExperimentData) -> np.ndarray:
        mitigator = found.analysis_results("Local Readout Mitigator", dataframe=True).iloc[0]
        return np.array([mitigator.value.assignment_matrix(q) for q in qubits])

    ours, aer = matrices(data), matrices(reference)
    errors = np.array([fake_manila.target["measure"][(q,)].error for q in qubits])
    preparation = np.array([fake_manila.target["x"][(q,)].error for q in qubits])
    sigma = np.sqrt(errors * (1 - errors) / shots)
    assert_within(ours, aer, np.sqrt(2) * sigma[:, None, None])
    assert_within(ours[:, 1, 0], errors, sigma)
    assert_within(ours[:, 0, 1], errors + preparation / 2, sigma, allowance=preparation / 2)
