"""Every ParallelSimulator snippet of Divi's Backends Guide runs as written, then samples.

The guide is read where the project keeps its spec (``DIVI_BACKENDS_GUIDE`` overrides
the path); ``divi.backends`` becomes ``qiskit_divi.backends``. Snippets run in order in
one namespace, as a reader follows the page; the guide leaves ``import os`` out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import qiskit_divi.backends
from qiskit_divi.backends import ParallelSimulator

from simulator.circuits import BELL_QASM

GUIDE = Path(os.environ.get("DIVI_BACKENDS_GUIDE", "/work/shared/divi-backends-guide.rst"))
_BLOCK = re.compile(r"\.\. code-block:: python\n\n((?:[ ]{3}.*\n|\n)+)")


def _parallel_simulator_snippets() -> list[str]:
    if not GUIDE.exists():
        pytest.skip(f"Divi's Backends Guide is not at {GUIDE}")
    blocks = [
        "\n".join(line[3:] for line in match.group(1).splitlines())
        for match in _BLOCK.finditer(GUIDE.read_text())
    ]
    # Blocks that also use QoroService belong to the Qoro client's tests.
    return [
        block.replace("divi.backends", "qiskit_divi.backends")
        for block in blocks
        if "ParallelSimulator(" in block and "QoroService" not in block
    ]


def test_the_guide_has_the_three_parallel_simulator_snippets():
    assert len(_parallel_simulator_snippets()) == 3


@pytest.mark.slow
def test_each_snippet_runs_and_every_simulator_it_makes_samples(monkeypatch):
    made: list[ParallelSimulator] = []

    class Recorded(ParallelSimulator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(qiskit_divi.backends, "ParallelSimulator", Recorded)
    namespace: dict[str, object] = {"os": os}
    for snippet in _parallel_simulator_snippets():
        exec(compile(snippet, str(GUIDE), "exec"), namespace)

    assert len(made) == 6  # basic, configured, high-performance, noisy, speed, accuracy
    for simulator in made:
        [entry] = simulator.submit_circuits({"bell": BELL_QASM})
        assert entry["label"] == "bell"
        assert sum(entry["results"].values()) == simulator.shots
        assert {"00", "11"} <= set(entry["results"])
