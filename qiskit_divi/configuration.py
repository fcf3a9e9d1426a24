"""The ``backend.configuration()`` record that libraries of the BackendV1 era still read.

Qiskit Aer and IBM's fake backends keep offering it beside their ``Target``, and
libraries such as mthree ask every backend for it (width, shot limit, whether it
simulates, circuits per job). Ours derive it from the backend, so the ``Target``
stays the one source of truth.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from qiskit.providers import BackendV2

#: ``max_experiments`` of a backend whose jobs take any number of circuits.
UNLIMITED = sys.maxsize


@dataclass(frozen=True)
class BackendConfiguration:
    """A backend as BackendV1-era code reads it."""

    backend_name: str
    backend_version: str
    n_qubits: int
    basis_gates: list[str]
    coupling_map: list[list[int]] | None
    simulator: bool
    local: bool
    conditional: bool
    memory: bool
    max_shots: int | None
    """``None``: no limit."""
    max_experiments: int
    """Circuits one job takes (:data:`UNLIMITED` when there is no limit)."""

    @property
    def num_qubits(self) -> int:
        """The backend's width (the legacy record's other name for ``n_qubits``)."""
        return self.n_qubits


def configuration_of(backend: BackendV2, *, simulator: bool, local: bool) -> BackendConfiguration:
    """``backend``'s configuration record, read from its target and limits."""
    target = backend.target
    coupling = target.build_coupling_map()
    return BackendConfiguration(
        backend_name=backend.name,
        backend_version=str(backend.backend_version),
        n_qubits=backend.num_qubits,
        basis_gates=sorted(target.operation_names),
        coupling_map=None if coupling is None else [list(edge) for edge in coupling.get_edges()],
        simulator=simulator,
        local=local,
        conditional=True,
        memory=True,
        max_shots=None,
        max_experiments=backend.max_circuits or UNLIMITED,
    )
