"""mthree's readout mitigation calibrated on our noisy simulator, as on Aer.

``M3Mitigation(backend)`` reads the backend's description (``backend.configuration()``:
width, shot limit, whether it simulates), then ``cals_from_system`` runs its calibration
circuits through ``backend.run`` with ``rep_delay`` and ``job_tags`` (which ours ignore,
saying so with a ``DiviWarning``). The same script
runs on ``ParallelSimulatorBackend(qiskit_backend=FakeManilaV2())`` and on
``AerSimulator.from_backend(FakeManilaV2())``, with independent seeds.
"""

from __future__ import annotations

import copy

import mthree
import numpy as np
import pytest
from mthree.utils import final_measurement_mapping
from qiskit import transpile
from qiskit.providers import BackendV2
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi import ParallelSimulatorBackend
from qiskit_divi.exceptions import DiviWarning

from .stats import assert_same_distribution, assert_within
from simulator.circuits import ghz

QUBITS = [0, 1, 2]
CAL_SHOTS, SHOTS = 20_000, 2000
OPERATORS = ["IZZ", "ZZI"]

pytestmark = pytest.mark.filterwarnings(
    "ignore:Treating CircuitInstruction as an iterable:DeprecationWarning"
)


def mitigate(backend: BackendV2) -> tuple[np.ndarray, dict[str, int], np.ndarray, np.ndarray]:
    """Calibration matrices, raw GHZ counts, and the mitigated OPERATORS' values with
    their standard deviations (mthree's, from the shots and the mitigation's overhead)."""
    mitigation = mthree.M3Mitigation(backend)
    mitigation.cals_from_system(QUBITS, shots=CAL_SHOTS, method="independent", async_cal=False)
    isa = transpile(ghz(3), backend, initial_layout=QUBITS, seed_transpiler=1)
    counts = backend.run(isa, shots=SHOTS).result().get_counts()
    quasis = mitigation.apply_correction(
        counts, final_measurement_mapping(isa), return_mitigation_overhead=True
    )
    values = np.array([quasis.expval(op) for op in OPERATORS])
    sigmas = np.full(len(OPERATORS), quasis.stddev())
    cals = np.array([mitigation.single_qubit_cals[q] for q in QUBITS])
    return cals, counts, values, sigmas


def test_calibration_and_mitigation(
    noisy_simulator: ParallelSimulatorBackend, fake_manila: FakeManilaV2
) -> None:
    """Calibration: each qubit's ``A[measured, prepared]`` agrees with Aer's and with the
    device's readout error ``e`` as in the LocalReadoutError test (an entry from n shots
    has standard deviation sqrt(e (1 - e) / n)). Raw counts agree in distribution.
    Mitigated values agree within their combined standard deviations, each the shots'
    (mthree's) and the calibration's: a parity over qubits S is the raw one divided by
    prod(1 - 2 e_i), so estimated error rates move it by a relative standard deviation
    of sqrt(sum over S of 2 e_i (1 - e_i) / (n_cal (1 - 2 e_i)**2))."""
    ours = copy.deepcopy(noisy_simulator)
    ours.set_options(seed_simulator=81)
    with pytest.warns(DiviWarning, match="job_tags"):  # a label no simulator keeps
        cals, counts, values, sigmas = mitigate(ours)
    aer_cals, aer_counts, aer_values, aer_sigmas = mitigate(
        AerSimulator.from_backend(fake_manila, seed_simulator=82)
    )

    errors = np.array([fake_manila.target["measure"][(q,)].error for q in QUBITS])
    preparation = np.array([fake_manila.target["x"][(q,)].error for q in QUBITS])
    sigma = np.sqrt(errors * (1 - errors) / CAL_SHOTS)
    assert_within(cals, aer_cals, np.sqrt(2) * sigma[:, None, None])
    assert_within(cals[:, 1, 0], errors, sigma)
    assert_within(cals[:, 0, 1], errors + preparation / 2, sigma, allowance=preparation / 2)

    assert_same_distribution(counts, aer_counts)

    relative = 2 * errors * (1 - errors) / (CAL_SHOTS * (1 - 2 * errors) ** 2)
    acts_on = np.array([[p == "Z" for p in reversed(op)] for op in OPERATORS])  # [op, qubit]
    calibration = np.sqrt(acts_on @ relative)
    scale = np.maximum(np.abs(values), np.abs(aer_values))
    assert_within(
        values,
        aer_values,
        np.sqrt(sigmas**2 + aer_sigmas**2 + 2 * (scale * calibration) ** 2),
    )
