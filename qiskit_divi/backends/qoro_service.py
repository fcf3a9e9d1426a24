"""``QoroService``: Divi's documented client for Qoro Quantum's cloud, over :class:`QoroClient`.

A thin adapter: it turns circuits into checked OpenQASM 2, accepts one job id or many
wherever the Backends Guide passes them, and shows a progress bar while it waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, TypeVar, Unpack, overload

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from ..circuits import CircuitLike, labelled, to_circuit
from ..exceptions import (
    AuthenticationError,
    InvalidCircuitError,
    InvalidInputError,
    InvalidTypeError,
    QoroConnectionError,
    QoroError,
)
from ..execution import EstimateWork, SampleWork
from ..options import positive_int, positive_seconds
from ..qoro.bulk import for_each
from ..qoro.client import QoroClient
from ..qoro.codec import (
    CircuitResult,
    ExpectationValues,
    decode_observables,
    encode_observables,
)
from ..qoro.execution import QoroExecution, SubmissionPlan
from ..qoro.polling import ProgressBar, wait_until_final
from ..qoro.protocol import (
    DEFAULT_SYSTEM,
    CreditBalance,
    CreditTransactionPage,
    Dialect,
    JobStatusReport,
    JobType,
    QoroJobStatus,
    QPUSystem,
    SimulatorCluster,
)
from ..qoro.rules import wire_term
from .circuit_runner import CircuitRunner, ParameterSets, checked_parameter_sets

JobIds = str | Iterable[str]
Observables = str | Sequence[str] | Mapping[str, str | Sequence[str]]
"""Terms for every circuit (``"ZZI;XXY"`` or a list), or a mapping label -> terms."""
Circuits = Mapping[str, CircuitLike]
"""Circuits by label: OpenQASM 2 text or circuits."""


class JobOptions(TypedDict, total=False):
    """What :meth:`QoroService.submit_circuits` takes besides its circuits."""

    job_type: JobType
    tag: str
    observables: Observables | None
    shots: int | Mapping[str, int] | None
    system_name: str | None


T = TypeVar("T")
ObservablesT = TypeVar("ObservablesT", bound=Observables)


class QoroService(CircuitRunner):
    """Runs circuits on Qoro Quantum's cloud: simulator clusters and QPUs.

    Args:
        auth_token: the API token; else, with its URL, ``QORO_API_KEY`` from the
            environment or a ``.env`` file in the working directory, else the saved
            account ``"default"`` (:mod:`qiskit_divi.accounts`).
        shots: measurements per circuit.
        polling_interval: seconds between the first status polls while waiting; later
            polls slow down gently.
        api_url: the service's base URL; else the URL found with the token, else the
            public service.
        system_name: the system jobs run on unless ``submit_circuits`` names another.
        request_timeout: seconds each HTTP request may wait.
        max_retry_time: seconds a failing request keeps being retried.
        dialect: the wire dialect, ``"2026"`` (today's service, the default) or
            ``"2025"`` (the Backends Guide's); see :doc:`/protocol`.
    """

    def __init__(
        self,
        auth_token: str | None = None,
        shots: int = 1000,
        polling_interval: float = 3.0,
        api_url: str | None = None,
        *,
        system_name: str = DEFAULT_SYSTEM,
        request_timeout: float = 30.0,
        max_retry_time: float = 60.0,
        dialect: Dialect | str | int = Dialect.V2026,
    ) -> None:
        super().__init__(shots)
        self.polling_interval = positive_seconds("polling_interval", polling_interval)
        self.system_name = system_name
        self._client = QoroClient(
            auth_token,
            api_url,
            request_timeout=request_timeout,
            max_retry_time=max_retry_time,
            dialect=dialect,
        )

    def __repr__(self) -> str:
        return (
            f"QoroService(api_url={self._client.api_url!r}, shots={self.shots}, "
            f"system_name={self.system_name!r})"
        )

    @property
    def client(self) -> QoroClient:
        """The HTTP client underneath, for everything this class does not wrap."""
        return self._client

    def test_connection(self) -> None:
        """Check the service is reachable and accepts the token.

        Raises:
            QoroConnectionError: (a builtin ``ConnectionError``) it is unreachable or
                refused the token.
        """
        try:
            self._client.ping()
        except AuthenticationError as err:
            raise QoroConnectionError(
                f"the Qoro Service at {self._client.api_url} refused the API token "
                f"(HTTP {err.status_code}): check QORO_API_KEY"
            ) from err

    def fetch_qpu_systems(self) -> list[QPUSystem]:
        """The QPU systems this token may use."""
        return self._client.fetch_qpu_systems()

    def fetch_simulator_clusters(self) -> list[SimulatorCluster]:
        """The simulator clusters this token may use."""
        return self._client.fetch_simulator_clusters()

    def get_credit_balance(self) -> CreditBalance:
        """The token's credit balance and how much it has used."""
        return self._client.get_credit_balance()

    def get_credit_transactions(self, page: int = 1, page_size: int = 20) -> CreditTransactionPage:
        """One page (from 1; at most 100 a page) of the token's credit history."""
        return self._client.get_credit_transactions(page, page_size)

    @overload
    def submit_circuits(
        self, circuits: Circuits, *, dry_run: Literal[False] = ..., **job: Unpack[JobOptions]
    ) -> str: ...

    @overload
    def submit_circuits(
        self, circuits: Circuits, *, dry_run: Literal[True], **job: Unpack[JobOptions]
    ) -> SubmissionPlan: ...

    def submit_circuits(
        self,
        circuits: Circuits,
        job_type: JobType = JobType.SIMULATE,
        tag: str = "default",
        observables: Observables | None = None,
        *,
        shots: int | Mapping[str, int] | None = None,
        system_name: str | None = None,
        dry_run: bool = False,
    ) -> str | SubmissionPlan:
        """Submit labelled circuits as ONE job and return its id.

        Everything is checked before anything is sent: each circuit (OpenQASM 2 text,
        sent as given, or a ``QuantumCircuit``) must export to OpenQASM 2, and one to
        sample must measure something; a ``CIRCUIT_CUT`` job takes one circuit. ``shots``
        (by default :attr:`shots`) is one count for every circuit or a mapping label ->
        shots (2026 wire: ``shot_groups``). An ``ESTIMATE`` job needs ``observables``:
        terms for every circuit (``"ZZI;XXY"`` or a list of terms, leftmost character on
        qubit 0), or a mapping label -> terms (2026 wire: one observable group per run of
        circuits), each as wide as its circuit; each circuit's values come back by term.

        With ``dry_run``, the job is checked and planned but not sent: its
        :class:`~qiskit_divi.qoro.execution.SubmissionPlan` (its requests, their sizes
        and, where the rule is known, its cost) is returned instead of an id.
        """
        job = self._job(circuits, job_type, tag, observables, shots, system_name)
        return job.plan() if dry_run else job.submit()

    def submit_parameter_sets(
        self,
        circuit: QuantumCircuit,
        parameter_sets: ParameterSets,
        job_type: JobType = JobType.SIMULATE,
        tag: str = "default",
        observables: str | Sequence[str] | None = None,
        *,
        shots: int | None = None,
        system_name: str | None = None,
    ) -> str:
        """Submit one parametric circuit, run once per row of values, as ONE job; its
        results are keyed by row label.

        ``parameter_sets`` maps a row label to a value for each of ``circuit.parameters``,
        in that order (:class:`~qiskit_divi.backends.ParallelSimulator` takes the same).
        On the 2026 wire the circuit travels once, as a template that names its
        parameters, with a row of values per set; a circuit no template can carry (see
        :func:`~qiskit_divi.circuits.to_qasm_template`), and any on the 2025 wire,
        travels as one bound circuit per row. Other arguments as :meth:`submit_circuits`.
        """
        return self._parametric_job(
            circuit, parameter_sets, job_type, tag, observables, shots, system_name
        ).submit()

    def _job(
        self,
        circuits: Circuits,
        job_type: JobType,
        tag: str,
        observables: Observables | None,
        shots: int | Mapping[str, int] | None,
        system_name: str | None,
    ) -> _OneJob:
        """Labelled circuits as work items, each sent under its label: text as given (parsed
        once, to check it and know its width), a circuit as the core exports it."""
        circuits = labelled(circuits)
        terms = self._terms_by_label(job_type, observables, circuits)
        counts = {
            label: positive_int(f"shots of {label!r}", count)
            for label, count in _by_label(
                "shots", self.shots if shots is None else shots, circuits
            ).items()
        }
        parsed = {label: to_circuit(label, circuit) for label, circuit in circuits.items()}
        texts = {label: text for label, text in circuits.items() if isinstance(text, str)}
        execution = self._execution(job_type, tag, system_name)
        if terms is None:
            sampled = [
                SampleWork(parsed[label], counts[label], label=label, qasm=texts.get(label))
                for label in circuits
            ]
            return _OneJob(execution, sampled=sampled)
        estimated = [
            EstimateWork(
                parsed[label],
                _operators(label, parsed[label], terms[label]),
                np.empty((1, 0)),  # a bound circuit: one parameter set, of no values
                counts[label],
                label=label,
                qasm=texts.get(label),
            )
            for label in circuits
        ]
        return _OneJob(execution, estimated=estimated)

    def _parametric_job(
        self,
        circuit: QuantumCircuit,
        parameter_sets: ParameterSets,
        job_type: JobType,
        tag: str,
        observables: str | Sequence[str] | None,
        shots: int | None,
        system_name: str | None,
    ) -> _OneJob:
        """One parametric circuit as one work item, each row under its user's label."""
        rows = checked_parameter_sets(circuit, parameter_sets)
        needed = _needed(job_type, observables)
        terms = None if needed is None else _terms(needed)
        count = self.shots if shots is None else shots
        values = np.array(list(rows.values()))
        execution = self._execution(job_type, tag, system_name)
        if terms is None:
            item = SampleWork(circuit, count, values, label=circuit.name, row_labels=list(rows))
            return _OneJob(execution, sampled=[item])
        operators = _operators(circuit.name, circuit, terms)
        estimate = EstimateWork(
            circuit, operators, values, count, label=circuit.name, row_labels=list(rows)
        )
        return _OneJob(execution, estimated=[estimate])

    def _execution(self, job_type: JobType, tag: str, system_name: str | None) -> QoroExecution:
        """The execution core, sending this service's work as one job of ``job_type``."""
        return QoroExecution(
            self._client, system_name or self.system_name, job_type=job_type, tag=tag, one_job=True
        )

    def _terms_by_label(
        self, job_type: JobType, observables: Observables | None, circuits: Mapping[str, object]
    ) -> dict[str, list[str]] | None:
        """Each circuit's terms for an ESTIMATE job: the same for all, or by label (on the
        2025 wire, the same for all); ``None`` for a sampling job."""
        observables = _needed(job_type, observables)
        if observables is None:
            return None
        by_label = {
            label: _terms(terms)
            for label, terms in _by_label("observables", observables, circuits).items()
        }
        if (
            self._client.dialect is Dialect.V2025
            and len({tuple(t) for t in by_label.values()}) > 1
        ):
            raise InvalidInputError(
                "the 2025 wire takes one set of observables for all circuits; "
                "per-circuit observables need the 2026 wire (dialect='2026')"
            )
        return by_label

    def get_job_status(self, job_ids: JobIds) -> list[QoroJobStatus]:
        """The status of each job, in order."""
        return [self._client.job_status(job_id).status for job_id in _ids(job_ids)]

    def poll_job_status(
        self,
        job_ids: JobIds,
        loop_until_complete: bool = False,
        timeout: float | None = None,
        poll_callback: Callable[[list[QoroJobStatus]], None] | None = None,
        progress: bool | None = None,
    ) -> list[QoroJobStatus]:
        """The status of each job; with ``loop_until_complete``, once all are final.

        While looping, ``poll_callback`` sees the statuses after each poll and a
        progress bar is drawn (by default only when stderr is a terminal).

        Raises:
            JobTimeoutError: some job is not final after ``timeout`` seconds.
        """
        ids = _ids(job_ids)
        if not loop_until_complete:
            return self.get_job_status(ids)
        with ProgressBar(len(ids), enabled=progress) as bar:

            def on_poll(reports: list[JobStatusReport]) -> None:
                bar(reports)
                if poll_callback is not None:
                    poll_callback([report.status for report in reports])

            reports = wait_until_final(
                ids,
                self._client.job_status,
                timeout=timeout,
                polling_interval=self.polling_interval,
                on_poll=on_poll,
            )
        return [report.status for report in reports]

    def get_job_results(self, job_ids: JobIds) -> list[dict[str, Any]]:
        """Every circuit's ``{"label", "results"}``, job after job, as ParallelSimulator
        returns them; results are counts by bitstring (classical bit 0 rightmost), or
        expectation values by term. Jobs are fetched a few at a time.

        Raises:
            JobFailedError: a job FAILED; the server's reason is in the message.
            JobCancelledError: a job was cancelled.
            JobNotFinishedError: a job is still running.
        """
        fetched = for_each(self._client.job_results, _ids(job_ids))
        failed = next((each for each in fetched if isinstance(each, QoroError)), None)
        if failed is not None:
            raise failed
        return [
            {"label": label, "results": _rendered(results)}
            for each in fetched
            if not isinstance(each, QoroError)
            for label, results in each.items()
        ]

    def cancel_job(self, job_ids: JobIds) -> list[dict]:
        """Cancel each job; the service's answer for each.

        Raises:
            JobNotCancellableError: a job had already finished.
        """
        return [self._client.cancel_job(job_id) for job_id in _ids(job_ids)]

    def delete_job(self, job_ids: JobIds) -> None:
        """Delete each job and its results."""
        for job_id in _ids(job_ids):
            self._client.delete_job(job_id)


def _rendered(results: CircuitResult) -> dict[str, Any]:
    if isinstance(results, ExpectationValues):
        return results.to_dict()
    return results.get_counts()


def _ids(job_ids: JobIds) -> list[str]:
    """One id or many, as a list; a string is one id."""
    if not isinstance(job_ids, str | Iterable):
        raise InvalidTypeError(f"job ids must be a string or a list of strings, got {job_ids!r}")
    ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
    if not ids:
        raise InvalidInputError("no job ids given")
    for job_id in ids:
        if not isinstance(job_id, str):
            raise InvalidTypeError(f"job ids must be strings, got {job_id!r}")
    return ids


@dataclass(frozen=True)
class _OneJob:
    """One job's work items (to sample, or to estimate), sent or planned by the core."""

    execution: QoroExecution
    sampled: Sequence[SampleWork] = ()
    estimated: Sequence[EstimateWork] = ()

    def submit(self) -> str:
        """Send the job; its id."""
        if self.estimated:
            (job_id,) = self.execution.estimate(self.estimated, seed=None).job_ids
        else:
            (job_id,) = self.execution.sample(self.sampled, seed=None, memory=False).job_ids
        return job_id

    def plan(self) -> SubmissionPlan:
        """The job's plan, nothing sent."""
        if self.estimated:
            return self.execution.plan_estimate(self.estimated, seed=None)
        return self.execution.plan_sample(self.sampled, seed=None, memory=False)


def _needed(job_type: JobType, observables: ObservablesT | None) -> ObservablesT | None:
    """An ESTIMATE job's observables, which it needs; ``None`` for a sampling job, which
    takes none."""
    if job_type is not JobType.ESTIMATE:
        if observables is not None:
            raise InvalidInputError("observables only apply to ESTIMATE jobs")
        return None
    if observables is None:
        raise InvalidInputError("an ESTIMATE job needs observables, e.g. 'ZZ;XX'")
    return observables


def _by_label(
    what: str, value: T | Mapping[str, T], circuits: Mapping[str, object]
) -> dict[str, T]:
    """A value for each circuit: one for all, or given by label (exactly the circuits')."""
    if not isinstance(value, Mapping):
        return dict.fromkeys(circuits, value)
    if set(value) != set(circuits):
        differ = sorted(set(circuits) ^ set(value))
        raise InvalidInputError(
            f"{what} by label must name exactly the circuits; {differ[:5]} differ"
        )
    return {label: value[label] for label in circuits}


def _operators(label: str, circuit: QuantumCircuit, terms: list[str]) -> list[SparsePauliOp]:
    """Each wire term (qubit 0 leftmost) as an observable, in the user's order.

    Raises:
        InvalidCircuitError: the terms are not as wide as the circuit.
    """
    if circuit.num_qubits != len(terms[0]):
        raise InvalidCircuitError(
            label, f"has {circuit.num_qubits} qubits but the observables act on {len(terms[0])}"
        )
    return [SparsePauliOp(wire_term(term)) for term in terms]


def _terms(observables: str | Sequence[str]) -> list[str]:
    if isinstance(observables, str):
        return decode_observables(observables)
    encode_observables(observables)
    return list(observables)
