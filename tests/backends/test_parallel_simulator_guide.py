"""Every ParallelSimulator snippet of Divi's Backends Guide runs as written, then samples.

The snippets are the guide's text with ``divi.backends`` read as ``qiskit_divi.backends``.
They run in order in one namespace, as a reader follows the page; the guide leaves
``import os`` out.
"""

from __future__ import annotations

import os

import pytest

import qiskit_divi.backends
from qiskit_divi.backends import ParallelSimulator

from simulator.circuits import BELL_QASM

BASIC_USAGE = """
from qiskit_divi.backends import ParallelSimulator

# Basic simulator
backend = ParallelSimulator()

# Configured simulator
backend = ParallelSimulator(
    shots=1000,
    n_processes=4,
    qiskit_backend="qasm_simulator"
)
"""

CONFIGURATION = """
# High-performance configuration
backend = ParallelSimulator(
    shots=10000,           # Number of measurement shots
    n_processes=8,        # Number of parallel processes
    qiskit_backend="auto", # Auto-select best simulator
    seed=42               # Random seed for reproducibility
)

# Noisy simulation
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
backend = ParallelSimulator(
    shots=5000,
    qiskit_backend=FakeManilaV2(),  # Use fake backend with noise
    n_processes=2
)
"""

PERFORMANCE_TIPS = """
# Optimize for speed
backend = ParallelSimulator(
    n_processes=min(8, os.cpu_count()),  # Use available cores
    shots=1000,                          # Balance accuracy vs speed
    qiskit_backend="qasm_simulator"      # Fastest simulator
)

# Optimize for accuracy
backend = ParallelSimulator(
    shots=10000,                         # More shots for better statistics
    n_processes=2,                       # Fewer processes for stability
    qiskit_backend="statevector_simulator"  # Exact simulation
)
"""


@pytest.mark.slow
def test_each_snippet_runs_and_every_simulator_it_makes_samples(monkeypatch):
    made: list[ParallelSimulator] = []

    class Recorded(ParallelSimulator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(qiskit_divi.backends, "ParallelSimulator", Recorded)
    namespace: dict[str, object] = {"os": os}
    for name, snippet in [
        ("basic usage", BASIC_USAGE),
        ("configuration", CONFIGURATION),
        ("performance tips", PERFORMANCE_TIPS),
    ]:
        exec(compile(snippet, f"<guide: {name}>", "exec"), namespace)

    assert len(made) == 6  # basic, configured, high-performance, noisy, speed, accuracy
    for simulator in made:
        [entry] = simulator.submit_circuits({"bell": BELL_QASM})
        assert entry["label"] == "bell"
        assert sum(entry["results"].values()) == simulator.shots
        assert {"00", "11"} <= set(entry["results"])
