"""What the primitives need of the two backends they run on.

A primitive's ``mode`` is a :class:`ParallelSimulatorBackend` (work goes to its engine)
or a :class:`QoroBackend` (work goes to the service as Qoro jobs, one per group of
circuits the wire can carry together). Both start from the same bound circuits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from ..circuits import to_qasm
from ..exceptions import CircuitTooWideError, InvalidInputError, InvalidTypeError
from ..qoro.backend import QoroBackend
from ..qoro.protocol import JobType
from ..simulator.backend import ParallelSimulatorBackend

Mode = ParallelSimulatorBackend | QoroBackend
K = TypeVar("K", bound=Hashable)


def check_mode(mode: object, primitive: str) -> Mode:
    """``mode`` if a primitive can run on it, else a ``TypeError`` saying what can."""
    if not isinstance(mode, (ParallelSimulatorBackend, QoroBackend)):
        raise InvalidTypeError(
            f"{primitive} runs on a ParallelSimulatorBackend or a QoroBackend, "
            f"got {type(mode).__name__}; use DiviProvider().get_backend(...)"
        )
    return mode


def parameter_rows(pub: SamplerPub | EstimatorPub) -> np.ndarray:
    """The PUB's parameter sets as rows (C order), a column per ``circuit.parameters``:
    what the engine binds inside Aer."""
    values = pub.parameter_values
    return values.as_array(pub.circuit.parameters).reshape(values.size, pub.circuit.num_parameters)


def bound_circuits(circuit: QuantumCircuit, values: BindingsArray) -> list[QuantumCircuit]:
    """``circuit`` bound to every parameter set of ``values``, in C (row-major) order;
    Qoro needs them as OpenQASM."""
    if not circuit.parameters:
        return [circuit] * values.size
    return list(np.ravel(values.bind_all(circuit)))


def qoro_mode(mode: Mode) -> QoroBackend:
    """``mode`` when it is a QoroBackend: only Qoro jobs outlive the process that ran them."""
    if not isinstance(mode, QoroBackend):
        raise InvalidInputError(
            "only jobs of a QoroBackend can be retrieved; simulator jobs live in this process"
        )
    return mode


def grouped(keys: Sequence[K]) -> dict[K, list[int]]:
    """Indices of ``keys`` by value, in order of first appearance: PUBs that can share
    one batch or one Qoro job (same shots, same width, ...)."""
    groups: dict[K, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        groups[key].append(index)
    return dict(groups)


def batch_seed(seed: int | None, position: int) -> int | None:
    """The seed of a run's ``position``-th engine batch: the primitive's own for the first,
    so a single batch samples exactly as Aer would; seeds drawn from it for the rest."""
    if seed is None or position == 0:
        return seed
    return int(np.random.SeedSequence([seed, position]).generate_state(1)[0])


@dataclass(frozen=True)
class QoroGroup:
    """Circuits that travel as one Qoro job, with what that job is asked to do.

    ``labels`` key the circuits on the wire and their results; ``observables`` are the
    job's Pauli terms as the wire wants them (big-endian) for an ESTIMATE job;
    ``shots`` is required for sampling jobs.
    """

    circuits: list[QuantumCircuit]
    labels: list[str]
    job_type: JobType
    shots: int | None = None
    observables: tuple[str, ...] | None = None


def pub_circuits(
    pubs: Sequence[SamplerPub | EstimatorPub], indices: Iterable[int]
) -> tuple[list[QuantumCircuit], list[str]]:
    """The bound circuits of the PUBs at ``indices``, with a label for each.

    A label says where its circuit sits in the job, which PUB and which parameter set
    it comes from (``"4_pub1_2"``): never a circuit's name, which Qiskit may have made
    up in another process, so the same PUBs give the same labels anywhere.
    """
    circuits: list[QuantumCircuit] = []
    labels: list[str] = []
    for p in indices:
        for flat, circuit in enumerate(bound_circuits(pubs[p].circuit, pubs[p].parameter_values)):
            labels.append(f"{len(circuits)}_pub{p}_{flat}")
            circuits.append(circuit)
    return circuits, labels


def submit_groups(backend: QoroBackend, groups: Sequence[QoroGroup]) -> list[str]:
    """Send each group as one Qoro job and return the job ids, in group order.

    Every circuit of every group is checked and exported before the first request, so
    bad input sends nothing.

    Raises:
        CircuitTooWideError: a circuit is wider than the backend's system.
        InvalidCircuitError: a circuit cannot be written as OpenQASM 2.
    """
    exported = [_exported(backend, group) for group in groups]
    tag = backend.options.tag
    return [
        backend.client.submit_job(
            circuits,
            job_type=group.job_type,
            shots=group.shots,
            tag=tag,
            system_name=backend.name,
            observables=None if group.observables is None else ";".join(group.observables),
        )
        for group, circuits in zip(groups, exported, strict=True)
    ]


def _exported(backend: QoroBackend, group: QoroGroup) -> dict[str, str]:
    if not group.circuits:
        raise InvalidInputError("a Qoro job needs at least one circuit")
    exported = {}
    for label, circuit in zip(group.labels, group.circuits, strict=True):
        if circuit.num_qubits > backend.num_qubits:
            raise CircuitTooWideError(
                label,
                f"{circuit.num_qubits} qubits, but {backend.name!r} has {backend.num_qubits}",
            )
        exported[label] = to_qasm(label, circuit)
    return exported
