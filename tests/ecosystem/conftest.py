"""Our backends and their Aer twins, shared by every client's tests.

Each backend of ours has an Aer counterpart that the same script runs on: the ideal
simulator and ``AerSimulator()``, the FakeManilaV2-noisy simulator (and the local
server's FakeManilaV2 "QPU", ``qpu``) and ``AerSimulator.from_backend(FakeManilaV2())``.
The simulators live for the whole session so their warm pools serve every module; the
local server and its backends (``qoro``, ``qpu``) come from the repository's
``conftest.py``, seeded here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi.simulator.backend import ParallelSimulatorBackend

#: Seeds the local server's sampling, so Qoro results are reproducible too.
SERVER_SEED = 2024


@pytest.fixture(scope="session")
def fake_manila() -> FakeManilaV2:
    """The device the noisy backends imitate (its properties are the reference values)."""
    return FakeManilaV2()


@pytest.fixture(scope="session")
def simulator() -> Iterator[ParallelSimulatorBackend]:
    backend = ParallelSimulatorBackend(n_processes=2)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def noisy_simulator(fake_manila: FakeManilaV2) -> Iterator[ParallelSimulatorBackend]:
    backend = ParallelSimulatorBackend(qiskit_backend=fake_manila, n_processes=2)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def aer() -> AerSimulator:
    return AerSimulator()


@pytest.fixture(scope="session")
def noisy_aer(fake_manila: FakeManilaV2) -> AerSimulator:
    return AerSimulator.from_backend(fake_manila)


@pytest.fixture(scope="session")
def server_settings() -> dict[str, Any]:
    return {"seed": SERVER_SEED}
