"""Backends for the conformance suite, shared by its modules: the noiseless simulator, the
simulator imitating each fake device of :data:`.strategies.DEVICES` (their noise and
targets), and one built from a device's noise model alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from qiskit_aer.noise import NoiseModel

from qiskit_divi.simulator.backend import ParallelSimulatorBackend

from .strategies import DEVICES, fake_device


@pytest.fixture(scope="package")
def ideal() -> Iterator[ParallelSimulatorBackend]:
    backend = ParallelSimulatorBackend(n_processes=2)
    yield backend
    backend.close()


@pytest.fixture(scope="package")
def devices() -> Iterator[dict[str, ParallelSimulatorBackend]]:
    """A noisy simulator per fake device, by the device's class name."""
    backends = {
        name: ParallelSimulatorBackend(qiskit_backend=fake_device(name), n_processes=2)
        for name in DEVICES
    }
    yield backends
    for backend in backends.values():
        backend.close()


@pytest.fixture(scope="package")
def manila_noise() -> NoiseModel:
    return NoiseModel.from_backend(fake_device("FakeManilaV2"))


@pytest.fixture(scope="package")
def noise_model_backend(manila_noise: NoiseModel) -> Iterator[ParallelSimulatorBackend]:
    """A simulator given FakeManilaV2's noise model, and no device."""
    backend = ParallelSimulatorBackend(noise_model=manila_noise, n_processes=2)
    yield backend
    backend.close()
