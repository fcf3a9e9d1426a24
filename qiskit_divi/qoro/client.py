"""The one place that speaks HTTP to the Qoro Service (``docs/protocol.rst`` describes it).

A :class:`QoroClient` owns a ``requests`` session carrying the bearer token and the
retry policies of :mod:`.retry`, and offers one method per endpoint. It speaks one wire
:class:`~qiskit_divi.qoro.protocol.Dialect` (2026 unless told otherwise). Every failure
is a :class:`~qiskit_divi.exceptions.QoroError`; the token never leaves the session: plain
``http`` goes only to loopback and never through a proxy, and every text taken from an
answer is scrubbed of it before it is cut short or shown. Each answer is read within a
total deadline (:mod:`.deadline`) and up to a size limit, and results decode within a
memory budget, so a hostile or broken server can neither hang nor exhaust the client.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from ..accounts import resolve
from ..exceptions import (
    AnswerTooLargeError,
    AuthenticationError,
    CorruptResultError,
    InsufficientCreditsError,
    InvalidInputError,
    InvalidTypeError,
    JobCancelledError,
    JobFailedError,
    JobNotCancellableError,
    JobNotFinishedError,
    JobNotFoundError,
    JobTimedOutError,
    QoroAPIError,
    QoroConnectionError,
    QoroError,
    TooManyPagesError,
    UnknownBackendError,
)
from ..journal import JournalEntry, record_submission
from ..options import positive_int, positive_seconds
from ..version import __version__
from .codec import (
    MAX_RESULT_BITS,
    CircuitResult,
    chunk_circuits,
    decode_observables,
    decode_result,
    encode_observable_groups,
    pack_circuit,
    plan_circuit_uploads,
    plan_template_uploads,
    result_bits,
)
from .deadline import Deadline, DeadlineAdapter
from .polling import wait_until_final
from .protocol import (
    CREDIT_PAGE_SIZE_LIMIT,
    DEFAULT_SYSTEM,
    RESULTS_PAGE_LIMIT,
    CreditBalance,
    CreditTransactionPage,
    Dialect,
    Endpoint,
    ExecutionConfig,
    JobStatusReport,
    JobType,
    QoroJobStatus,
    QPUSystem,
    SimulatorCluster,
)
from .retry import RetrySettings

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MESSAGE_LIMIT = 300
#: Tokens this long or longer are scrubbed wherever they appear, shorter ones only
#: where they stand alone (see ``_BearerToken.scrub``).
_WORDLIKE_TOKEN = 8
#: Largest answer body the client reads, but for results pages.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
#: Largest results page the client reads (a page holds up to ``RESULTS_PAGE_LIMIT``
#: circuits' histograms).
MAX_RESULTS_PAGE_BYTES = 64 * 1024 * 1024
#: Most results pages one job's results are read from.
MAX_RESULT_PAGES = 1000
_READ_CHUNK_BYTES = 64 * 1024
#: What reading an answer's fields can raise when the answer is not what it should be.
_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError)
#: A template's parameter names: OpenQASM 2 identifiers, which its gate arguments use.
_PARAMETER_NAME = re.compile(r"[a-z][A-Za-z0-9_]*")
#: The error each final status other than COMPLETED raises from a wait or from results.
_ENDED: dict[QoroJobStatus, Callable[[str, str | None], QoroError]] = {
    QoroJobStatus.FAILED: JobFailedError,
    QoroJobStatus.CANCELLED: JobCancelledError,
    QoroJobStatus.INSUFFICIENT_CREDITS: InsufficientCreditsError,
    QoroJobStatus.TIMED_OUT: JobTimedOutError,
}

System = QPUSystem | SimulatorCluster


@dataclass(frozen=True)
class CircuitTemplate:
    """One circuit uploaded once, run once per row of parameter values (2026 wire).

    Attributes:
        qasm: OpenQASM 2 whose gate arguments name the parameters (``ry(theta) q[0];``,
            ``rz(2*phi) q[1];``); the service puts each row's values in their place.
        parameter_names: the names, in the order each row lists its values.
        parameter_sets: row label -> values (floats, in name order). Results come back
            keyed by these labels.
        shots: this template's shots, else the job's.
        observables: this template's observables (one group for every row), else the
            job's.
    """

    qasm: str
    parameter_names: Sequence[str]
    parameter_sets: Mapping[str, Sequence[float]]
    shots: int | None = None
    observables: str | None = None


#: A credit rule: what a job of ``(shots, observables)`` circuits (or template rows)
#: costs, e.g. the local server's :func:`qiskit_divi.server.store.job_cost`.
CostRule = Callable[[Sequence[tuple[int | None, str | None]]], Decimal]


@dataclass(frozen=True)
class UploadPlan:
    """One ``add_circuits`` request as it would be sent: its body's size in bytes, the
    circuits and template rows it carries, and its body's fields."""

    bytes: int
    circuits: int
    rows: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class JobPlan:
    """One Qoro job as :meth:`QoroClient.submit_job` would send it, nothing sent.

    Attributes:
        system: the system it targets; ``job_type`` its type.
        init: the ``job/init/`` body (no secret: the token travels in a header), and
            ``init_bytes`` its size as sent.
        uploads: every ``add_circuits`` request, in order.
        labels: the circuits', then the template rows' labels (results are keyed so).
        circuits, templates, rows: how many circuits, templates and template rows.
        shots: each circuit's (and row's) shots, by label; empty for expectation values.
        cost: the credits the job costs by the client's ``cost_rule``; ``None`` when the
            rule is unknown (the Qoro Service publishes none).
    """

    system: str
    job_type: JobType
    init: dict[str, Any]
    init_bytes: int
    uploads: tuple[UploadPlan, ...]
    labels: tuple[str, ...]
    circuits: int
    templates: int
    rows: int
    shots: dict[str, int]
    cost: Decimal | None

    @property
    def bytes(self) -> int:
        """The bytes of every request body, ``job/init/``'s included."""
        return self.init_bytes + sum(upload.bytes for upload in self.uploads)


@dataclass(frozen=True)
class JobRequest:
    """One job as :meth:`QoroClient.submit_job` and :meth:`QoroClient.plan_job` take it
    (their keywords are its fields): labelled OpenQASM 2 circuits and templates, and
    how to run them."""

    circuits: Mapping[str, str]
    _: KW_ONLY
    job_type: JobType
    shots: int | Mapping[str, int] | None = None
    tag: str = "default"
    system_name: str = DEFAULT_SYSTEM
    observables: str | Mapping[str, str] | None = None
    templates: Sequence[CircuitTemplate] = ()
    maestro_config: Mapping[str, Any] | None = None
    device_config: Mapping[str, Any] | None = None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _called_with(
    request: Callable[_P, JobRequest],
) -> Callable[[Callable[[QoroClient, JobRequest], _R]], Callable[Concatenate[QoroClient, _P], _R]]:
    """Let a client method of one :class:`JobRequest` be called with the request's own
    arguments (and show them as its signature), so a job's keywords are stated once."""

    def decorate(method: Callable[[QoroClient, JobRequest], _R]) -> Callable[..., _R]:
        @functools.wraps(method)
        def called(self: QoroClient, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            return method(self, request(*args, **kwargs))

        own = inspect.signature(request)
        self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        called.__signature__ = own.replace(  # type: ignore[attr-defined]
            parameters=[self_parameter, *own.parameters.values()],
            return_annotation=inspect.signature(method).return_annotation,
        )
        return called

    return decorate


@dataclass
class _Submission:
    """A job checked and planned: its ``job/init/`` body and every upload's body."""

    init: dict[str, Any]
    uploads: list[dict[str, Any]] = field(default_factory=list)
    labels: tuple[str, ...] = ()  # the circuits', then the templates' rows'


class QoroClient:
    """A session with the Qoro Service.

    Args:
        auth_token: the API token; by default the first place that holds one gives the
            token and its URL: ``QORO_API_KEY`` with ``QORO_API_URL`` (the environment,
            then a ``.env`` file in the working directory, which leaves ``os.environ``
            untouched), then the saved account ``"default"``
            (:mod:`qiskit_divi.accounts`).
        api_url: the service's base URL, used with whichever token is found; by default
            the URL found with the token, else the public service. Plain ``http`` only
            for loopback hosts.
        account: a saved account's name, to use it instead of looking elsewhere.
        request_timeout: seconds each attempt of a request may take to connect, and then
            to send the request and receive the whole answer (however slowly it trickles in).
        max_retry_time: seconds after a request's first failure past which it is not
            retried again; so one call takes at most about ``max_retry_time`` plus
            twice ``request_timeout``.
        retry: the rest of the retry policy (counts, backoff): see
            :class:`~qiskit_divi.qoro.retry.RetrySettings`.
        dialect: the wire dialect the service speaks: ``"2026"`` (today's service, the
            default) or ``"2025"`` (Divi's Backends Guide), or a
            :class:`~qiskit_divi.qoro.protocol.Dialect`.

    The client cannot be pickled: it holds the token. Create one in each process. Copies
    of what holds it, made in this process, share it (``copy.deepcopy`` gives the client
    itself).
    """

    def __init__(
        self,
        auth_token: str | None = None,
        api_url: str | None = None,
        *,
        request_timeout: float = 30.0,
        max_retry_time: float = 60.0,
        retry: RetrySettings | None = None,
        dialect: Dialect | str | int = Dialect.V2026,
        account: str | None = None,
    ) -> None:
        credentials = resolve(auth_token, api_url, account=account)
        self.api_url = credentials.url
        self.request_timeout = positive_seconds("request_timeout", request_timeout)
        self.dialect = _dialect(dialect)
        self._systems: dict[str, System] | None = None
        self.cost_rule: CostRule | None = None
        """The service's credit rule, when known, for the cost a :class:`JobPlan` shows:
        ``qiskit_divi.server.store.job_cost`` for a local server with a ledger."""
        max_retry_time = positive_seconds("max_retry_time", max_retry_time)
        settings = retry or RetrySettings()
        self._auth = _BearerToken(credentials.token)
        self._session = requests.Session()
        self._session.auth = self._auth
        self._session.headers.update(
            {"Accept": "application/json", "User-Agent": f"qiskit-divi/{__version__}"}
        )
        everything = DeadlineAdapter(max_retries=settings.policy(max_retry_time))
        init = DeadlineAdapter(max_retries=settings.init_policy(max_retry_time))
        self._session.mount("https://", everything)
        self._session.mount("http://", everything)
        self._session.mount(self._url(Endpoint.INIT_JOB.path()), init)

    def __repr__(self) -> str:
        return f"QoroClient(api_url={self.api_url!r}, dialect={self.dialect.value!r})"

    def speaking(self, dialect: Dialect | str | int) -> QoroClient:
        """This client in ``dialect``: itself if it speaks it already, else a client that
        shares its session (and so its token and connections)."""
        dialect = _dialect(dialect)
        if dialect is self.dialect:
            return self
        other = object.__new__(QoroClient)
        other.__dict__.update(self.__dict__, dialect=dialect, _systems=None)
        return other

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "a QoroClient holds an API token and cannot be pickled; "
            "create a new client where it is needed"
        )

    def __copy__(self) -> QoroClient:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> QoroClient:
        return self

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()

    def __enter__(self) -> QoroClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- endpoints ----------------------------------------------------------------------

    def ping(self) -> None:
        """Check the service is reachable and accepts the token.

        Raises:
            QoroConnectionError: the service cannot be reached.
            AuthenticationError: it refused the token (401/403).
        """
        self._call(Endpoint.PING)

    def fetch_qpu_systems(self) -> list[QPUSystem]:
        """The QPU systems this token may use (and remembered: see :meth:`system`)."""
        systems = self._records(Endpoint.QPU_SYSTEMS, QPUSystem.from_wire)
        self._remember(systems)
        return systems

    def fetch_simulator_clusters(self) -> list[SimulatorCluster]:
        """The simulator clusters this token may use (and remembered: see :meth:`system`)."""
        clusters = self._records(Endpoint.SIMULATOR_CLUSTERS, SimulatorCluster.from_wire)
        self._remember(clusters)
        return clusters

    def system(self, name: str) -> System:
        """The system called ``name`` as the listings show it: a simulator cluster when
        ``simulatorcluster/`` lists it, else a QPU system.

        The listings are fetched the first time a name is looked up (never when the
        client is made) and kept by this client; a name they lack fetches them once more.

        Raises:
            UnknownBackendError: neither listing has the name.
        """
        if self._systems is not None and name in self._systems:
            return self._systems[name]
        self._systems = None
        self.fetch_qpu_systems()
        self.fetch_simulator_clusters()
        listed: dict[str, System] = self._systems or {}
        if name in listed:
            return listed[name]
        names = ", ".join(map(repr, listed)) or "none"
        raise UnknownBackendError(f"no Qoro system {name!r} for this token; listed: {names}")

    def get_credit_balance(self) -> CreditBalance:
        """The token's credit balance and how much it has used."""
        return self._read(Endpoint.CREDITS, CreditBalance.from_wire)

    def get_credit_transactions(self, page: int = 1, page_size: int = 20) -> CreditTransactionPage:
        """One page of the token's credit history (``page`` counts from 1; at most
        100 transactions a page)."""
        page = positive_int("page", page)
        page_size = positive_int("page_size", page_size)
        if page_size > CREDIT_PAGE_SIZE_LIMIT:
            raise InvalidInputError(
                f"page_size must be at most {CREDIT_PAGE_SIZE_LIMIT}, got {page_size}"
            )
        params = {"page": page, "page_size": page_size}
        return self._read(
            Endpoint.CREDIT_TRANSACTIONS, CreditTransactionPage.from_wire, params=params
        )

    def job_execution_config(self, job_id: str) -> ExecutionConfig:
        """The settings a job was opened with (``maestro_config`` or ``device_config``)."""
        return self._read(Endpoint.EXECUTION_CONFIG, ExecutionConfig.from_wire, job_id=job_id)

    @_called_with(JobRequest)
    def submit_job(self, job: JobRequest) -> str:
        """Create one job from labelled OpenQASM 2 circuits and templates; return its id.

        Sampling jobs need ``shots``: one number, or (2026 wire) a mapping label ->
        shots over every circuit, sent as ``shot_groups``. ``ESTIMATE`` jobs need
        ``observables`` (``"ZZI;XXY"``, leftmost character on qubit 0): one set for every
        circuit, or (2026 wire) a mapping label -> terms, sent as ``|`` groups with a
        ``circuit_ham_map``. ``templates`` (2026 wire) each upload one parametric circuit
        with its rows of values; results are keyed by circuit and row labels alike.
        ``maestro_config`` (a simulator cluster's settings) or ``device_config`` (a QPU
        system's) travel in ``job/init/`` (2026 wire).

        Every check runs and every upload is planned before the first request; on the
        2026 wire the target's kind comes from the listings (fetched once per client).
        The upload then takes one ``job/init/`` and as many ``add_circuits`` as the body
        cap needs. If an upload fails, the job is cancelled (best effort) and the error,
        which names the job, says so. The job is recorded in the job journal
        (:mod:`qiskit_divi.journal`) as soon as it has an id.

        Raises:
            InvalidInputError: something no request can carry (a note says what), such
                as ``CIRCUIT_CUT`` on the 2026 wire, or settings for the other kind of
                target; names the wire that can, where one can.
            UnknownBackendError: (2026 wire) the listings have no ``system_name``.
            PayloadTooLargeError: one circuit or parameter row is larger than a
                request may carry.
            QoroAPIError: the service refused a request.
        """
        submission = self._plan(job)
        response = self._call(Endpoint.INIT_JOB, body=submission.init)
        data = self._json(response)
        job_id = data.get("job_id") if isinstance(data, dict) else None
        if not isinstance(job_id, str) or not _JOB_ID.fullmatch(self._auth.scrub(job_id)):
            raise self._unreadable("job/init/ answer without a usable job id", response)
        record_submission(
            JournalEntry(
                job_id=job_id,
                api_url=self.api_url,
                system=job.system_name,
                job_type=job.job_type.value,
                tag=job.tag,
                shots=job.shots if isinstance(job.shots, int) else None,
                labels=submission.labels,
                observables=job.observables if isinstance(job.observables, str) else None,
                dialect=self.dialect.value,
            )
        )
        self._upload(job_id, submission.uploads)
        log.info(
            "submitted Qoro job %s: %d circuits in %d uploads",
            job_id,
            len(submission.labels),
            len(submission.uploads),
        )
        return job_id

    @_called_with(JobRequest)
    def plan_job(self, job: JobRequest) -> JobPlan:
        """What :meth:`submit_job` with the same arguments would send, checked the same
        way, without creating a job (on the 2026 wire the systems may be listed).

        Raises:
            The errors :meth:`submit_job` raises before its first request.
        """
        submission = self._plan(job)
        shots = job.shots
        estimate = job.job_type is JobType.ESTIMATE
        by_label: dict[str, int] = {}
        if not estimate:
            by_label = {
                label: shots if isinstance(shots, int) else shots[label]  # type: ignore[index]
                for label in job.circuits
            }
            for template in job.templates:
                count = template.shots if template.shots is not None else shots
                by_label.update(dict.fromkeys(template.parameter_sets, count))  # type: ignore[arg-type]
        rule = self.cost_rule
        charges = [(by_label.get(label), "*" if estimate else None) for label in submission.labels]
        return JobPlan(
            system=job.system_name,
            job_type=job.job_type,
            init=submission.init,
            init_bytes=len(self.dialect.render(submission.init).encode()),
            uploads=tuple(self._upload_plan(body) for body in submission.uploads),
            labels=submission.labels,
            circuits=len(job.circuits),
            templates=len(job.templates),
            rows=sum(len(t.parameter_sets) for t in job.templates),
            shots=by_label,
            cost=None if rule is None else rule(charges),
        )

    def _upload_plan(self, body: Mapping[str, Any]) -> UploadPlan:
        return UploadPlan(
            bytes=len(self.dialect.render(body).encode()),
            circuits=len(body.get("circuits", ())),
            rows=len(body.get("parameter_sets", ())),
            fields=tuple(body),
        )

    def _plan(self, job: JobRequest) -> _Submission:
        """Check a submission and build every body it sends, before any request that
        changes anything (the 2026 wire may list the systems first)."""
        templates = _check_submission(job)
        circuits, shots, observables = job.circuits, job.shots, job.observables
        dialect = self.dialect
        estimate = job.job_type is JobType.ESTIMATE
        shots_by_label = _shots(shots, circuits, needed=not estimate and bool(circuits))
        groups, ranges = _observable_groups(observables, circuits, estimate)
        simulator = True
        if dialect is Dialect.V2026:
            dialect.job_type_value(job.job_type)  # refuses CIRCUIT_CUT before any request
            system = self.system(job.system_name)
            simulator = isinstance(system, SimulatorCluster)
            if estimate and not system.supports_expval:
                raise InvalidInputError(
                    f"system {job.system_name!r} runs no expectation (ESTIMATE) jobs"
                )
        elif templates or len(set(shots_by_label.values())) > 1:
            raise InvalidInputError(
                "the 2025 wire takes neither templates nor per-circuit shots; "
                "they need the 2026 wire (dialect='2026')"
            )
        distinct = set(shots_by_label.values())
        common = distinct.pop() if len(distinct) == 1 else None  # one count for all circuits
        submission = _Submission(
            dialect.init_job_body(
                job_type=job.job_type,
                system_name=job.system_name,
                tag=job.tag,
                shots=common if dialect is Dialect.V2025 and not estimate else None,
                simulator=simulator,
                maestro_config=job.maestro_config,
                device_config=job.device_config,
            )
        )
        parts: list[_Part] = []
        if circuits:
            grouped = None if common is not None or estimate else shots_by_label
            observables_text = (
                None if groups is None else encode_observable_groups(groups, dialect)
            )
            options = {"shots": common, "observables": observables_text, "circuit_ham_map": ranges}
            parts += _circuit_parts(circuits, options, dialect, grouped)
        for template in templates:
            options = _template_options(template, shots, observables, estimate, dialect)
            parts += _template_parts(template, options, dialect)
        submission.uploads = [
            dialect.upload_body(payload, last=i == len(parts) - 1, **options)
            for i, (payload, options) in enumerate(parts)
        ]
        submission.labels = (*circuits, *(row for t in templates for row in t.parameter_sets))
        return submission

    def _upload(self, job_id: str, bodies: Sequence[dict[str, Any]]) -> None:
        """Send a job's uploads; if one fails, cancel the job rather than leave it open."""
        try:
            for body in bodies:
                self._call(Endpoint.ADD_CIRCUITS, body=body, job_id=job_id)
        except QoroError as err:
            try:
                self.cancel_job(job_id)
            except QoroError as cancel_error:
                note = (
                    f"job {job_id} was created but not every upload arrived, and cancelling "
                    f"it failed too ({cancel_error}); cancel or delete it yourself"
                )
            else:
                note = f"job {job_id} was created but not every upload arrived: it was cancelled"
            log.warning("%s", note)
            err.add_note(note)
            raise

    def job_status(self, job_id: str, timeout: float | None = None) -> JobStatusReport:
        """The job's status, with the server's explanation when it failed.

        Args:
            job_id: the job.
            timeout: seconds the whole call may take, retries included (a wait passes
                what is left of its own timeout); ``None``: the client's limits alone.
        """
        response = self._call(Endpoint.STATUS, job_id=job_id, timeout=timeout)
        try:
            report = JobStatusReport.from_wire(self._json(response))
        except _UNREADABLE:
            raise self._unreadable("status answer", response, job_id) from None
        if report.message is None:
            return report
        return dataclasses.replace(report, message=self._auth.redact(report.message))

    def job_results(self, job_id: str) -> dict[str, CircuitResult]:
        """Each circuit's results by label: its outcomes, or its expectation values.

        Every page is fetched; pages are asked for by offset, never by following the
        server's ``next`` URL, so the token only ever goes to :attr:`api_url`. At most
        :data:`MAX_RESULT_PAGES` pages are read, and the results decode to at most
        :data:`~qiskit_divi.qoro.codec.MAX_RESULT_BITS` outcome bits in all.

        Raises:
            JobFailedError: the job FAILED (with the server's reason); its subclasses
                :class:`~qiskit_divi.exceptions.InsufficientCreditsError` and
                :class:`~qiskit_divi.exceptions.JobTimedOutError` when it ended
                INSUFFICIENT_CREDITS or TIMED_OUT.
            JobCancelledError: the job was cancelled.
            JobNotFinishedError: the job is not final yet.
            CorruptResultError: a result failed its integrity checks, or a label repeats.
            ResultTooLargeError, TooManyPagesError, AnswerTooLargeError: the results
                passed one of the limits above.
        """
        report = _succeeded(job_id, self.job_status(job_id))
        if report.status is not QoroJobStatus.COMPLETED:
            raise JobNotFinishedError(job_id, report.status.value)
        results: dict[str, CircuitResult] = {}
        budget = MAX_RESULT_BITS
        for _ in range(MAX_RESULT_PAGES):
            page = self._results_page(job_id, offset=len(results))
            for entry in page["results"]:
                label, result = self._decoded(job_id, entry, results, budget)
                budget -= result_bits(result)
                results[label] = result
            if not page.get("next"):
                return results
            if not page["results"]:
                raise QoroAPIError("an empty results page points to a next one", job_id=job_id)
        raise TooManyPagesError(
            f"job {job_id}: results still point to a next page after {MAX_RESULT_PAGES} pages",
            MAX_RESULT_PAGES,
        )

    def _decoded(
        self, job_id: str, entry: Any, seen: Mapping[str, CircuitResult], budget: int
    ) -> tuple[str, CircuitResult]:
        """One page entry's label and result, checked; the label must be new and carry
        no token, and the result decode within ``budget`` bits."""
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(label, str) or label in seen or self._auth.scrub(label) != label:
            shown = self._auth.redact(repr(label)) if isinstance(label, str) else "none"
            raise CorruptResultError(f"job {job_id}: missing or repeated label {shown}")
        try:
            return label, decode_result(entry.get("results"), max_bits=budget)
        except CorruptResultError as err:
            text = self._auth.redact(f"circuit {label!r}: {err}")
            raise CorruptResultError(f"job {job_id}: {text}") from None

    def cancel_job(self, job_id: str) -> dict:
        """Cancel a pending or running job; the answer counts the circuits cancelled.

        A retried cancel whose earlier attempt's answer was lost finds the job already
        cancelled: that is success, answered as ``{"status": "CANCELLED", "job_id": ...}``.

        Raises:
            JobNotCancellableError: the job already finished (409).
        """
        errors = {409: JobNotCancellableError}
        try:
            return self._json(self._call(Endpoint.CANCEL, job_id=job_id, errors=errors))
        except JobNotCancellableError as err:
            if not err.retried or self.job_status(job_id).status is not QoroJobStatus.CANCELLED:
                raise
        log.info("Qoro job %s was cancelled by an attempt whose answer was lost", job_id)
        return {"status": QoroJobStatus.CANCELLED.value, "job_id": job_id}

    def delete_job(self, job_id: str) -> None:
        """Delete a job and its results from the service (a retried delete that finds the
        job gone has succeeded: its earlier attempt's answer was lost)."""
        try:
            self._call(Endpoint.DELETE, job_id=job_id)
        except JobNotFoundError as err:
            if not err.retried:
                raise
            log.info("Qoro job %s was deleted by an attempt whose answer was lost", job_id)

    def wait_for_job(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        polling_interval: float = 1.0,
        callback: Callable[[JobStatusReport], None] | None = None,
    ) -> JobStatusReport:
        """Poll until the job is final; the interval grows gently up to ten times its start.

        Returns the final report of a COMPLETED job. A status this client does not know
        is taken as not final: the wait goes on (and logs it once).

        Raises:
            JobTimeoutError: still not final after ``timeout`` seconds; the job goes on.
            JobFailedError, JobCancelledError: the job ended otherwise (as
                :meth:`job_results` raises them).
        """

        def on_poll(reports: list[JobStatusReport]) -> None:
            if callback is not None:
                callback(reports[0])

        (report,) = wait_until_final(
            [_job_id(job_id)],
            self.job_status,
            timeout=timeout,
            polling_interval=polling_interval,
            on_poll=on_poll,
        )
        return _succeeded(job_id, report)

    # -- plumbing -----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.api_url}/{path}" if path else self.api_url

    def _call(
        self,
        endpoint: Endpoint,
        *,
        job_id: str | None = None,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        errors: Mapping[int, type[QoroAPIError]] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """One request, retried by the session's policy, its answer read whole within the
        deadlines and the size limit; any failure becomes a QoroError.

        ``timeout`` bounds the whole call, retries included (``None``: only the
        client's own limits do).
        """
        method = endpoint.method
        path = endpoint.path(None if job_id is None else _job_id(job_id))
        headers, data = {}, None
        if method == "POST":  # the service wants it on every POST, body-less cancel/ too
            headers["Content-Type"] = "application/json"
        if body is not None:
            data = self.dialect.render(body)
        if endpoint is Endpoint.INIT_JOB:
            # A fresh connection: one the server closed while it sat idle in the pool
            # would fail like a drop after sending, which job/init/ must not retry.
            headers["Connection"] = "close"
        at = math.inf if timeout is None else time.monotonic() + timeout
        deadline = Deadline(self.request_timeout, at)
        try:
            with deadline:
                response = self._session.request(
                    method,
                    self._url(path),
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=self.request_timeout,
                    stream=True,
                )
                with response:
                    _read_whole(response, _answer_limit(endpoint), f"{method} {path or '/'}")
                if deadline.expired:  # cut in the headers: what was read is no answer
                    raise requests.ConnectionError("the answer was cut short at its deadline")
        except requests.RequestException as err:
            raise self._transport_error(err, endpoint, job_id, deadline) from err
        log.debug("Qoro %s %s -> HTTP %d", method, path or "/", response.status_code)
        if response.status_code >= 400:
            message = f"{method} {path or '/'}: {self._auth.redact(_server_message(response))}"
            status = response.status_code
            error = (errors or {}).get(status) or _error_class(status, job_id)
            raise error(message, status_code=status, job_id=job_id, retried=_retried(response))
        return response

    def _transport_error(
        self,
        err: requests.RequestException,
        endpoint: Endpoint,
        job_id: str | None,
        deadline: Deadline,
    ) -> QoroConnectionError:
        if deadline.expired and time.monotonic() >= deadline.at:
            text = "no complete answer from the Qoro Service before the call's deadline"
        elif deadline.expired:
            text = f"no complete answer from the Qoro Service within {self.request_timeout:g} s"
        elif isinstance(err, requests.Timeout) and not isinstance(err, requests.ConnectTimeout):
            text = f"no answer from the Qoro Service within {self.request_timeout:g} s"
        else:
            reason = self._auth.redact(_reason(err))
            text = f"cannot reach the Qoro Service at {self.api_url}: {reason}"
        text = f"{endpoint.method} {endpoint.path(job_id) or '/'}: {text}"
        if job_id is not None:
            text += f" (job {job_id})"
        if endpoint is Endpoint.INIT_JOB and not _never_sent(err):
            text += "; the job may have been created: check your jobs before submitting again"
        return QoroConnectionError(text)

    def _json(self, response: requests.Response) -> Any:
        try:
            return _loads(response.text)
        except ValueError:
            raise QoroAPIError(
                "the service answered with a body that is not JSON (or is nested too "
                f"deeply): {self._auth.redact(response.text)}",
                status_code=response.status_code,
            ) from None

    def _unreadable(
        self, what: str, response: requests.Response, job_id: str | None = None
    ) -> QoroAPIError:
        """An answer that is JSON but not what the endpoint answers, shown as it came."""
        return QoroAPIError(
            f"unreadable {what}: {self._auth.redact(response.text)}", job_id=job_id
        )

    def _records(self, endpoint: Endpoint, parse: Callable[[dict[str, Any]], Any]) -> list:
        return self._read(endpoint, lambda items: [parse(item) for item in items])

    def _read(
        self,
        endpoint: Endpoint,
        parse: Callable[[Any], Any],
        *,
        job_id: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """An endpoint's answer read into its record; a shape it does not have is an API
        error."""
        response = self._call(endpoint, job_id=job_id, params=params)
        data = self._json(response)
        try:
            return parse(data)
        except _UNREADABLE:
            where = f"answer from {endpoint.path(job_id)}"
            raise self._unreadable(where, response, job_id) from None

    def _remember(self, systems: Sequence[System]) -> None:
        """Keep listed systems by name; a cluster's entry wins over a QPU system's."""
        known = self._systems if self._systems is not None else {}
        for system in systems:
            if isinstance(system, SimulatorCluster) or not isinstance(
                known.get(system.name), SimulatorCluster
            ):
                known[system.name] = system
        self._systems = known

    def _results_page(self, job_id: str, *, offset: int) -> dict[str, Any]:
        params = {"limit": RESULTS_PAGE_LIMIT, "offset": offset}
        response = self._call(Endpoint.RESULTS, params=params, job_id=job_id)
        page = self._json(response)
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise self._unreadable("results page", response, job_id)
        return page


class _BearerToken(requests.auth.AuthBase):
    """Signs each request with the token, which no repr, pickle or message shows."""

    def __init__(self, token: str) -> None:
        self._token = token
        forms = {token, json.dumps(token)[1:-1], repr(token)[1:-1]}
        alternatives = "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
        alone = len(token) < _WORDLIKE_TOKEN
        self._pattern = re.compile(
            rf"(?<!\w)(?:{alternatives})(?!\w)" if alone else f"(?:{alternatives})"
        )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<bearer token>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an API token cannot be pickled")

    def scrub(self, text: str) -> str:
        """``text`` with the token blanked out (a server may echo it back, also JSON- or
        repr-escaped). A token shorter than :data:`_WORDLIKE_TOKEN` characters could be
        part of ordinary words, which it must not garble: it is blanked only where it
        stands alone. A longer one is blanked wherever it appears, glued to other
        characters too (``x<token>``), as nothing but the token itself contains it."""
        return self._pattern.sub("***", text)

    def redact(self, text: str) -> str:
        """Text taken from an answer, fit to show: scrubbed, then cut short. Every error
        message that quotes the service goes through here."""
        return _cut(self.scrub(text))


# -- checks and messages ------------------------------------------------------------------


def _dialect(value: object) -> Dialect:
    try:
        return Dialect(value)
    except ValueError:
        names = ", ".join(repr(d.value) for d in Dialect)
        raise InvalidInputError(
            f"unknown wire dialect {value!r}; expected one of {names}"
        ) from None


def _check_submission(job: JobRequest) -> list[CircuitTemplate]:
    """Everything about a job's circuits and target that can be checked before sending;
    the templates as a list."""
    circuits, templates, job_type = job.circuits, job.templates, job.job_type
    if not isinstance(job_type, JobType):
        raise InvalidTypeError(f"job_type must be a JobType, got {job_type!r}")
    if not isinstance(circuits, Mapping):
        raise InvalidInputError("circuits must be a mapping of label -> OpenQASM 2 text")
    if isinstance(templates, CircuitTemplate) or not isinstance(templates, Sequence):
        raise InvalidTypeError("templates must be a sequence of CircuitTemplate")
    templates = list(templates)
    if not circuits and not templates:
        raise InvalidInputError("a job needs a non-empty mapping of label -> OpenQASM 2 text")
    for label, qasm in circuits.items():
        if not isinstance(label, str) or not isinstance(qasm, str):
            raise InvalidTypeError(f"circuit {label!r}: labels and circuits must be strings")
    labels = set(circuits)
    for template in templates:
        for row in _check_template(template):
            if row in labels:
                raise InvalidInputError(f"label {row!r} names two circuits or parameter sets")
            labels.add(row)
    if job_type is JobType.CIRCUIT_CUT and (len(circuits) != 1 or templates):
        raise InvalidInputError(f"a CIRCUIT_CUT job takes exactly one circuit, got {len(labels)}")
    for name, value in (("tag", job.tag), ("system_name", job.system_name)):
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    return templates


def _check_template(template: object) -> list[str]:
    """A template's row labels, once its text, names and rows are checked."""
    if not isinstance(template, CircuitTemplate):
        raise TypeError(f"templates must be CircuitTemplate records, got {template!r}")
    if not isinstance(template.qasm, str) or not template.qasm:
        raise InvalidInputError("a template needs its OpenQASM 2 text")
    names = template.parameter_names
    if isinstance(names, str) or not all(
        isinstance(n, str) and _PARAMETER_NAME.fullmatch(n) for n in names
    ):
        raise InvalidInputError(
            f"parameter_names {names!r} must be OpenQASM 2 identifiers (lower-case first)"
        )
    if len(set(names)) != len(names):
        raise InvalidInputError(f"parameter_names {list(names)!r} repeat a name")
    rows = template.parameter_sets
    if not isinstance(rows, Mapping) or not rows:
        raise InvalidInputError("a template needs a non-empty mapping of label -> values")
    for label, values in rows.items():
        if not isinstance(label, str) or not label:
            raise InvalidInputError(f"parameter set label {label!r} is not a non-empty string")
        if (
            isinstance(values, str)
            or not isinstance(values, Sequence)
            or len(values) != len(names)
        ):
            raise InvalidInputError(
                f"parameter set {label!r} must list {len(names)} values, one per name"
            )
        for value in values:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise InvalidInputError(
                    f"parameter set {label!r}: {value!r} is not a finite number"
                )
    return list(rows)


def _shots(
    shots: int | Mapping[str, int] | None, circuits: Mapping[str, str], *, needed: bool
) -> dict[str, int]:
    """Each circuit's shots (empty when the job has no shots for its circuits)."""
    if isinstance(shots, Mapping):
        if set(shots) != set(circuits):
            missing = sorted(set(circuits) - set(shots)) or sorted(set(shots) - set(circuits))
            raise InvalidInputError(
                f"shots by label must name exactly the job's circuits; {missing[:5]} differ"
            )
        return {label: positive_int(f"shots of {label!r}", shots[label]) for label in circuits}
    if shots is None and not needed:
        return {}
    count = positive_int("shots", shots)
    return dict.fromkeys(circuits, count)


def _observable_groups(
    observables: str | Mapping[str, str] | None, circuits: Mapping[str, str], estimate: bool
) -> tuple[list[list[str]] | None, list[list[int]] | None]:
    """The observables of the job's circuits as groups of terms, one per run of
    consecutive circuits, and each group's half-open circuit range when there are several."""
    if not estimate:
        if observables is not None:
            raise InvalidInputError("observables only apply to ESTIMATE jobs")
        return None, None
    if not circuits:
        return None, None
    if observables is None:
        raise InvalidInputError("an ESTIMATE job needs observables, e.g. 'ZZ;XX'")
    if not isinstance(observables, Mapping):
        return [decode_observables(observables)], None
    if set(observables) != set(circuits):
        raise InvalidInputError("observables by label must name exactly the job's circuits")
    groups: list[list[str]] = []
    ranges: list[list[int]] = []
    for index, label in enumerate(circuits):
        terms = decode_observables(observables[label])
        if groups and groups[-1] == terms:
            ranges[-1][1] = index + 1
        else:
            groups.append(terms)
            ranges.append([index, index + 1])
    return groups, (ranges if len(groups) > 1 else None)


def _template_options(
    template: CircuitTemplate,
    shots: int | Mapping[str, int] | None,
    observables: str | Mapping[str, str] | None,
    estimate: bool,
    dialect: Dialect,
) -> dict[str, Any]:
    """A template's ``shots`` or ``observables``: its own, else the job's single one."""
    if estimate:
        terms = template.observables if template.observables is not None else observables
        if not isinstance(terms, str):
            raise InvalidInputError(
                "a template of an ESTIMATE job needs observables of its own, or the job's "
                "one set for every circuit"
            )
        return {"observables": encode_observable_groups([decode_observables(terms)], dialect)}
    if template.observables is not None:
        raise InvalidInputError("observables only apply to ESTIMATE jobs")
    count = template.shots if template.shots is not None else shots
    if isinstance(count, Mapping):
        raise InvalidInputError(
            "a template needs shots of its own when the job's shots are given by label"
        )
    return {"shots": positive_int("shots", count)}


#: An upload's payload and the options (shots, observables) its body carries.
_Part = tuple[dict[str, Any], dict[str, Any]]


def _circuit_parts(
    circuits: Mapping[str, str],
    options: dict[str, Any],
    dialect: Dialect,
    shots_by_label: Mapping[str, int] | None,
) -> list[_Part]:
    """Bound circuits packed and split into uploads by the dialect's size rule."""
    packed = {label: pack_circuit(qasm) for label, qasm in circuits.items()}
    if dialect is Dialect.V2025:
        payloads = [{"circuits": chunk} for chunk in chunk_circuits(packed)]
    else:
        envelope = _envelope(dialect, options)
        payloads = plan_circuit_uploads(packed, envelope, shots=shots_by_label)
    return [(payload, options) for payload in payloads]


def _template_parts(
    template: CircuitTemplate, options: dict[str, Any], dialect: Dialect
) -> list[_Part]:
    """A template packed once, its rows split into as many uploads as the cap needs."""
    rows = [
        {"label": label, "values": [float(v) for v in values]}
        for label, values in template.parameter_sets.items()
    ]
    payloads = plan_template_uploads(
        pack_circuit(template.qasm), template.parameter_names, rows, _envelope(dialect, options)
    )
    return [(payload, options) for payload in payloads]


def _envelope(dialect: Dialect, options: Mapping[str, Any]) -> Callable[[dict], dict]:
    """The body an upload's payload travels in, not the last (``"false"`` is the longer)."""
    return lambda payload: dialect.upload_body(payload, last=False, **options)


def _succeeded(job_id: str, report: JobStatusReport) -> JobStatusReport:
    """The report, unless the job ended without results: then the error of its status."""
    ended = _ENDED.get(report.status)
    if ended is not None:
        raise ended(job_id, report.message)
    return report


def _job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise InvalidInputError(f"{job_id!r} is not a Qoro job id")
    return job_id


def _error_class(status: int, job_id: str | None) -> type[QoroAPIError]:
    if status in (401, 403):
        return AuthenticationError
    if status == 404 and job_id is not None:
        return JobNotFoundError
    return QoroAPIError


def _server_message(response: requests.Response) -> str:
    """The server's explanation, whole (to be redacted): a JSON error field, else the
    body's text, stripped of markup."""
    try:
        data = _loads(response.text)
    except ValueError:
        data = None
    fields = (
        (data.get(key) for key in ("detail", "error", "message")) if isinstance(data, dict) else ()
    )
    text = next((f for f in fields if isinstance(f, str)), response.text)
    if "<html" in text[:500].lower():
        text = re.sub(r"<(script|style).*?</\1>|<[^>]+>", " ", text, flags=re.S | re.I)
    return text if text.strip() else response.reason or "no explanation given"


def _loads(text: str) -> Any:
    """The JSON value of an answer's text; ValueError when it is not JSON, or is nested
    past what the parser can follow."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _answer_limit(endpoint: Endpoint) -> int:
    return MAX_RESULTS_PAGE_BYTES if endpoint is Endpoint.RESULTS else MAX_ANSWER_BYTES


def _read_whole(response: requests.Response, limit: int, request: str) -> None:
    """Read a streamed answer's body into it, refusing one past ``limit`` bytes (one
    that declares a larger length before reading any of it)."""

    def too_large() -> AnswerTooLargeError:
        return AnswerTooLargeError(
            f"{request}: the answer is larger than the {limit} bytes the client reads", limit
        )

    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    body = bytearray()
    for chunk in response.iter_content(_READ_CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise too_large()
    response._content = bytes(body)
    response.encoding = response.encoding or "utf-8"


def _retried(response: requests.Response) -> bool:
    """Whether an earlier attempt of this request may have reached the service: its
    answer was lost, or it was answered with a status that is retried."""
    retries = getattr(response.raw, "retries", None)
    history = retries.history if retries is not None else ()
    return any(not isinstance(attempt.error, ConnectTimeoutError) for attempt in history)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _never_sent(err: requests.RequestException) -> bool:
    """Whether the request provably never reached the server (no connection was made)."""
    cause = err.args[0] if err.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(err, requests.ConnectTimeout) or isinstance(cause, ConnectTimeoutError)


def _reason(err: requests.RequestException) -> str:
    cause = err.args[0] if err.args else err
    if isinstance(cause, MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    return str(cause)
