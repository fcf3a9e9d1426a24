"""PUBs in, work out: what the primitives hand to a backend's execution interface.

A primitive's ``mode`` is a :class:`ParallelSimulatorBackend` or a :class:`QoroBackend`;
both offer the same :class:`~qiskit_divi.execution.Execution`, so a PUB becomes the same
work item on either (its circuit, its parameter sets as rows, its shots or observables).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp

from ..exceptions import InvalidInputError, InvalidTypeError
from ..execution import EstimateWork, SampleWork, precision_shots
from ..options import options_of
from ..qoro.backend import QoroBackend
from ..qoro.execution import SubmissionPlan
from ..simulator.backend import ParallelSimulatorBackend
from ..simulator.execution import SimulationPlan
from . import records

Mode = ParallelSimulatorBackend | QoroBackend
#: What a primitive's dry run returns: its backend's plan.
Plan = SimulationPlan | SubmissionPlan
OptionsT = TypeVar("OptionsT")
PubT = TypeVar("PubT", SamplerPub, EstimatorPub)


def check_mode(mode: object, primitive: str) -> Mode:
    """``mode`` if a primitive can run on it, else an error saying what can."""
    if not isinstance(mode, (ParallelSimulatorBackend, QoroBackend)):
        raise InvalidTypeError(
            f"{primitive} runs on a ParallelSimulatorBackend or a QoroBackend, "
            f"got {type(mode).__name__}; use DiviProvider().get_backend(...)"
        )
    return mode


class OnBackend(Generic[OptionsT, PubT]):
    """What both primitives are: options of their own, a backend to run on, and their
    PUBs' layouts kept in the job journal under the primitive's kind.

    Args:
        mode: the backend, a ParallelSimulatorBackend or a QoroBackend.
        options: the primitive's options (a dataclass with a ``seed``), or a dict of them.
    """

    _options_type: type[OptionsT]
    #: The primitive's kind in the journal, and the stand-in PUBs of its kept layouts.
    _kind: str
    _stand_ins: Callable[[list[dict[str, Any]]], list[PubT]]

    def __init__(
        self, mode: object, *, options: OptionsT | Mapping[str, Any] | None = None
    ) -> None:
        self._backend = check_mode(mode, type(self).__name__)
        self._options = options_of(self._options_type, options, type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self._backend.name!r}, options={self._options})"

    @property
    def backend(self) -> Mode:
        """The backend this primitive runs on."""
        return self._backend

    @property
    def options(self) -> OptionsT:
        """The primitive's options."""
        return self._options

    @abstractmethod
    def _coerced(self, pubs: Iterable[Any], setting: Any) -> list[PubT]:
        """``pubs`` as PUBs, ``setting`` (shots or precision) the default of each."""

    def _kept(self, job_ids: str, pubs: Sequence[PubT]) -> None:
        """On a QoroBackend, record the layout of ``pubs`` with their jobs in the journal,
        so :meth:`retrieve_job` can do without them (:mod:`.records`)."""
        if isinstance(self._backend, QoroBackend):
            records.keep(self._backend.client.api_url, job_ids.split(","), self._kind, pubs)

    def _retrieved(
        self, job_id: str | Sequence[str], pubs: Iterable[Any] | None, setting: Any
    ) -> tuple[str, list[PubT]]:
        """A lost run's job ids, joined, and its PUBs: ``pubs`` coerced as :meth:`run`
        does, else stand-ins of the layouts the journal keeps for the jobs.

        Raises:
            InvalidInputError: not a QoroBackend, or no ``pubs`` and the journal has none.
        """
        ids = job_id if isinstance(job_id, str) else ",".join(job_id)
        if pubs is not None:
            return ids, self._coerced(pubs, setting)
        if not isinstance(self._backend, QoroBackend):
            raise InvalidInputError(
                "only jobs of a QoroBackend can be retrieved; simulator jobs live in this process"
            )
        layouts = records.recorded(self._backend.client.api_url, ids.split(",")[0], self._kind)
        return ids, self._stand_ins(layouts)

    def _seed(self) -> int | None:
        """The primitive's seed, else its backend's ``seed_simulator`` (one idea, the name
        each face's peers use)."""
        own: int | None = getattr(self._options, "seed", None)
        return self._backend.options.seed_simulator if own is None else own


def parameter_rows(pub: SamplerPub | EstimatorPub) -> np.ndarray:
    """The PUB's parameter sets as rows (C order), a column per ``circuit.parameters``."""
    values = pub.parameter_values
    return values.as_array(pub.circuit.parameters).reshape(values.size, pub.circuit.num_parameters)


def sample_work(pubs: Sequence[SamplerPub]) -> list[SampleWork]:
    """One item per PUB: its circuit, shots and parameter sets."""
    return [SampleWork(pub.circuit, pub.shots, parameter_rows(pub)) for pub in pubs]


def estimate_work(pubs: Sequence[EstimatorPub]) -> list[EstimateWork]:
    """One item per PUB: its circuit, its observables (flattened in C order) as operators,
    its parameter sets and the shots its precision needs."""
    return [
        EstimateWork(
            pub.circuit, _operators(pub), parameter_rows(pub), precision_shots(pub.precision)
        )
        for pub in pubs
    ]


def _operators(pub: EstimatorPub) -> list[SparsePauliOp]:
    width = pub.circuit.num_qubits
    return [
        SparsePauliOp.from_list(list(observable.items()), num_qubits=width)
        for observable in np.asarray(pub.observables).ravel()
    ]
