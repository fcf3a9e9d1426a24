"""Engines and circuit batches shared by the simulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import QuantumCircuit

from qiskit_divi.simulator import SimulationEngine

from .circuits import qaoa


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[int, SimulationEngine]]:
    """Noiseless engines by process count, warm pools shared across a module's tests."""
    pool = {n: SimulationEngine(n_processes=n) for n in (1, 2, 4)}
    for engine in pool.values():
        engine.warm_up()  # else a first batch runs unsplit while the workers start
    yield pool
    for engine in pool.values():
        engine.close()


@pytest.fixture(scope="module")
def qaoa_batch() -> list[QuantumCircuit]:
    """Enough 6-qubit circuits that multi-process engines do use their pool."""
    rng = np.random.default_rng(7)
    return [qaoa(6, rng) for _ in range(60)]
