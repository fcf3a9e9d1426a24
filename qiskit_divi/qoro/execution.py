"""A Qoro system as an :class:`~qiskit_divi.execution.Execution`: work in, jobs, typed results.

Work is a batch of circuits, each with its own shots (and, to estimate, its own
observables). :func:`wire_jobs` splits it into the jobs the wire carries today (one per
shot count; an ESTIMATE job per width and shot count, asking every term any of its
circuits needs; a CIRCUIT_CUT job per circuit): the one place to change when one job can
carry per-circuit shots and observables. The rules every Qoro run keeps (the checks made
before anything is sent, results matched to circuits by label, the order of a
histogram's shots) live in :mod:`.rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.providers.jobstatus import JOB_FINAL_STATES

from ..circuits import to_qasm
from ..exceptions import (
    CorruptResultError,
    InvalidInputError,
)
from ..execution import Estimate, EstimateWork, Sampled, SampleWork, Terms
from ..options import no_seed
from .client import JobPlan
from .codec import CircuitResult, ExpectationValues
from .job import QoroJob
from .polling import wait_until_final
from .protocol import JobType
from .rules import check_fits, check_sampled, counted, matched, shot_order, wire_term

if TYPE_CHECKING:
    from .backend import QoroBackend

R = TypeVar("R")

#: The most telling status of several jobs comes first.
_PRECEDENCE = (JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.RUNNING, JobStatus.QUEUED)


# -- work as wire jobs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One circuit of a wire job: which item and parameter set it is, under what label."""

    item: int
    row: int
    label: str
    circuit: QuantumCircuit


@dataclass(frozen=True)
class WireJob:
    """Circuits that travel as one Qoro job, with what that job is asked to do:
    ``shots`` (required to sample) and, for an ESTIMATE job, its Pauli terms as the
    wire writes them."""

    job_type: JobType
    shots: int | None
    entries: list[Entry]
    observables: tuple[str, ...] | None = None

    @property
    def labels(self) -> list[str]:
        return [entry.label for entry in self.entries]


def wire_jobs(work: Sequence[SampleWork | EstimateWork], job_type: JobType) -> list[WireJob]:
    """The Qoro jobs ``work`` travels as today (see the module's docstring).

    A label says where its circuit sits in the job, which item and which parameter set
    it comes from (``"4_pub1_2"``): never a circuit's name, which Qiskit may have made up
    in another process, so the same work gives the same labels anywhere.
    """
    keys = [
        (item.circuit.num_qubits, item.shots) if job_type is JobType.ESTIMATE else item.shots
        for item in work
    ]
    jobs = []
    for key in dict.fromkeys(keys):
        indices = [i for i, each in enumerate(keys) if each == key]
        entries: list[Entry] = []
        for i in indices:
            for row, circuit in enumerate(_bound(work[i])):
                entries.append(Entry(i, row, f"{len(entries)}_pub{i}_{row}", circuit))
        shots = work[indices[0]].shots
        if job_type is JobType.ESTIMATE:
            terms = {wire_term(p) for i in indices for p in _terms(work[i]).paulis}
            jobs.append(WireJob(job_type, shots, entries, tuple(sorted(terms))))
        elif job_type is JobType.CIRCUIT_CUT:
            jobs += [WireJob(job_type, shots, [entry]) for entry in entries]
        else:
            jobs.append(WireJob(job_type, shots, entries))
    return jobs


@dataclass(frozen=True)
class SubmissionPlan:
    """What a run would send to Qoro, checked as the run checks it, with nothing sent:
    one :class:`~qiskit_divi.qoro.client.JobPlan` per Qoro job, in submission order."""

    jobs: tuple[JobPlan, ...]

    @property
    def uploads(self) -> int:
        """``add_circuits`` requests, over every job."""
        return sum(len(job.uploads) for job in self.jobs)

    @property
    def bytes(self) -> int:
        """Bytes of every request body, over every job."""
        return sum(job.bytes for job in self.jobs)

    @property
    def circuits(self) -> int:
        """Circuits and template rows, over every job."""
        return sum(job.circuits + job.rows for job in self.jobs)

    @property
    def cost(self) -> Decimal | None:
        """The credits every job costs together; ``None`` when the rule is unknown."""
        costs = [job.cost for job in self.jobs if job.cost is not None]
        return sum(costs, Decimal(0)) if len(costs) == len(self.jobs) else None


def _bound(item: SampleWork | EstimateWork) -> list[QuantumCircuit]:
    """The item's circuit bound to each parameter set, in order: Qoro takes OpenQASM."""
    values = item.parameter_values
    if values is None or not item.circuit.parameters:
        return [item.circuit] * (1 if values is None else len(values))
    return [item.circuit.assign_parameters(row) for row in values]


def _terms(item: SampleWork | EstimateWork) -> Terms:
    assert isinstance(item, EstimateWork)
    return Terms.of(item.observables)


# -- the execution and its handle ------------------------------------------------------


class QoroExecution:
    """Submits work to ``backend``'s system, with the backend's ``tag``, ``job_type``
    (to sample), ``polling_interval`` and ``timeout`` options at the time of the call."""

    def __init__(self, backend: QoroBackend) -> None:
        self._backend = backend

    def sample(
        self, work: Sequence[SampleWork], *, seed: int | None, memory: bool
    ) -> QoroHandle[Sampled]:
        """Sample each item; a histogram's shots are laid out in :func:`shot_order`.

        Raises:
            InvalidInputError: a seed (the service takes none), or no work.
            CircuitTooWideError, InvalidCircuitError: a circuit is wider than the system,
                measures nothing, or cannot be written as OpenQASM 2.
        """
        jobs = self._sample_jobs(work, seed)
        return QoroHandle(
            self._backend, self._submitted(jobs), jobs, _Sampling(list(work), memory)
        )

    def estimate(
        self, work: Sequence[EstimateWork], *, seed: int | None
    ) -> QoroHandle[list[Estimate]]:
        """ESTIMATE jobs; the service returns a value per term, combined here with the
        coefficients, and no spread.

        Raises:
            InvalidInputError: a seed, or a system that computes no expectation values.
            CircuitTooWideError: a circuit is wider than the system.
        """
        jobs = self._estimate_jobs(work, seed)
        return QoroHandle(self._backend, self._submitted(jobs), jobs, _Estimating(list(work)))

    def plan_sample(
        self, work: Sequence[SampleWork], *, seed: int | None, memory: bool
    ) -> SubmissionPlan:
        """What :meth:`sample` would send, checked as it checks, nothing sent."""
        return self._planned(self._sample_jobs(work, seed))

    def plan_estimate(self, work: Sequence[EstimateWork], *, seed: int | None) -> SubmissionPlan:
        """What :meth:`estimate` would send, checked as it checks, nothing sent."""
        return self._planned(self._estimate_jobs(work, seed))

    def _sample_jobs(self, work: Sequence[SampleWork], seed: int | None) -> list[WireJob]:
        no_seed(seed)
        backend = self._backend
        jobs = wire_jobs(work, backend.options.job_type)
        for job in jobs:
            for entry in job.entries:
                check_sampled(entry.label, entry.circuit, backend.name, backend.num_qubits)
        return jobs

    def _estimate_jobs(self, work: Sequence[EstimateWork], seed: int | None) -> list[WireJob]:
        no_seed(seed)
        backend = self._backend
        if not backend.system.supports_expval:
            raise InvalidInputError(
                f"Qoro system {backend.name!r} does not compute expectation values "
                "(supports_expval is false); sample it with SamplerV2 instead"
            )
        jobs = wire_jobs(work, JobType.ESTIMATE)
        for job in jobs:
            for entry in job.entries:
                check_fits(entry.label, entry.circuit, backend.name, backend.num_qubits)
        return jobs

    def retrieve_sample(self, job_id: str, work: Sequence[SampleWork]) -> QoroHandle[Sampled]:
        """The handle :meth:`sample` returned for ``work`` (with any ``memory``: the shot
        order is fixed by the job ids), from its ``job_id()``."""
        jobs = wire_jobs(work, self._backend.options.job_type)
        return self._retrieved(job_id, jobs, _Sampling(list(work), True))

    def retrieve_estimate(
        self, job_id: str, work: Sequence[EstimateWork]
    ) -> QoroHandle[list[Estimate]]:
        """The handle :meth:`estimate` returned for ``work``, from its ``job_id()``."""
        return self._retrieved(job_id, wire_jobs(work, JobType.ESTIMATE), _Estimating(list(work)))

    def _submitted(self, jobs: list[WireJob]) -> list[str]:
        """Export every circuit, then send each wire job; the job ids, in order."""
        client = self._backend.client
        return [client.submit_job(circuits, **how) for circuits, how in self._requests(jobs)]

    def _planned(self, jobs: list[WireJob]) -> SubmissionPlan:
        """Every wire job planned as :meth:`_submitted` would send it."""
        client = self._backend.client
        return SubmissionPlan(
            tuple(client.plan_job(circuits, **how) for circuits, how in self._requests(jobs))
        )

    def _requests(self, jobs: list[WireJob]) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """Each wire job's circuits as OpenQASM 2 and the rest of its ``submit_job``
        arguments; every circuit is exported before the first is sent."""
        if not jobs:
            raise InvalidInputError("a Qoro job needs at least one circuit")
        backend = self._backend
        return [
            (
                {e.label: to_qasm(e.label, e.circuit) for e in job.entries},
                {
                    "job_type": job.job_type,
                    "shots": job.shots,
                    "tag": backend.options.tag,
                    "system_name": backend.name,
                    "observables": None if job.observables is None else ";".join(job.observables),
                },
            )
            for job in jobs
        ]

    def _retrieved(self, job_id: str, jobs: list[WireJob], finish: _Finish[R]) -> QoroHandle[R]:
        """Raises ``InvalidInputError`` when the ids do not match the work's jobs, and
        ``JobNotFoundError`` when the service knows no such job."""
        job_ids = job_id.split(",")
        if len(job_ids) != len(jobs):
            raise InvalidInputError(
                f"{len(job_ids)} Qoro job ids for {len(jobs)} jobs: this work ran as "
                f"{len(jobs)} Qoro job(s)"
            )
        for each in job_ids:
            self._backend.client.job_status(each)
        return QoroHandle(self._backend, job_ids, jobs, finish)


class _Finish(Generic[R]):
    """Turns each wire job's results (in its entries' order) into the work's results."""

    def __call__(
        self, job_ids: list[str], jobs: list[WireJob], results: list[list[CircuitResult]]
    ) -> R:
        raise NotImplementedError


class _Sampling(_Finish[Sampled]):
    def __init__(self, work: list[SampleWork], memory: bool) -> None:
        self._work = work
        self._memory = memory

    def __call__(
        self, job_ids: list[str], jobs: list[WireJob], results: list[list[CircuitResult]]
    ) -> Sampled:
        sampled: Sampled = [[None] * item.num_sets for item in self._work]  # type: ignore[list-item]
        for job_id, job, per_job in zip(job_ids, jobs, results, strict=True):
            for position, (entry, result) in enumerate(zip(job.entries, per_job, strict=True)):
                item = self._work[entry.item]
                outcomes = counted(job_id, result, item.shots, item.circuit.num_clbits)
                if self._memory:
                    outcomes = outcomes.shuffled(shot_order(job_id, position))
                sampled[entry.item][entry.row] = outcomes
        return sampled


class _Estimating(_Finish[list[Estimate]]):
    def __init__(self, work: list[EstimateWork]) -> None:
        self._work = work
        self._terms = [Terms.of(item.observables) for item in work]

    def __call__(
        self, job_ids: list[str], jobs: list[WireJob], results: list[list[CircuitResult]]
    ) -> list[Estimate]:
        tables = [
            np.zeros((len(item.parameter_values), len(terms.paulis)))
            for item, terms in zip(self._work, self._terms, strict=True)
        ]
        for job_id, job, per_job in zip(job_ids, jobs, results, strict=True):
            for entry, values in zip(job.entries, per_job, strict=True):
                tables[entry.item][entry.row] = _term_values(
                    job_id, values, self._terms[entry.item].paulis
                )
        return [
            Estimate(table @ terms.coefficients.T, None)
            for table, terms in zip(tables, self._terms, strict=True)
        ]


def _term_values(job_id: str, values: CircuitResult, paulis: list[str]) -> list[float]:
    """One circuit's values of ``paulis`` (Qiskit labels) from the service's values of
    its wire terms.

    Raises:
        CorruptResultError: not expectation values, or a term is missing.
    """
    if not isinstance(values, ExpectationValues):
        raise CorruptResultError(f"job {job_id}: expected values per term, got a histogram")
    by_term = values.to_dict()
    missing = next((wire_term(p) for p in paulis if wire_term(p) not in by_term), None)
    if missing is not None:
        raise CorruptResultError(f"job {job_id}: no value for term {missing!r}")
    return [by_term[wire_term(p)] for p in paulis]


class QoroHandle(Generic[R]):
    """Qoro jobs submitted for one piece of work, seen as one handle.

    It holds a :class:`~qiskit_divi.qoro.job.QoroJob` per wire job, for their statuses
    and cancellation, and waits on all of them at once.
    """

    def __init__(
        self,
        backend: QoroBackend,
        job_ids: Sequence[str],
        jobs: list[WireJob],
        finish: _Finish[R],
    ) -> None:
        self._backend = backend
        self._jobs = [QoroJob(backend, job_id, client=backend.client) for job_id in job_ids]
        self._wire = jobs
        self._finish = finish
        self._result: R | None = None

    def __repr__(self) -> str:
        return f"<QoroHandle({self.job_id()!r}) on {self._backend.name}>"

    def job_id(self) -> str:
        """The Qoro job ids, comma-separated."""
        return ",".join(self.job_ids)

    @property
    def metadata(self) -> dict[str, Any]:
        """The Qoro job ids."""
        return {"qoro_job_ids": self.job_ids}

    @property
    def job_ids(self) -> list[str]:
        """The Qoro job ids, as ``DiviProvider().retrieve_job`` takes them one by one."""
        return [job.job_id() for job in self._jobs]

    def result(self, timeout: float | None = None) -> R:
        """Wait for every Qoro job, then the typed results.

        Args:
            timeout: seconds to wait; by default the backend's ``timeout`` option.

        Raises:
            JobTimeoutError: not finished in time; the jobs go on and this can be retried.
            JobFailedError, JobCancelledError: a Qoro job failed or was cancelled.
            CorruptResultError: results do not match the circuits that were sent.
        """
        if self._result is None:
            options = self._backend.options
            client = self._backend.client
            wait_until_final(
                self.job_ids,
                client.job_status,
                timeout=options.timeout if timeout is None else timeout,
                polling_interval=options.polling_interval,
            )
            results = [
                matched(job_id, job.labels, client.job_results(job_id))
                for job_id, job in zip(self.job_ids, self._wire, strict=True)
            ]
            self._result = self._finish(self.job_ids, self._wire, results)
        return self._result

    def status(self) -> JobStatus:
        """DONE when every Qoro job is; else the most telling status among them."""
        if self._result is not None:
            return JobStatus.DONE
        statuses = {job.status() for job in self._jobs}
        return next((status for status in _PRECEDENCE if status in statuses), JobStatus.DONE)

    def cancel(self) -> bool:
        """Cancel every Qoro job not finished yet.

        Raises:
            JobNotCancellableError: a job finished between the status check and the cancel.
        """
        cancelled = False
        for job in self._jobs:
            if job.status() not in JOB_FINAL_STATES:
                job.cancel()
                cancelled = True
        return cancelled
