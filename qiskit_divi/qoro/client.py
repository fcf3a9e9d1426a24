"""The one place that speaks HTTP to the Qoro Service (``docs/protocol.rst`` describes it).

A :class:`QoroClient` owns a ``requests`` session carrying the bearer token and the
retry policies of :mod:`.retry`, and offers one method per endpoint. Every failure is a
:class:`~qiskit_divi.exceptions.QoroError`; the token never leaves the session.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from ..accounts import resolve
from ..exceptions import (
    AuthenticationError,
    CorruptResultError,
    InvalidInputError,
    JobCancelledError,
    JobFailedError,
    JobNotCancellableError,
    JobNotFinishedError,
    JobNotFoundError,
    QoroAPIError,
    QoroConnectionError,
)
from ..journal import JournalEntry, record_submission
from ..validation import positive_int
from ..version import __version__
from .codec import (
    CircuitResult,
    chunk_circuits,
    decode_observables,
    decode_result,
    pack_circuit,
)
from .polling import positive_seconds, wait_until_final
from .protocol import (
    DEFAULT_SYSTEM,
    RESULTS_PAGE_LIMIT,
    Dialect,
    Endpoint,
    JobStatusReport,
    JobType,
    QoroJobStatus,
    QPUSystem,
    SimulatorCluster,
)
from .retry import RetrySettings

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_MESSAGE_LIMIT = 300


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
        timeout: seconds each request may wait to connect, and then for each read.
        max_retry_time: seconds after a request's first failure past which it is not
            retried again.
        retry: the rest of the retry policy (counts, backoff): see
            :class:`~qiskit_divi.qoro.retry.RetrySettings`.
        dialect: the wire dialect the service speaks.

    The client cannot be pickled: it holds the token. Create one in each process. Copies
    of what holds it, made in this process, share it (``copy.deepcopy`` gives the client
    itself).
    """

    def __init__(
        self,
        auth_token: str | None = None,
        api_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retry_time: float = 60.0,
        retry: RetrySettings | None = None,
        dialect: Dialect = Dialect.V2025,
        account: str | None = None,
    ) -> None:
        credentials = resolve(auth_token, api_url, account=account)
        self.api_url = credentials.url
        self.timeout = positive_seconds("timeout", timeout)
        self.dialect = Dialect(dialect)
        max_retry_time = positive_seconds("max_retry_time", max_retry_time)
        settings = retry or RetrySettings()
        self._auth = _BearerToken(credentials.token)
        self._session = requests.Session()
        self._session.auth = self._auth
        self._session.headers.update(
            {"Accept": "application/json", "User-Agent": f"qiskit-divi/{__version__}"}
        )
        everything = HTTPAdapter(max_retries=settings.policy(max_retry_time))
        init = HTTPAdapter(max_retries=settings.init_policy(max_retry_time))
        self._session.mount("https://", everything)
        self._session.mount("http://", everything)
        self._session.mount(self._url(Endpoint.INIT_JOB.path()), init)

    def __repr__(self) -> str:
        return f"QoroClient(api_url={self.api_url!r})"

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

    def qpu_systems(self) -> list[QPUSystem]:
        """The QPU systems this token may use."""
        return self._records(Endpoint.QPU_SYSTEMS, QPUSystem.from_wire)

    def simulator_clusters(self) -> list[SimulatorCluster]:
        """The simulator clusters this token may use (newer servers list them)."""
        return self._records(Endpoint.SIMULATOR_CLUSTERS, SimulatorCluster.from_wire)

    def submit_job(
        self,
        circuits: Mapping[str, str],
        *,
        job_type: JobType,
        shots: int | None = None,
        tag: str = "default",
        system_name: str = DEFAULT_SYSTEM,
        observables: str | None = None,
    ) -> str:
        """Create a job from labelled OpenQASM 2 circuits and return its id.

        Every check runs and every circuit is packed and chunked before the first
        request; the upload then takes one ``job/init/`` and as many ``add_circuits`` as
        the body cap needs. The job is recorded in the job journal
        (:mod:`qiskit_divi.journal`) as soon as it has an id. Sampling jobs need
        ``shots``; ``ESTIMATE`` jobs need ``observables`` (``"ZZI;XXY"``, leftmost
        character on qubit 0).

        Raises:
            PayloadTooLargeError: one circuit is larger than a request may carry.
            QoroAPIError: the service refused a request; after ``job/init/`` the error
                names the job, which exists but is not finalized.
        """
        _check_submission(circuits, job_type, shots, tag, system_name, observables)
        chunks = chunk_circuits({label: pack_circuit(qasm) for label, qasm in circuits.items()})
        init = self.dialect.init_job_body(
            job_type=job_type, system_name=system_name, tag=tag, shots=shots
        )
        job_id = self._json(self._call(Endpoint.INIT_JOB, body=init)).get("job_id")
        if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
            raise QoroAPIError(f"job/init/ answered without a usable job id: {job_id!r}")
        record_submission(
            JournalEntry(
                job_id=job_id,
                api_url=self.api_url,
                system=system_name,
                job_type=job_type.value,
                tag=tag,
                shots=shots,
                labels=tuple(circuits),
                observables=observables,
                dialect=self.dialect.value,
            )
        )
        for i, chunk in enumerate(chunks):
            body = self.dialect.add_circuits_body(
                chunk, last=i == len(chunks) - 1, shots=shots, observables=observables
            )
            self._call(Endpoint.ADD_CIRCUITS, body=body, job_id=job_id)
        log.info(
            "submitted Qoro job %s: %d circuits in %d uploads", job_id, len(circuits), len(chunks)
        )
        return job_id

    def job_status(self, job_id: str) -> JobStatusReport:
        """The job's status, with the server's explanation when it failed."""
        data = self._json(self._call(Endpoint.STATUS, job_id=job_id))
        try:
            return JobStatusReport.from_wire(data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise QoroAPIError(
                f"unreadable status answer: {_cut(str(data))}", job_id=job_id
            ) from err

    def job_results(self, job_id: str) -> dict[str, CircuitResult]:
        """Each circuit's results by label: its outcomes, or its expectation values.

        Every page is fetched; pages are asked for by offset, never by following the
        server's ``next`` URL, so the token only ever goes to :attr:`api_url`.

        Raises:
            JobFailedError: the job FAILED (with the server's reason).
            JobCancelledError: the job was cancelled.
            JobNotFinishedError: the job is still pending or running.
            CorruptResultError: a result failed its integrity checks, or a label repeats.
        """
        report = self.job_status(job_id)
        if report.status is QoroJobStatus.FAILED:
            raise JobFailedError(job_id, report.message)
        if report.status is QoroJobStatus.CANCELLED:
            raise JobCancelledError(job_id)
        if report.status is not QoroJobStatus.COMPLETED:
            raise JobNotFinishedError(job_id, report.status.value)
        results: dict[str, CircuitResult] = {}
        while True:
            page = self._results_page(job_id, offset=len(results))
            for entry in page["results"]:
                label = entry.get("label") if isinstance(entry, dict) else None
                if not isinstance(label, str) or label in results:
                    raise CorruptResultError(f"job {job_id}: missing or repeated label {label!r}")
                results[label] = decode_result(entry.get("results"))
            if not page.get("next"):
                return results
            if not page["results"]:
                raise QoroAPIError("an empty results page points to a next one", job_id=job_id)

    def cancel_job(self, job_id: str) -> dict:
        """Cancel a pending or running job; the answer counts the circuits cancelled.

        Raises:
            JobNotCancellableError: the job already finished (409).
        """
        errors = {409: JobNotCancellableError}
        return self._json(self._call(Endpoint.CANCEL, job_id=job_id, errors=errors))

    def delete_job(self, job_id: str) -> None:
        """Delete a job and its results from the service."""
        self._call(Endpoint.DELETE, job_id=job_id)

    def wait_for_job(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        polling_interval: float = 1.0,
        callback: Callable[[JobStatusReport], None] | None = None,
    ) -> JobStatusReport:
        """Poll until the job is final; the interval grows gently up to ten times its start.

        Raises:
            JobTimeoutError: still not final after ``timeout`` seconds; the job goes on.
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
        return report

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
    ) -> requests.Response:
        """One request, retried by the session's policy; any failure becomes a QoroError."""
        method = endpoint.method
        path = endpoint.path(None if job_id is None else _job_id(job_id))
        headers, data = {}, None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"))
        if endpoint is Endpoint.INIT_JOB:
            # A fresh connection: one the server closed while it sat idle in the pool
            # would fail like a drop after sending, which job/init/ must not retry.
            headers["Connection"] = "close"
        try:
            response = self._session.request(
                method,
                self._url(path),
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise self._transport_error(err, endpoint, job_id) from err
        log.debug("Qoro %s %s -> HTTP %d", method, path or "/", response.status_code)
        if response.status_code >= 400:
            message = f"{method} {path or '/'}: {self._auth.scrub(_server_message(response))}"
            status = response.status_code
            error = (errors or {}).get(status) or _error_class(status, job_id)
            raise error(message, status_code=status, job_id=job_id)
        return response

    def _transport_error(
        self, err: requests.RequestException, endpoint: Endpoint, job_id: str | None
    ) -> QoroConnectionError:
        if isinstance(err, requests.Timeout) and not isinstance(err, requests.ConnectTimeout):
            text = f"no answer from the Qoro Service within {self.timeout:g} s"
        else:
            text = f"cannot reach the Qoro Service at {self.api_url}: {_reason(err)}"
        text = f"{endpoint.method} {endpoint.path(job_id) or '/'}: {text}"
        if job_id is not None:
            text += f" (job {job_id})"
        if endpoint is Endpoint.INIT_JOB and not _never_sent(err):
            text += "; the job may have been created: check your jobs before submitting again"
        return QoroConnectionError(self._auth.scrub(text))

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise QoroAPIError(
                f"the service answered with a body that is not JSON: {_cut(response.text)}",
                status_code=response.status_code,
            ) from None

    def _records(self, endpoint: Endpoint, parse: Callable[[dict[str, Any]], Any]) -> list:
        data = self._json(self._call(endpoint))
        try:
            return [parse(item) for item in data]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise QoroAPIError(
                f"unreadable answer from {endpoint.path()}: {_cut(str(data))}"
            ) from err

    def _results_page(self, job_id: str, *, offset: int) -> dict[str, Any]:
        params = {"limit": RESULTS_PAGE_LIMIT, "offset": offset}
        page = self._json(self._call(Endpoint.RESULTS, params=params, job_id=job_id))
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise QoroAPIError(f"unreadable results page: {_cut(str(page))}", job_id=job_id)
        return page


class _BearerToken(requests.auth.AuthBase):
    """Signs each request with the token, which no repr, pickle or message shows."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<bearer token>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an API token cannot be pickled")

    def scrub(self, text: str) -> str:
        """``text`` with the token blanked out (a server may echo it back)."""
        return text.replace(self._token, "***")


# -- checks and messages ------------------------------------------------------------------


def _check_submission(
    circuits: Mapping[str, str],
    job_type: JobType,
    shots: int | None,
    tag: str,
    system_name: str,
    observables: str | None,
) -> None:
    """Everything a job needs that can be checked before sending anything."""
    if not isinstance(job_type, JobType):
        raise TypeError(f"job_type must be a JobType, got {job_type!r}")
    if not isinstance(circuits, Mapping) or not circuits:
        raise InvalidInputError("a job needs a non-empty mapping of label -> OpenQASM 2 text")
    for label, qasm in circuits.items():
        if not isinstance(label, str) or not isinstance(qasm, str):
            raise TypeError(f"circuit {label!r}: labels and circuits must be strings")
    if job_type is JobType.CIRCUIT_CUT and len(circuits) != 1:
        raise InvalidInputError(
            f"a CIRCUIT_CUT job takes exactly one circuit, got {len(circuits)}"
        )
    if job_type is JobType.ESTIMATE:
        if observables is None:
            raise InvalidInputError("an ESTIMATE job needs observables, e.g. 'ZZ;XX'")
        decode_observables(observables)
    elif observables is not None:
        raise InvalidInputError(f"observables only apply to ESTIMATE jobs, not {job_type.name}")
    if shots is not None or job_type is not JobType.ESTIMATE:
        positive_int("shots", shots)
    for name, value in (("tag", tag), ("system_name", system_name)):
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")


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
    """The server's explanation: a JSON error field, else the body's text, cut short."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        fields = (data.get(key) for key in ("detail", "error", "message"))
        text = next((f for f in fields if isinstance(f, str)), json.dumps(data))
    else:
        text = response.text
    if "<html" in text[:500].lower():
        text = re.sub(r"<(script|style).*?</\1>|<[^>]+>", " ", text, flags=re.S | re.I)
    return _cut(text) or response.reason or "no explanation given"


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
    return _cut(str(cause))
