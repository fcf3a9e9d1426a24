"""The README's main job, ``qiskit-divi demo``, runs end to end and its numbers make sense."""

import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_every_section_with_sensible_results():
    done = subprocess.run(
        [sys.executable, "-m", "qiskit_divi.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "200 QAOA circuits x 1000 shots" in out
    noiseless, noisy = map(
        float, re.search(r"noiseless ([\d.]+), FakeManilaV2 noise ([\d.]+)", out).groups()
    )
    assert noiseless == 1.0
    assert 0.5 < noisy < 0.99
    assert "gave 20 histograms" in out
    assert "<ZZ> = 1.000, <XX> = 1.000, <ZI> = 0.000" in out
    assert "gives the same counts: True" in out
    assert "<ZZ + 0.5 XX> = 1.500" in out
