"""EstimatorV2: Qiskit's estimator primitive, native on the parallel simulator and on Qoro.

Each PUB is one estimating work item of the backend's execution interface (see
:mod:`qiskit_divi.execution`): its observables, flattened, and its parameter sets. The
target returns a table of values per (parameter set, observable), from which the PUB's
broadcast shape picks ``evs`` and ``stds``:

- ParallelSimulatorBackend, precision 0 (the default): exact values (statevector, or
  density matrix under noise; a circuit that measures mid-circuit is the mean over its
  outcomes), no sampling; precision > 0: ``ceil(1 / precision**2)`` shots of one circuit
  per qubit-wise-commuting group of Pauli terms, ``stds`` the standard errors measured
  from those shots (see :mod:`qiskit_divi.simulator.execution`);
- QoroBackend: ESTIMATE jobs carrying the Pauli terms (one job per run on the 2026
  wire: see :func:`qiskit_divi.qoro.execution.wire_jobs`); the service reports no spread,
  so ``stds`` are the precision asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, overload

import numpy as np
from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers import DataBin, EstimatorPubLike, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub

from ..execution import Estimate, EstimateWork
from ..options import check_seed, non_negative_real
from . import records
from .job import DiviPrimitiveJob
from .pubs import OnBackend, Plan, estimate_work


@dataclass
class Options:
    """Options for :class:`EstimatorV2`."""

    default_precision: float = 0.0
    """Precision per PUB when neither :meth:`~EstimatorV2.run` nor the PUB says.
    Default: 0.0, exact expectation values where the backend can compute them."""

    seed: int | None = None
    """Makes sampled estimates on a simulator reproducible (``None``: the backend's
    ``seed_simulator``, by default fresh each run); Qoro systems take no seed, so on a
    QoroBackend it must stay ``None``."""

    def __post_init__(self) -> None:
        self.default_precision = non_negative_real("default_precision", self.default_precision)
        check_seed(self.seed)


class EstimatorV2(OnBackend[Options, EstimatorPub], BaseEstimatorV2):
    """Estimates expectation values on a ParallelSimulatorBackend or a QoroBackend.

    Each PUB ``(circuit, observables, parameter_values, precision)`` gives ``evs`` and
    ``stds`` shaped like the broadcast of its observables and parameter values.

    Takes the backend to run on (``mode``) and ``options``: an
    :class:`~qiskit_divi.primitives.estimator.Options` or a dict of its fields.
    """

    _options_type = Options
    _kind = records.ESTIMATOR
    _stand_ins = staticmethod(records.estimator_pubs)

    @overload
    def run(
        self,
        pubs: Iterable[EstimatorPubLike],
        *,
        precision: float | None = ...,
        dry_run: Literal[False] = ...,
    ) -> DiviPrimitiveJob[list[Estimate]]: ...

    @overload
    def run(
        self,
        pubs: Iterable[EstimatorPubLike],
        *,
        precision: float | None = ...,
        dry_run: Literal[True],
    ) -> Plan: ...

    def run(
        self,
        pubs: Iterable[EstimatorPubLike],
        *,
        precision: float | None = None,
        dry_run: bool = False,
    ) -> DiviPrimitiveJob[list[Estimate]] | Plan:
        """Estimate each PUB; every input is checked before anything runs or is sent.

        With ``dry_run``, nothing runs or is sent: the backend's plan is returned (a
        ``SimulationPlan`` or a ``SubmissionPlan``) instead of a job.

        Raises:
            ValueError: a PUB is malformed (Qiskit's own checks: parameter count,
                observables as wide as the circuit, precision >= 0, ...).
            CircuitTooWideError: a circuit is wider than the backend.
            InvalidInputError: a Qoro system that computes no expectation values.
        """
        coerced = self._coerced(pubs, precision)
        work = estimate_work(coerced)
        if dry_run:
            return self._backend.execution.plan_estimate(work, seed=self._seed())
        handle = self._backend.execution.estimate(work, seed=self._seed())
        self._kept(handle.job_id(), coerced)
        return DiviPrimitiveJob(handle, partial(_results, coerced, work, handle.metadata))

    def retrieve_job(
        self,
        job_id: str | Sequence[str],
        pubs: Iterable[EstimatorPubLike] | None = None,
        *,
        precision: float | None = None,
    ) -> DiviPrimitiveJob[list[Estimate]]:
        """The job :meth:`run` returned on a QoroBackend, rebuilt anywhere.

        Give ``job_id()`` of the lost job (or its Qoro job ids). The service keeps each
        term's value; the PUBs say how they combine: without them, their observables'
        coefficients and shapes come from the job journal of the machine that ran them
        (:mod:`.records`); else give the same PUBs and ``precision``.

        Raises:
            InvalidInputError: this estimator runs on the local simulator, no PUBs were
                given and the journal has none for the job, or the ids do not match how
                these PUBs are split into Qoro jobs.
            JobNotFoundError: the service knows no such job.
        """
        ids, coerced = self._retrieved(job_id, pubs, precision)
        work = estimate_work(coerced)
        handle = self._backend.execution.retrieve_estimate(ids, work)
        return DiviPrimitiveJob(handle, partial(_results, coerced, work, handle.metadata))

    def _coerced(
        self, pubs: Iterable[EstimatorPubLike], precision: float | None
    ) -> list[EstimatorPub]:
        if precision is None:
            precision = self._options.default_precision
        return [EstimatorPub.coerce(pub, precision) for pub in pubs]


def _results(
    pubs: list[EstimatorPub],
    work: list[EstimateWork],
    metadata: dict[str, Any],
    estimates: list[Estimate],
) -> PrimitiveResult[PubResult]:
    """Each PUB's table of values, gathered into its broadcast shape."""
    results = [
        _pub_result(pub, estimate, {} if item.shots is None else {"shots": item.shots})
        for pub, item, estimate in zip(pubs, work, estimates, strict=True)
    ]
    return PrimitiveResult(results, metadata={"version": 2, **metadata})


def _pub_result(pub: EstimatorPub, estimate: Estimate, metadata: dict[str, Any]) -> PubResult:
    """``evs`` and variances given per (parameter set, observable), gathered into the
    PUB's broadcast shape; without variances, ``stds`` are the precision asked for."""
    param_index = np.arange(pub.parameter_values.size).reshape(pub.parameter_values.shape)
    observable_index = np.arange(pub.observables.size).reshape(pub.observables.shape)
    rows, columns = np.broadcast_arrays(param_index, observable_index)
    if estimate.variances is None:
        stds = np.full(rows.shape, float(pub.precision))
    else:
        stds = np.sqrt(estimate.variances[rows, columns])
    return PubResult(
        DataBin(evs=estimate.evs[rows, columns], stds=stds, shape=rows.shape),
        metadata={
            "target_precision": pub.precision,
            "circuit_metadata": pub.circuit.metadata,
            **metadata,
        },
    )
