"""Every error qiskit-divi raises, in one tree under :class:`DiviError`.

:class:`DiviError` is a :class:`~qiskit.exceptions.QiskitError`, and the errors of a
job's life (it failed, was cancelled, is not finished, or took too long) are also
Qiskit's :class:`~qiskit.providers.JobError` or :class:`~qiskit.providers.JobTimeoutError`,
so code written for any Qiskit backend catches ours. Input errors also subclass
:class:`ValueError` or :class:`TypeError`, so ``except ValueError`` works as Python users
expect; connection failures subclass the builtin :class:`ConnectionError`, as Divi's
Backends Guide catches them, and timeouts the builtin :class:`TimeoutError`.

Every error pickles and copies with its message and attributes, so it crosses process
boundaries (worker pools, Dask, the local server's workers) intact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qiskit.exceptions import QiskitError, QiskitWarning
from qiskit.providers import JobError
from qiskit.providers import JobTimeoutError as QiskitJobTimeoutError


class DiviError(QiskitError):
    """Base class of every qiskit-divi error."""

    def __str__(self) -> str:
        # The message itself, as Python's errors print it (QiskitError prints its repr).
        return BaseException.__str__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # The default, ``type(self)(*self.args)``, calls a constructor with the message
        # where it takes other arguments: it fails, or builds another message. Restoring
        # the arguments and attributes as they are suits every subclass, whatever its
        # constructor takes.
        return (_restore, (type(self), self.args), self.__dict__)


def _restore(cls: type[DiviError], args: tuple[Any, ...]) -> DiviError:
    """An error of ``cls`` with ``args``, its constructor not run: pickle then sets its
    attributes."""
    error = cls.__new__(cls)
    error.args = args  # set apart: ``OSError.__new__`` leaves them to the constructor
    return error


class DiviWarning(QiskitWarning):
    """Base class of every qiskit-divi warning."""


class JournalWarning(DiviWarning):
    """A submitted job could not be recorded in the job journal; the job itself is fine."""


# -- input errors, raised before any work starts ------------------------------------------


class InvalidInputError(DiviError, ValueError):
    """A value the caller passed cannot be used (shots <= 0, n_processes < 1, ...)."""


class InvalidTypeError(InvalidInputError, TypeError):
    """A value of the wrong kind (a string where a circuit goes, ...); a ``TypeError`` too,
    so ``except TypeError`` catches it as Python users expect."""


class UnknownOptionError(InvalidTypeError, AttributeError):
    """An option a backend or a primitive does not have, the same error on every face: an
    ``AttributeError`` too, as Qiskit's ``BackendV2.set_options`` raises for one, and a
    ``TypeError``, as Python raises for an unexpected keyword."""


class InvalidCircuitError(InvalidInputError):
    """A circuit cannot be parsed, exported or run; the message names its label."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"circuit {label!r}: {reason}")
        self.label = label
        self.reason = reason


class CircuitTooWideError(InvalidCircuitError):
    """A circuit has more qubits than the target system offers."""


class UnknownBackendError(InvalidInputError):
    """A backend or system name that does not exist."""


# -- local simulator ----------------------------------------------------------------------


class SimulationError(DiviError, JobError):
    """Aer, or a worker process running it, failed on a batch that passed every input check.

    A :class:`~qiskit.providers.JobError` too: it is how a simulator job fails.
    """


# -- Qoro Service -------------------------------------------------------------------------


class QoroError(DiviError):
    """Base class of errors from the Qoro Service client."""


class MissingCredentialsError(QoroError, ValueError):
    """No API token was found in the arguments, the environment, a ``.env`` file or a
    saved account (or a saved account cannot be read)."""


class InsecureURLError(QoroError, ValueError):
    """A plain ``http://`` URL for a host that is not loopback."""


class QoroConnectionError(QoroError, ConnectionError):
    """The service could not be reached (or refused the credentials on a connection test)."""


class PayloadTooLargeError(QoroError, ValueError):
    """A single circuit is larger than one request may carry; nothing was sent."""


class CorruptResultError(QoroError, ValueError):
    """A result payload from the service failed its integrity checks."""


class AnswerLimitError(QoroError):
    """An answer from the service passed one of the client's limits (``limit``, named in
    the message); nothing of it is kept. The limits are in ``docs/backends.rst``."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class AnswerTooLargeError(AnswerLimitError):
    """An answer's body is larger than the client reads."""


class ResultTooLargeError(AnswerLimitError):
    """A job's results would decode to more memory than the client allows."""


class TooManyPagesError(AnswerLimitError):
    """The service kept pointing to a next page of results past the client's limit."""


class QoroAPIError(QoroError):
    """The service answered with an error status.

    Attributes carry the HTTP status code, the job id (when the request concerned a
    job) and the server's message, cut short when it is a long page; ``retried`` says
    whether an earlier attempt of the request may have reached the service (and its
    answer was lost).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        job_id: str | None = None,
        retried: bool = False,
    ):
        parts = [message]
        if status_code is not None:
            parts.append(f"HTTP {status_code}")
        if job_id is not None:
            parts.append(f"job {job_id}")
        super().__init__(" | ".join(parts))
        self.message = message
        self.status_code = status_code
        self.job_id = job_id
        self.retried = retried


class AuthenticationError(QoroAPIError):
    """The service rejected the token (401/403)."""


class JobNotFoundError(QoroAPIError):
    """No such job for this token (404)."""


class JobNotCancellableError(QoroAPIError):
    """The job has already finished or was cancelled (409)."""


class JobFailedError(QoroError, JobError):
    """A job ended FAILED; ``reason`` is the server's explanation."""

    #: How the message says the job ended.
    _ending = "failed"

    def __init__(self, job_id: str, reason: str | None = None) -> None:
        text = f"job {job_id} {self._ending}"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.job_id = job_id
        self.reason = reason


class InsufficientCreditsError(JobFailedError):
    """A job ended INSUFFICIENT_CREDITS: the token's balance could not pay for it."""

    _ending = "was not run: the account has too few credits (INSUFFICIENT_CREDITS)"


class JobTimedOutError(JobFailedError):
    """A job ended TIMED_OUT: the service stopped it at its time limit. (Not
    :class:`JobTimeoutError`, which is a wait of ours running out while the job goes on.)"""

    _ending = "was stopped at the service's time limit (TIMED_OUT)"


class JobCancelledError(QoroError, JobError):
    """Results were asked for a job that was cancelled (a Qoro or a simulator job)."""

    def __init__(self, job_id: str, reason: str | None = None) -> None:
        text = f"job {job_id} was cancelled; it has no results"
        super().__init__(f"{text} ({reason})" if reason else text)
        self.job_id = job_id
        self.reason = reason


class JobNotFinishedError(QoroError, JobError):
    """Results were asked for a job that is still pending or running."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} is {status}; wait for it to finish, then fetch results")
        self.job_id = job_id
        self.status = status


class JobTimeoutError(QoroError, QiskitJobTimeoutError, TimeoutError):
    """Waiting for a job (a Qoro or a simulator job) took longer than allowed; the job goes
    on and can be retrieved. Qiskit's ``JobTimeoutError`` and the builtin ``TimeoutError``
    too."""

    def __init__(self, job_ids: list[str], timeout: float) -> None:
        super().__init__(
            f"jobs {', '.join(job_ids)} not finished after {timeout:g} s; "
            "they keep running and can be fetched later by id"
        )
        self.job_ids = job_ids
        self.timeout = timeout


# -- local Qoro-compatible server ---------------------------------------------------------


class LocalServerError(DiviError):
    """Base class of the local server's errors; a client meets them as HTTP answers."""


class RequestRefusedError(LocalServerError):
    """A request the server answers with an error status, and why."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


class ServerDatabaseError(LocalServerError, InvalidInputError):
    """The server cannot use its database file (named): an unusable path, a file that is
    not its database, or one another server holds."""


class UnknownJobError(LocalServerError, LookupError):
    """No such job for this owner: HTTP 404 (another owner's job is no different)."""


class JobConflictError(LocalServerError):
    """The request does not fit the job's state (finalized, finished, ...): HTTP 409."""


class WorkerLostError(LocalServerError):
    """A local server's worker process died during a call (killed, or crashed)."""


class WorkerTimeoutError(LocalServerError):
    """A call in a local server's worker process ran past its deadline; the process was
    killed."""


class WorkerCancelledError(LocalServerError):
    """A call in a local server's worker process was cancelled; the process was killed."""


class ServerStoppingError(LocalServerError):
    """The local server stops while a write waits for its storage to come back."""


class JobRunError(LocalServerError):
    """A job cannot run; the message says why, naming the circuit when one is at fault.

    Only text, so that it leaves a worker process whatever error caused it.
    """
