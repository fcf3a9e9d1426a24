"""SamplerV2: Qiskit's sampler primitive, native on the parallel simulator and on Qoro.

Each PUB is one sampling work item of the backend's execution interface (see
:mod:`qiskit_divi.execution`), asked for per-shot memory: on the simulator every
parameter set is bound inside Aer and its shots keep their order; on Qoro a histogram
has none, so its shots are laid out in an order fixed by the job id (see
:func:`qiskit_divi.qoro.rules.shot_order`). This module only turns PUBs into work and
outcomes into ``BitArray`` objects."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, overload

import numpy as np
from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers import (
    BitArray,
    DataBin,
    PrimitiveResult,
    SamplerPubLike,
    SamplerPubResult,
)
from qiskit.primitives.containers.sampler_pub import SamplerPub

from ..exceptions import DiviWarning, InvalidCircuitError
from ..execution import Sampled
from ..options import check_seed, positive_int
from ..outcomes import Outcomes, num_bytes
from . import records
from .job import DiviPrimitiveJob
from .pubs import OnBackend, Plan, sample_work


@dataclass
class Options:
    """Options for :class:`SamplerV2`."""

    default_shots: int = 1024
    """Shots per PUB when neither :meth:`~SamplerV2.run` nor the PUB says. Default: 1024."""

    seed: int | None = None
    """Makes a simulator's samples reproducible (``None``: the backend's ``seed_simulator``,
    by default a fresh seed per run). Qoro systems take no seed, so on a QoroBackend it
    must stay ``None``."""

    def __post_init__(self) -> None:
        positive_int("default_shots", self.default_shots)
        check_seed(self.seed)


class SamplerV2(OnBackend[Options, SamplerPub], BaseSamplerV2):
    """Samples circuits on a ParallelSimulatorBackend or a QoroBackend.

    Each PUB ``(circuit, parameter_values, shots)`` gives a ``BitArray`` per classical
    register, shaped like its parameter values.

    Takes the backend to run on (``mode``) and ``options``: an
    :class:`~qiskit_divi.primitives.sampler.Options` or a dict of its fields.
    """

    _options_type = Options
    _kind = records.SAMPLER
    _stand_ins = staticmethod(records.sampler_pubs)

    @overload
    def run(
        self,
        pubs: Iterable[SamplerPubLike],
        *,
        shots: int | None = ...,
        dry_run: Literal[False] = ...,
    ) -> DiviPrimitiveJob[Sampled]: ...

    @overload
    def run(
        self, pubs: Iterable[SamplerPubLike], *, shots: int | None = ..., dry_run: Literal[True]
    ) -> Plan: ...

    def run(
        self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None, dry_run: bool = False
    ) -> DiviPrimitiveJob[Sampled] | Plan:
        """Sample each PUB; every input is checked before anything runs or is sent.

        With ``dry_run``, nothing runs or is sent: the backend's plan is returned (a
        ``SimulationPlan`` or a ``SubmissionPlan``) instead of a job.

        Raises:
            ValueError: a PUB is malformed (Qiskit's own checks: parameter count,
                ``shots`` <= 0, ...).
            CircuitTooWideError: a circuit is wider than the backend.
        """
        coerced = self._coerced(pubs, shots)
        with warnings.catch_warnings():
            # A circuit that measures nothing reads all zeros here, as in Qiskit's
            # samplers, which warn (below) only when there is no register to read.
            warnings.filterwarnings("ignore", "circuit .* has no measurements", DiviWarning)
            if dry_run:
                return self._backend.execution.plan_sample(
                    sample_work(coerced), seed=self._seed(), memory=True
                )
            handle = self._backend.execution.sample(
                sample_work(coerced), seed=self._seed(), memory=True
            )
        self._kept(handle.job_id(), coerced)
        return DiviPrimitiveJob(handle, partial(_results, coerced, handle.metadata))

    def retrieve_job(
        self,
        job_id: str | Sequence[str],
        pubs: Iterable[SamplerPubLike] | None = None,
        *,
        shots: int | None = None,
    ) -> DiviPrimitiveJob[Sampled]:
        """The job :meth:`run` returned on a QoroBackend, rebuilt anywhere.

        Give ``job_id()`` of the lost job (or its Qoro job ids). The PUBs say how the
        Qoro results become ``BitArray`` objects: without them, their layout comes from
        the job journal of the machine that ran them (:mod:`.records`); else give the
        same PUBs and ``shots``.

        Raises:
            InvalidInputError: this sampler runs on the local simulator, no PUBs were
                given and the journal has none for the job, or the ids do not match how
                these PUBs are split into Qoro jobs.
            JobNotFoundError: the service knows no such job.
        """
        ids, coerced = self._retrieved(job_id, pubs, shots)
        handle = self._backend.execution.retrieve_sample(ids, sample_work(coerced))
        return DiviPrimitiveJob(handle, partial(_results, coerced, handle.metadata))

    def _coerced(self, pubs: Iterable[SamplerPubLike], shots: int | None) -> list[SamplerPub]:
        if shots is None:
            shots = self._options.default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        _check_registers(coerced)
        return coerced


def _results(
    pubs: list[SamplerPub], metadata: dict[str, Any], samples: Sampled
) -> PrimitiveResult[SamplerPubResult]:
    """Each PUB's outcomes (one per parameter set) as its ``BitArray`` objects."""
    results = [_pub_result(pub, outcomes) for pub, outcomes in zip(pubs, samples, strict=True)]
    return PrimitiveResult(results, metadata={"version": 2, **metadata})


# -- shared steps ------------------------------------------------------------------------


def _pub_result(pub: SamplerPub, samples: list[Outcomes]) -> SamplerPubResult:
    """A ``BitArray`` per classical register from each parameter set's outcomes (kept
    in shot order), shaped like the PUB's parameter values."""
    circuit = pub.circuit
    shape = pub.parameter_values.shape
    registers = {}
    for creg in circuit.cregs:
        indices = [circuit.find_bit(bit).index for bit in creg]
        rows = np.stack([_shot_bits(outcomes, indices, pub.shots) for outcomes in samples])
        registers[creg.name] = BitArray(rows.reshape(*shape, *rows.shape[1:]), creg.size)
    return SamplerPubResult(
        DataBin(**registers, shape=shape),
        metadata={"shots": pub.shots, "circuit_metadata": circuit.metadata},
    )


def _shot_bits(outcomes: Outcomes, indices: list[int], shots: int) -> np.ndarray:
    """Each shot's bits at ``indices``, packed as ``BitArray`` rows.

    A circuit that measures nothing records nothing: its bits are all 0, as in Qiskit.
    """
    if outcomes.memory is None or not len(outcomes.memory):
        return np.zeros((shots, num_bytes(len(indices))), np.uint8)
    return np.take(outcomes.bits(indices), outcomes.memory, axis=0)


def _check_registers(pubs: list[SamplerPub]) -> None:
    """Warn, as Qiskit does, of a circuit with no register to read; refuse classical bits
    outside any register or in several, whose outcomes the backends cannot lay out.

    Raises:
        InvalidCircuitError: a classical bit is in no register, or in more than one.
    """
    for index, pub in enumerate(pubs):
        circuit = pub.circuit
        in_registers = [bit for creg in circuit.cregs for bit in creg]
        if len(in_registers) != circuit.num_clbits or len(set(in_registers)) != len(in_registers):
            raise InvalidCircuitError(
                circuit.name,
                f"(pub {index}) every classical bit must be in exactly one register",
            )
        if not circuit.cregs:
            warnings.warn(
                f"The {index}-th pub's circuit has no output classical registers and so the "
                "result will be empty. Did you mean to add measurement instructions?",
                UserWarning,
                stacklevel=3,
            )
