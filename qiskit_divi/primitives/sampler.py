"""SamplerV2: Qiskit's sampler primitive, native on the parallel simulator and on Qoro.

On a :class:`ParallelSimulatorBackend` every parameter set of every PUB is one
experiment of one engine batch (one batch per distinct shot count), bound inside Aer
and sampled with per-shot memory, so each ``BitArray`` keeps shot order. On a
:class:`QoroBackend` the bound circuits go as one SIMULATE or EXECUTE job per shot
count; a histogram has no shot order, so its shots are laid out in an order shuffled
reproducibly from the job id."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit.primitives import BasePrimitiveJob, BaseSamplerV2, PrimitiveJob
from qiskit.primitives.containers import (
    BitArray,
    DataBin,
    PrimitiveResult,
    SamplerPubLike,
    SamplerPubResult,
)
from qiskit.primitives.containers.sampler_pub import SamplerPub

from ..exceptions import CorruptResultError, DiviWarning, InvalidCircuitError, InvalidInputError
from ..options import check_seed, options_of, positive_int
from ..outcomes import Outcomes, num_bytes
from ..qoro.backend import QoroBackend
from ..qoro.codec import CircuitResult
from ..qoro.protocol import JobType
from ..simulator.engine import SampleBatch, SimulationEngine
from .backends import (
    Mode,
    QoroGroup,
    batch_seed,
    check_mode,
    grouped,
    parameter_rows,
    pub_circuits,
    qoro_mode,
    submit_groups,
)
from .job import Finish, QoroPrimitiveJob


@dataclass
class Options:
    """Options for :class:`SamplerV2`."""

    default_shots: int = 1024
    """Shots per PUB when neither :meth:`~SamplerV2.run` nor the PUB says. Default: 1024."""

    seed: int | None = None
    """Makes a simulator's samples reproducible (``None``: a fresh seed per run). Qoro
    systems take no seed, so on a QoroBackend it must stay ``None``."""

    def __post_init__(self) -> None:
        positive_int("default_shots", self.default_shots)
        check_seed(self.seed)


class SamplerV2(BaseSamplerV2):
    """Samples circuits on a ParallelSimulatorBackend or a QoroBackend.

    Each PUB ``(circuit, parameter_values, shots)`` gives a ``BitArray`` per classical
    register, shaped like its parameter values.

    Args:
        mode: the backend to run on.
        options: an :class:`~qiskit_divi.primitives.sampler.Options` or a dict of its fields.
    """

    def __init__(self, mode: Mode, *, options: Options | Mapping[str, Any] | None = None) -> None:
        self._backend = check_mode(mode, "SamplerV2")
        self._options = options_of(Options, options, "SamplerV2")

    def __repr__(self) -> str:
        return f"SamplerV2(mode={self._backend.name!r}, options={self._options})"

    @property
    def backend(self) -> Mode:
        """The backend this sampler runs on."""
        return self._backend

    @property
    def options(self) -> Options:
        """The sampler's options."""
        return self._options

    def run(
        self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None
    ) -> BasePrimitiveJob[PrimitiveResult[SamplerPubResult], Any]:
        """Sample each PUB; every input is checked before anything runs or is sent.

        Raises:
            ValueError: a PUB is malformed (Qiskit's own checks: parameter count,
                ``shots`` <= 0, ...).
            CircuitTooWideError: a circuit is wider than the backend.
        """
        if shots is None:
            shots = self._options.default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        _check_registers(coerced)
        if isinstance(self._backend, QoroBackend):
            return self._run_on_qoro(self._backend, coerced)
        batches = _simulator_batches(self._backend.engine, coerced, self._options.seed)
        job = PrimitiveJob(_sample_on_simulator, coerced, batches)
        job._submit()
        return job

    def retrieve_job(
        self,
        job_id: str | Sequence[str],
        pubs: Iterable[SamplerPubLike],
        *,
        shots: int | None = None,
    ) -> QoroPrimitiveJob:
        """The job :meth:`run` returned for these PUBs on a QoroBackend, rebuilt anywhere.

        Give ``job_id()`` of the lost job (or its Qoro job ids) and the same PUBs and
        ``shots``: they say how the Qoro results become ``BitArray`` objects.

        Raises:
            InvalidInputError: this sampler runs on the local simulator, or the ids do
                not match how these PUBs are split into Qoro jobs.
            JobNotFoundError: the service knows no such job.
        """
        backend = qoro_mode(self._backend)
        if shots is None:
            shots = self._options.default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        groups = _qoro_groups(backend, coerced)
        return QoroPrimitiveJob.retrieve(
            backend, job_id, [group.labels for group in groups], _qoro_finish(coerced)
        )

    def _run_on_qoro(self, backend: QoroBackend, pubs: list[SamplerPub]) -> QoroPrimitiveJob:
        if self._options.seed is not None:
            raise InvalidInputError(
                f"seed={self._options.seed}: Qoro systems take no seed; leave it None"
            )
        groups = _qoro_groups(backend, pubs)
        for group in groups:
            for label, circuit in zip(group.labels, group.circuits, strict=True):
                if "measure" not in circuit.count_ops():
                    raise InvalidCircuitError(
                        label, "measures nothing, so a Qoro sampling job would count nothing"
                    )
        job_ids = submit_groups(backend, groups)
        return QoroPrimitiveJob(
            backend, job_ids, [group.labels for group in groups], _qoro_finish(pubs)
        )


# -- the pipeline on the simulator -------------------------------------------------------


def _simulator_batches(
    engine: SimulationEngine, pubs: list[SamplerPub], seed: int | None
) -> list[tuple[list[int], SampleBatch]]:
    """One checked engine batch per shot count, holding every parameter set of its PUBs."""
    batches = []
    for position, (shots, indices) in enumerate(grouped([pub.shots for pub in pubs]).items()):
        with warnings.catch_warnings():
            # A circuit that measures nothing reads all zeros here, as in Qiskit's
            # samplers, which warn (above) only when there is no register to read.
            warnings.filterwarnings("ignore", "circuit .* has no measurements", DiviWarning)
            batch = engine.prepare_sample(
                [pubs[i].circuit for i in indices],
                shots=shots,
                seed=batch_seed(seed, position),
                memory=True,
                parameter_values=[parameter_rows(pubs[i]) for i in indices],
            )
        batches.append((indices, batch))
    return batches


def _sample_on_simulator(
    pubs: list[SamplerPub], batches: list[tuple[list[int], SampleBatch]]
) -> PrimitiveResult[SamplerPubResult]:
    """Run each batch (one per shot count), then cut its outcomes into the PUBs' bits."""
    results: list[SamplerPubResult | None] = [None] * len(pubs)
    for indices, batch in batches:
        samples = iter(batch.run())
        for i in indices:
            pub = pubs[i]
            shots = [next(samples).outcomes for _ in range(pub.parameter_values.size)]
            results[i] = _pub_result(pub, shots)
    return PrimitiveResult(results, metadata={"version": 2})


# -- the pipeline on Qoro ----------------------------------------------------------------


def _qoro_groups(backend: QoroBackend, pubs: list[SamplerPub]) -> list[QoroGroup]:
    """One Qoro job per shot count; a circuit-cutting backend takes one circuit per job."""
    job_type: JobType = backend.options.job_type
    groups = []
    for shots, indices in grouped([pub.shots for pub in pubs]).items():
        circuits, labels = pub_circuits(pubs, indices)
        if job_type is JobType.CIRCUIT_CUT:
            groups += [
                QoroGroup([circuit], [label], job_type, shots)
                for circuit, label in zip(circuits, labels, strict=True)
            ]
        else:
            groups.append(QoroGroup(circuits, labels, job_type, shots))
    return groups


def _qoro_finish(pubs: list[SamplerPub]) -> Finish:
    """How the jobs' histograms become these PUBs' results."""

    def finish(job_ids: list[str], results: list[list[CircuitResult]]) -> PrimitiveResult:
        histograms = iter(
            (job_id, position, histogram)
            for job_id, per_job in zip(job_ids, results, strict=True)
            for position, histogram in enumerate(per_job)
        )
        # Circuits were sent grouped by shots; put the PUBs back in their own order.
        by_pub: list[SamplerPubResult | None] = [None] * len(pubs)
        for i in [i for indices in grouped([pub.shots for pub in pubs]).values() for i in indices]:
            pub = pubs[i]
            shots = [
                _histogram_shots(*next(histograms), pub.shots, pub.circuit.num_clbits)
                for _ in range(pub.parameter_values.size)
            ]
            by_pub[i] = _pub_result(pub, shots)
        return PrimitiveResult(by_pub, metadata={"version": 2, "qoro_job_ids": job_ids})

    return finish


def _histogram_shots(
    job_id: str, position: int, result: CircuitResult, shots: int, width: int
) -> Outcomes:
    """A histogram's outcomes, each as often as counted, in a random order fixed by the
    job id and the circuit's position in the job (so a rebuilt job reads the same bits).

    Raises:
        CorruptResultError: not a histogram of ``shots`` outcomes of ``width`` bits.
    """
    if not isinstance(result, Outcomes):
        raise CorruptResultError(f"job {job_id}: expected a histogram, got expectation values")
    if result.num_shots != shots or (len(result.values) and result.num_bits != width):
        raise CorruptResultError(
            f"job {job_id}: expected {shots} outcomes of {width} bits, got "
            f"{result.num_shots} of {result.num_bits} bits"
        )
    job_seed = int.from_bytes(hashlib.sha256(job_id.encode()).digest())
    return result.shuffled(np.random.default_rng([job_seed, position]))


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
