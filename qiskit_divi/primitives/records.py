"""What a primitive's Qoro job needs to be read again without its PUBs, kept in the journal.

A Qoro job holds circuits' results by label; the PUBs say how they become a
``PrimitiveResult``. Of each PUB only its layout matters to that: the shape of its
parameter values, its shots (or precision), the classical registers of its circuit, its
observables' Pauli terms and coefficients, and its circuit's metadata. At submission a
primitive records that layout beside its jobs in the journal (:mod:`qiskit_divi.journal`);
:meth:`SamplerV2.retrieve_job` and :meth:`EstimatorV2.retrieve_job` then rebuild stand-in
PUBs from it: circuits with the same qubits and registers but no gates, bound to nothing,
which split into the same Qoro jobs and read the results the same way.

Circuit metadata is kept when JSON can hold it, else left out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import Clbit
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPub

from ..exceptions import InvalidInputError
from ..journal import Journal, annotate_submission

SAMPLER = "sampler"
ESTIMATOR = "estimator"


def record(kind: str, pubs: Sequence[SamplerPub] | Sequence[EstimatorPub]) -> dict[str, Any]:
    """The layout of ``pubs`` (of a ``kind`` primitive) as JSON data."""
    layouts = []
    for pub in pubs:
        circuit = pub.circuit
        layout: dict[str, Any] = {
            "num_qubits": circuit.num_qubits,
            "registers": [
                [creg.name, [circuit.find_bit(bit).index for bit in creg]]
                for creg in circuit.cregs
            ],
            "num_clbits": circuit.num_clbits,
            "shape": list(pub.parameter_values.shape),
            "metadata": _jsonable(circuit.metadata),
        }
        if isinstance(pub, SamplerPub):
            layout["shots"] = pub.shots
        else:
            layout["observables"] = pub.observables.tolist()
            layout["precision"] = pub.precision
        layouts.append(layout)
    return {"primitive": kind, "pubs": layouts}


def keep(api_url: str, job_ids: list[str], kind: str, pubs: Sequence[Any]) -> None:
    """Record the layout of ``pubs`` with their jobs in the journal (a warning if it
    cannot be written)."""
    annotate_submission(api_url, job_ids, record(kind, pubs))


def recorded(api_url: str, job_id: str, kind: str) -> list[dict[str, Any]]:
    """The PUB layouts the journal holds for ``job_id`` (the first of a run's ids).

    Raises:
        InvalidInputError: the journal holds none for it from a ``kind`` primitive.
    """
    entry = Journal().entry(api_url, job_id)
    data = None if entry is None else entry.primitive
    if data is None or data.get("primitive") != kind:
        raise InvalidInputError(
            f"the job journal holds no {kind} PUBs for job {job_id} at {api_url} (it was "
            "submitted elsewhere, or not by a primitive): pass the PUBs to retrieve_job"
        )
    pubs: list[dict[str, Any]] = data["pubs"]
    return pubs


def sampler_pubs(layouts: list[dict[str, Any]]) -> list[SamplerPub]:
    """Stand-in sampler PUBs with the recorded layouts."""
    return [
        SamplerPub(_circuit(layout), _bindings(layout), int(layout["shots"])) for layout in layouts
    ]


def estimator_pubs(layouts: list[dict[str, Any]]) -> list[EstimatorPub]:
    """Stand-in estimator PUBs with the recorded layouts."""
    return [
        EstimatorPub(
            _circuit(layout),
            ObservablesArray(layout["observables"]),
            _bindings(layout),
            float(layout["precision"]),
        )
        for layout in layouts
    ]


def _circuit(layout: dict[str, Any]) -> QuantumCircuit:
    """A circuit with the recorded qubits, classical bits, registers and metadata."""
    clbits = [Clbit() for _ in range(layout["num_clbits"])]
    circuit = QuantumCircuit(layout["num_qubits"])
    circuit.add_bits(clbits)
    for name, indices in layout["registers"]:
        circuit.add_register(ClassicalRegister(name=name, bits=[clbits[i] for i in indices]))
    circuit.metadata = layout["metadata"] or {}
    return circuit


def _bindings(layout: dict[str, Any]) -> BindingsArray:
    return BindingsArray(shape=tuple(layout["shape"]))


def _jsonable(metadata: dict[str, Any]) -> dict[str, Any] | None:
    try:
        json.dumps(metadata)
    except (TypeError, ValueError):
        return None
    return metadata
