"""A Qoro system as an :class:`~qiskit_divi.execution.Execution`: work in, jobs, typed results.

Work is a batch of circuits, each with its own shots (and, to estimate, its own
observables). :func:`wire_jobs` is the one place that decides how it travels as Qoro
jobs. On the 2026 wire a whole batch is ONE job: per-circuit shots travel as shot
groups, per-circuit observables as observable groups with a circuit map, and a
parametric circuit once, as a template with a row of values per parameter set. The 2025
wire carries one shot count and one set of observables per job, so there the batch
splits (a job per shot count; an ESTIMATE job per width and shot count, asking every
term any of its circuits needs). A CIRCUIT_CUT job takes one circuit on either wire.
The rules every Qoro run keeps (the checks made before anything is sent, results matched
to circuits by label, the order of a histogram's shots) live in :mod:`.rules`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.providers.jobstatus import JOB_FINAL_STATES

from ..circuits import QasmLayout, QasmTemplate, to_qasm, to_qasm_template
from ..exceptions import (
    CorruptResultError,
    InvalidCircuitError,
    InvalidInputError,
)
from ..execution import Estimate, EstimateWork, Sampled, SampleWork, Terms
from ..options import no_seed
from .client import CircuitTemplate, JobPlan, QoroClient
from .codec import CircuitResult, ExpectationValues
from .polling import wait_until_final
from .protocol import Dialect, JobType, QoroJobStatus
from .reconnecting import Reconnecting
from .rules import (
    check_fits,
    check_sampled,
    counted,
    matched,
    shot_order,
    submission_order,
    wire_term,
)

R = TypeVar("R")
T = TypeVar("T")
Work = SampleWork | EstimateWork

log = logging.getLogger(__name__)


# -- work as wire jobs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One circuit of a wire job: which item and parameter set it is, under what label;
    ``circuit`` is the bound circuit, ``None`` for a row of a template."""

    item: int
    row: int
    label: str
    circuit: QuantumCircuit | None = None


@dataclass(frozen=True)
class TemplateRows:
    """One item's parametric circuit, uploaded once, with a row per parameter set
    (``entries``, labelled), and that item's shots or observables."""

    item: int
    template: QasmTemplate
    entries: list[Entry]
    shots: int | None = None
    observables: str | None = None


@dataclass(frozen=True)
class WireJob:
    """What travels as one Qoro job: bound circuits (``entries``), then ``templates``.

    ``shots`` (to sample) is one count for every bound circuit or, on the 2026 wire, a
    count by label; ``observables`` (ESTIMATE) are the wire's terms, ``;``-separated, for
    every bound circuit or by label.
    """

    job_type: JobType
    shots: int | Mapping[str, int] | None
    entries: list[Entry]
    observables: str | Mapping[str, str] | None = None
    templates: tuple[TemplateRows, ...] = ()

    @property
    def all_entries(self) -> list[Entry]:
        """Every circuit of the job, bound ones first, in the order results are read."""
        return [*self.entries, *(e for t in self.templates for e in t.entries)]

    @property
    def labels(self) -> list[str]:
        return [entry.label for entry in self.all_entries]


def wire_jobs(
    work: Sequence[Work], job_type: JobType, dialect: Dialect = Dialect.V2026
) -> list[WireJob]:
    """The Qoro jobs ``work`` travels as on ``dialect``'s wire (see the module's docstring).

    A circuit travels under the user's name for its parameter set (``row_labels``) or its
    item (``label``) when the user chose one; else the label says where it sits in the
    job, which item and which parameter set it comes from (``"4_pub1_2"``): never a
    circuit's name, which Qiskit may have made up in another process, so the same work
    gives the same labels anywhere. An ESTIMATE job asks each term once, in the order the
    observables first name them. On the 2026 wire a parametric item travels as a template
    unless :func:`to_qasm_template` refuses its circuit; then, as everywhere else, as a
    bound circuit per parameter set.
    """
    if dialect is Dialect.V2026 and job_type is not JobType.CIRCUIT_CUT:
        return [_one_job(work, job_type)] if work else []
    estimate = job_type is JobType.ESTIMATE
    keys = [(item.circuit.num_qubits, item.shots) if estimate else item.shots for item in work]
    jobs = []
    for key in dict.fromkeys(keys):
        indices = [i for i, each in enumerate(keys) if each == key]
        entries: list[Entry] = []
        for i in indices:
            for row, circuit in enumerate(_bound(work[i])):
                entries.append(Entry(i, row, _label(work, i, row, len(entries)), circuit))
        shots = work[indices[0]].shots
        if estimate:
            terms = dict.fromkeys(t for i in indices for t in _wire_terms(work[i]))
            jobs.append(WireJob(job_type, shots, entries, ";".join(terms)))
        elif job_type is JobType.CIRCUIT_CUT:
            jobs += [WireJob(job_type, shots, [entry]) for entry in entries]
        else:
            jobs.append(WireJob(job_type, shots, entries))
    return jobs


def _one_job(work: Sequence[Work], job_type: JobType) -> WireJob:
    """All of ``work`` as one 2026 job: bound circuits with their own shots or
    observables, then a template per parametric item; the job's shots (and observables)
    are one value when every circuit and row shares it."""
    estimate = job_type is JobType.ESTIMATE
    bound: list[tuple[int, int, QuantumCircuit]] = []
    parametric: list[tuple[int, QasmTemplate]] = []
    for i, item in enumerate(work):
        template = _template(i, item)
        if template is None:
            bound += [(i, row, circuit) for row, circuit in enumerate(_bound(item))]
        else:
            parametric.append((i, template))
    entries = [Entry(i, row, _label(work, i, row, n), c) for n, (i, row, c) in enumerate(bound)]
    templates = []
    position = len(entries)
    for i, template in parametric:
        item = work[i]
        assert item.parameter_values is not None
        rows = [
            Entry(i, row, _label(work, i, row, position + row))
            for row in range(len(item.parameter_values))
        ]
        position += len(rows)
        if estimate:
            templates.append(TemplateRows(i, template, rows, observables=_joined(item)))
        else:
            templates.append(TemplateRows(i, template, rows, shots=item.shots))
    shots = _shared(
        {e.label: work[e.item].shots for e in entries}, [work[t.item].shots for t in templates]
    )
    observables = (
        _shared(
            {e.label: _joined(work[e.item]) for e in entries}, [t.observables for t in templates]
        )
        if estimate
        else None
    )
    return WireJob(job_type, shots, entries, observables, tuple(templates))


def _label(work: Sequence[Work], index: int, row: int, position: int) -> str:
    """The label a circuit travels under: the user's name for its parameter set or its
    item, else where it sits in the job, which item and which set it comes from."""
    item = work[index]
    if item.row_labels is not None:
        return item.row_labels[row]
    return item.label or f"{position}_pub{index}_{row}"


def _shared(by_label: dict[str, T | None], rows: list[T | None]) -> T | dict[str, T] | None:
    """A job's value for its bound circuits (``by_label``) and template ``rows``: one for
    all when they agree, else by label; none when some circuit has none (an exact
    estimate asks no shots)."""
    distinct = {*by_label.values(), *rows}
    if len(distinct) == 1:
        return distinct.pop()
    given = {label: value for label, value in by_label.items() if value is not None}
    return given if given and None not in distinct else None


def _template(index: int, item: Work) -> QasmTemplate | None:
    """The item's circuit as a template, if it is parametric and can be one."""
    if item.parameter_values is None or not item.circuit.parameters:
        return None
    try:
        return to_qasm_template(item.label or f"pub{index}", item.circuit)
    except InvalidCircuitError as err:
        log.info("sending bound circuits instead of a template: %s", err)
        return None


def _bound(item: Work) -> list[QuantumCircuit]:
    """The item's circuit bound to each parameter set, in order: Qoro takes OpenQASM."""
    values = item.parameter_values
    if values is None or not item.circuit.parameters:
        return [item.circuit] * (1 if values is None else len(values))
    return [item.circuit.assign_parameters(row) for row in values]


def _wire_terms(item: Work) -> list[str]:
    """The item's distinct Pauli terms as the wire writes them, in the order its
    observables first name them."""
    assert isinstance(item, EstimateWork)
    labels = (label for op in item.observables for label in op.paulis.to_labels())
    return list(dict.fromkeys(wire_term(label) for label in labels))


def _joined(item: Work) -> str:
    """The item's terms as one wire group."""
    return ";".join(_wire_terms(item))


def _circuits(jobs: list[WireJob], work: Sequence[Work]) -> list[tuple[str, QuantumCircuit]]:
    """Each circuit the jobs send, under a label that names it: a template's once."""
    return [
        *((e.label, e.circuit) for job in jobs for e in job.entries if e.circuit is not None),
        *(
            (work[t.item].label or f"pub{t.item}", work[t.item].circuit)
            for job in jobs
            for t in job.templates
        ),
    ]


def _wire_template(rows: TemplateRows, work: Sequence[Work]) -> CircuitTemplate:
    """A template as the client sends it: a row of values per parameter set."""
    values = work[rows.item].parameter_values
    assert values is not None
    return CircuitTemplate(
        rows.template.qasm,
        rows.template.parameter_names,
        {e.label: [float(v) for v in values[e.row]] for e in rows.entries},
        shots=rows.shots,
        observables=rows.observables,
    )


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


# -- the execution and its handle ------------------------------------------------------


@dataclass(frozen=True)
class QoroExecution:
    """Submits work to one Qoro system through ``client``.

    Args:
        client: the client that reaches the service.
        system_name: the system the jobs run on.
        num_qubits: the system's width (``None``: unknown here, the service checks it).
        supports_expval: whether the system computes expectation values.
        job_type: what sampling jobs are sent as (SIMULATE, EXECUTE or CIRCUIT_CUT).
        tag: the jobs' tag.
        polling_interval: first pause between status checks while a handle waits.
        timeout: seconds a handle's ``result()`` waits by default (``None``: no limit).
        one_job: the face hands its user one Qoro job, so the work must travel as one.
        maestro_config: a simulator cluster's settings, sent in ``job/init/``.
        device_config: a QPU system's settings, sent in ``job/init/``.
    """

    client: QoroClient
    system_name: str
    num_qubits: int | None = None
    supports_expval: bool = True
    job_type: JobType = JobType.SIMULATE
    tag: str = "default"
    polling_interval: float = 1.0
    timeout: float | None = None
    one_job: bool = False
    maestro_config: Mapping[str, Any] | None = None
    device_config: Mapping[str, Any] | None = None

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
        return self._submitted(jobs, work, _Sampling(jobs, list(work), memory))

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
        return self._submitted(jobs, work, _Estimating(jobs, list(work)))

    def plan_sample(
        self, work: Sequence[SampleWork], *, seed: int | None, memory: bool
    ) -> SubmissionPlan:
        """What :meth:`sample` would send, checked as it checks, nothing sent."""
        return self._planned(self._sample_jobs(work, seed), work)

    def plan_estimate(self, work: Sequence[EstimateWork], *, seed: int | None) -> SubmissionPlan:
        """What :meth:`estimate` would send, checked as it checks, nothing sent."""
        return self._planned(self._estimate_jobs(work, seed), work)

    def _sample_jobs(self, work: Sequence[SampleWork], seed: int | None) -> list[WireJob]:
        no_seed(seed)
        jobs = wire_jobs(work, self.job_type, self.client.dialect)
        for label, circuit in _circuits(jobs, work):
            check_sampled(label, circuit, self.system_name, self.num_qubits)
        return jobs

    def _estimate_jobs(self, work: Sequence[EstimateWork], seed: int | None) -> list[WireJob]:
        no_seed(seed)
        if not self.supports_expval:
            raise InvalidInputError(
                f"Qoro system {self.system_name!r} does not compute expectation values "
                "(supports_expval is false); sample it with SamplerV2 instead"
            )
        jobs = wire_jobs(work, JobType.ESTIMATE, self.client.dialect)
        for label, circuit in _circuits(jobs, work):
            check_fits(label, circuit, self.system_name, self.num_qubits)
        return jobs

    def retrieve_sample(self, job_id: str, work: Sequence[SampleWork]) -> QoroHandle[Sampled]:
        """The handle :meth:`sample` returned for ``work`` (with any ``memory``: the shot
        order is fixed by the job ids), from its ``job_id()``."""
        jobs = wire_jobs(work, self.job_type, self.client.dialect)
        return self._retrieved(job_id, jobs, _Sampling(jobs, list(work), True))

    def retrieve_estimate(
        self, job_id: str, work: Sequence[EstimateWork]
    ) -> QoroHandle[list[Estimate]]:
        """The handle :meth:`estimate` returned for ``work``, from its ``job_id()``."""
        jobs = wire_jobs(work, JobType.ESTIMATE, self.client.dialect)
        return self._retrieved(job_id, jobs, _Estimating(jobs, list(work)))

    def _submitted(
        self, jobs: list[WireJob], work: Sequence[Work], finish: _Finish[R]
    ) -> QoroHandle[R]:
        """Send each wire job as :meth:`_requests` writes it: their handle."""
        requests = self._requests(jobs, work)
        return self._handle([self.client.submit_job(c, **how) for c, how in requests], finish)

    def _planned(self, jobs: list[WireJob], work: Sequence[Work]) -> SubmissionPlan:
        """Every wire job planned as :meth:`_submitted` would send it."""
        requests = self._requests(jobs, work)
        return SubmissionPlan(
            tuple(self.client.plan_job(circuits, **how) for circuits, how in requests)
        )

    def _requests(
        self, jobs: list[WireJob], work: Sequence[Work]
    ) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """Each wire job's circuits as OpenQASM 2 and the rest of its ``submit_job``
        arguments; every circuit is exported before the first is sent.

        Raises:
            InvalidInputError: no work; or work that travels as several jobs where the
                face hands its user one.
        """
        if not jobs:
            raise InvalidInputError("a Qoro job needs at least one circuit")
        if self.one_job and len(jobs) > 1:
            reason = (
                f"a {self.job_type.name} job takes one circuit (exactly one)"
                if self.job_type is JobType.CIRCUIT_CUT
                else "its circuits differ in shots (or, to estimate, in width), and the 2025 "
                "wire carries one of each per job; the 2026 wire (dialect='2026') carries any"
            )
            raise InvalidInputError(
                f"this work would travel as {len(jobs)} Qoro jobs, not one: {reason}; "
                "submit each part as a job of its own"
            )
        return [
            (
                {
                    e.label: work[e.item].qasm or to_qasm(e.label, e.circuit)
                    for e in job.entries
                    if e.circuit is not None
                },
                {
                    "job_type": job.job_type,
                    "shots": job.shots,
                    "tag": self.tag,
                    "system_name": self.system_name,
                    "observables": job.observables,
                    "templates": [_wire_template(rows, work) for rows in job.templates],
                    "maestro_config": self.maestro_config,
                    "device_config": self.device_config,
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
            self.client.job_status(each)
        return self._handle(job_ids, finish)

    def _handle(self, job_ids: list[str], finish: _Finish[R]) -> QoroHandle[R]:
        return QoroHandle(
            self.client,
            job_ids,
            finish,
            polling_interval=self.polling_interval,
            timeout=self.timeout,
        )


def retrieve(
    client: QoroClient,
    job_id: str,
    *,
    polling_interval: float = 1.0,
    timeout: float | None = None,
) -> QoroHandle[list[Labelled]]:
    """The Qoro job ``job_id``, whose work is not known here, from its id alone: its
    results come by label, in submission order when the labels say it (see
    :func:`~qiskit_divi.qoro.rules.submission_order`). No system is needed: a job id is
    the service's, whichever system ran it.

    Raises:
        JobNotFoundError: the service knows no such job.
    """
    client.job_status(job_id)
    return QoroHandle(
        client, [job_id], _Labelled(), polling_interval=polling_interval, timeout=timeout
    )


# -- results: each job's results by label, made typed ------------------------------------


@dataclass(frozen=True)
class Labelled:
    """One circuit's result from a job whose circuits are not known here, under its
    ``label`` and the ``name`` of the circuit the label stands for."""

    label: str
    name: str
    result: CircuitResult


RawResults = Sequence[Mapping[str, CircuitResult]]
"""Each Qoro job's results by label, as the service gives them, in job order."""


class _Finish(ABC, Generic[R]):
    """Turns each Qoro job's results by label into typed results."""

    @abstractmethod
    def __call__(self, job_ids: list[str], results: RawResults) -> R: ...


class _OfWork(_Finish[R]):
    """The finish of work known here, sent as ``jobs``: results matched to circuits."""

    def __init__(self, jobs: list[WireJob]) -> None:
        self._jobs = jobs

    def _matched(
        self, job_ids: list[str], results: RawResults
    ) -> Iterator[tuple[str, int, Entry, CircuitResult]]:
        """Each circuit's result, with its job's id, its position in the job and its entry."""
        for job_id, job, by_label in zip(job_ids, self._jobs, results, strict=True):
            in_order = zip(job.all_entries, matched(job_id, job.labels, by_label), strict=True)
            for position, (entry, result) in enumerate(in_order):
                yield job_id, position, entry, result


class _Sampling(_OfWork[Sampled]):
    def __init__(self, jobs: list[WireJob], work: list[SampleWork], memory: bool) -> None:
        super().__init__(jobs)
        self._work = work
        self._layouts = [QasmLayout.of(item.circuit) for item in work]
        self._memory = memory

    def __call__(self, job_ids: list[str], results: RawResults) -> Sampled:
        """Each circuit's outcomes, checked, with its classical bits in circuit order (as
        Aer's and every other target's are)."""
        sampled: Sampled = [[None] * item.num_sets for item in self._work]  # type: ignore[list-item]
        for job_id, position, entry, result in self._matched(job_ids, results):
            shots, layout = self._work[entry.item].shots, self._layouts[entry.item]
            outcomes = counted(job_id, entry.label, result, shots, layout.width)
            outcomes = outcomes.laid_out(layout.positions)
            if self._memory:
                outcomes = outcomes.shuffled(shot_order(job_id, position))
            sampled[entry.item][entry.row] = outcomes
        return sampled


class _Estimating(_OfWork[list[Estimate]]):
    def __init__(self, jobs: list[WireJob], work: list[EstimateWork]) -> None:
        super().__init__(jobs)
        self._work = work
        self._terms = [Terms.of(item.observables) for item in work]

    def __call__(self, job_ids: list[str], results: RawResults) -> list[Estimate]:
        tables = [
            np.zeros((len(item.parameter_values), len(terms.paulis)))
            for item, terms in zip(self._work, self._terms, strict=True)
        ]
        for job_id, _, entry, values in self._matched(job_ids, results):
            tables[entry.item][entry.row] = _term_values(
                job_id, values, self._terms[entry.item].paulis
            )
        return [
            Estimate(table @ terms.coefficients.T, None)
            for table, terms in zip(tables, self._terms, strict=True)
        ]


class _Labelled(_Finish[list[Labelled]]):
    def __call__(self, job_ids: list[str], results: RawResults) -> list[Labelled]:
        return [
            Labelled(label, name, by_label[label])
            for by_label in results
            for label, name in submission_order(list(by_label))
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


# -- the handle ------------------------------------------------------------------------

_QISKIT_STATUS = {
    QoroJobStatus.PENDING: JobStatus.QUEUED,
    QoroJobStatus.SCHEDULED: JobStatus.QUEUED,
    QoroJobStatus.RUNNING: JobStatus.RUNNING,
    QoroJobStatus.PAUSED: JobStatus.RUNNING,
    QoroJobStatus.INSUFFICIENT_CREDITS: JobStatus.ERROR,
    QoroJobStatus.TIMED_OUT: JobStatus.ERROR,
    QoroJobStatus.COMPLETED: JobStatus.DONE,
    QoroJobStatus.FAILED: JobStatus.ERROR,
    QoroJobStatus.CANCELLED: JobStatus.CANCELLED,
}

#: The most telling status of several jobs comes first.
_PRECEDENCE = (JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.RUNNING, JobStatus.QUEUED)


class QoroHandle(Reconnecting, Generic[R]):
    """Qoro jobs submitted for one piece of work (or one job known by its id), seen as one
    handle: it asks the service for their statuses, cancels them, waits on all of them
    at once, and ``finish`` makes their results typed.

    Args:
        client: the client that reaches the service.
        job_ids: the Qoro jobs, in the order ``finish`` reads their results.
        finish: turns each job's results by label into the typed results.
        polling_interval: first pause between status checks while :meth:`result` waits.
        timeout: seconds :meth:`result` waits by default (``None``: no limit).

    A pickled handle carries no token; unpickled, it reconnects with the environment's
    (see :class:`~qiskit_divi.qoro.reconnecting.Reconnecting`).
    """

    def __init__(
        self,
        client: QoroClient,
        job_ids: Sequence[str],
        finish: _Finish[R],
        *,
        polling_interval: float = 1.0,
        timeout: float | None = None,
    ) -> None:
        self._connect(client)
        self._job_ids = list(job_ids)
        self._finish = finish
        self._polling_interval = polling_interval
        self._timeout = timeout
        self._result: R | None = None

    def __repr__(self) -> str:
        return f"<QoroHandle({self.job_id()!r}) at {self._api_url}>"

    def job_id(self) -> str:
        """The Qoro job ids, comma-separated."""
        return ",".join(self._job_ids)

    @property
    def metadata(self) -> dict[str, Any]:
        """The Qoro job ids."""
        return {"qoro_job_ids": self.job_ids}

    @property
    def job_ids(self) -> list[str]:
        """The Qoro job ids, as ``DiviProvider().retrieve_job`` takes them one by one."""
        return list(self._job_ids)

    def result(self, timeout: float | None = None, *, polling_interval: float | None = None) -> R:
        """Wait for every Qoro job, then the typed results (kept: asked once).

        Args:
            timeout: seconds to wait; by default the handle's ``timeout``.
            polling_interval: first pause between status checks; by default the handle's.

        Raises:
            JobTimeoutError: not finished in time; the jobs go on and this can be retried.
            JobFailedError, JobCancelledError: a Qoro job failed or was cancelled.
            CorruptResultError: results do not match the circuits that were sent.
        """
        if self._result is None:
            client = self.client
            wait_until_final(
                self._job_ids,
                client.job_status,
                timeout=self._timeout if timeout is None else timeout,
                polling_interval=(
                    self._polling_interval if polling_interval is None else polling_interval
                ),
            )
            results = [client.job_results(job_id) for job_id in self._job_ids]
            self._result = self._finish(self._job_ids, results)
        return self._result

    def status(self) -> JobStatus:
        """DONE when every Qoro job is; else the most telling status among them."""
        if self._result is not None:
            return JobStatus.DONE
        statuses = {self._status(job_id) for job_id in self._job_ids}
        return next((status for status in _PRECEDENCE if status in statuses), JobStatus.DONE)

    def cancel(self) -> bool:
        """Cancel every Qoro job not finished yet; whether any was.

        Of several jobs, those already final are left alone, so that one that finished
        does not keep the others running; a lone job is asked at once.

        Raises:
            JobNotCancellableError: a job asked to cancel had finished.
        """
        going = [
            job_id
            for job_id in self._job_ids
            if len(self._job_ids) == 1 or self._status(job_id) not in JOB_FINAL_STATES
        ]
        for job_id in going:
            self.client.cancel_job(job_id)
        return bool(going)

    def _status(self, job_id: str) -> JobStatus:
        # A status this version does not know is not final: the job is still running.
        return _QISKIT_STATUS.get(self.client.job_status(job_id).status, JobStatus.RUNNING)
