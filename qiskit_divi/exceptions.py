"""Every error qiskit-divi raises, in one tree under :class:`DiviError`.

Input errors also subclass :class:`ValueError` or :class:`TypeError`, so ``except
ValueError`` works as Python users expect; connection failures subclass the builtin
:class:`ConnectionError`, as Divi's Backends Guide catches them.
"""

from __future__ import annotations


class DiviError(Exception):
    """Base class of every qiskit-divi error."""


class DiviWarning(UserWarning):
    """Base class of every qiskit-divi warning."""


# -- input errors, raised before any work starts ------------------------------------------


class InvalidInputError(DiviError, ValueError):
    """A value the caller passed cannot be used (shots <= 0, n_processes < 1, ...)."""


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


class UnknownOptionError(InvalidInputError, AttributeError):
    """An option a backend does not have; an ``AttributeError`` too, as Qiskit's
    ``BackendV2.set_options`` raises for one."""


# -- local simulator ----------------------------------------------------------------------


class SimulationError(DiviError):
    """Aer, or a worker process running it, failed on a batch that passed every input check."""


# -- Qoro Service -------------------------------------------------------------------------


class QoroError(DiviError):
    """Base class of errors from the Qoro Service client."""


class MissingCredentialsError(QoroError, ValueError):
    """No API token was found in the argument, the environment or a ``.env`` file."""


class InsecureURLError(QoroError, ValueError):
    """A plain ``http://`` URL for a host that is not loopback."""


class QoroConnectionError(QoroError, ConnectionError):
    """The service could not be reached (or refused the credentials on a connection test)."""


class PayloadTooLargeError(QoroError, ValueError):
    """A single circuit is larger than one request may carry; nothing was sent."""


class CorruptResultError(QoroError, ValueError):
    """A result payload from the service failed its integrity checks."""


class QoroAPIError(QoroError):
    """The service answered with an error status.

    Attributes carry the HTTP status code, the job id (when the request concerned a
    job) and the server's message, cut short when it is a long page.
    """

    def __init__(self, message: str, *, status_code: int | None = None, job_id: str | None = None):
        parts = [message]
        if status_code is not None:
            parts.append(f"HTTP {status_code}")
        if job_id is not None:
            parts.append(f"job {job_id}")
        super().__init__(" | ".join(parts))
        self.message = message
        self.status_code = status_code
        self.job_id = job_id


class AuthenticationError(QoroAPIError):
    """The service rejected the token (401/403)."""


class JobNotFoundError(QoroAPIError):
    """No such job for this token (404)."""


class JobNotCancellableError(QoroAPIError):
    """The job has already finished or was cancelled (409)."""


class JobFailedError(QoroError):
    """A job ended FAILED; ``reason`` is the server's explanation."""

    def __init__(self, job_id: str, reason: str | None = None) -> None:
        text = f"job {job_id} failed"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.job_id = job_id
        self.reason = reason


class JobCancelledError(QoroError):
    """Results were asked for a job that was cancelled."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} was cancelled; it has no results")
        self.job_id = job_id


class JobNotFinishedError(QoroError):
    """Results were asked for a job that is still pending or running."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} is {status}; wait for it to finish, then fetch results")
        self.job_id = job_id
        self.status = status


class JobTimeoutError(QoroError, TimeoutError):
    """Waiting for a job took longer than allowed; the job goes on and can be retrieved."""

    def __init__(self, job_ids: list[str], timeout: float) -> None:
        super().__init__(
            f"jobs {', '.join(job_ids)} not finished after {timeout:g} s; "
            "they keep running and can be fetched later by id"
        )
        self.job_ids = job_ids
        self.timeout = timeout
