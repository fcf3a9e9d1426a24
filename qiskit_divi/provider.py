"""DiviProvider: the local parallel simulator and the Qoro systems as Qiskit backends.

The provider is where backends are found by name, where a Qoro job is rebuilt from its
id, where accounts are saved, and where the jobs this machine submitted are listed.
Credentials resolve as :mod:`qiskit_divi.accounts` documents: arguments, then the
environment, then a ``.env`` file in the working directory, then the saved account
``"default"``; a token always travels with the URL found beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from qiskit.providers import BackendV2

from . import accounts
from .exceptions import (
    InvalidInputError,
    JobNotFoundError,
    MissingCredentialsError,
    QoroError,
    UnknownBackendError,
)
from .journal import Journal, JournalEntry
from .options import positive_int
from .qoro.backend import QoroBackend
from .qoro.bulk import for_each
from .qoro.client import QoroClient
from .qoro.execution import retrieve
from .qoro.job import QoroJob
from .qoro.protocol import (
    DEFAULT_SYSTEM,
    Dialect,
    JobStatusReport,
    QoroJobStatus,
    QPUSystem,
    SimulatorCluster,
)
from .simulator.backend import ParallelSimulatorBackend

#: The local simulator's name.
LOCAL_SIMULATOR = "parallel_simulator"
#: An alias of the Qoro Service's default system.
QORO_ALIAS = "qoro"
#: A Qoro backend's construction settings: its client's HTTP and retry settings.
CLIENT_SETTINGS = ("request_timeout", "max_retry_time", "retry")

T = TypeVar("T")


@dataclass(frozen=True)
class JobRecord:
    """A job from the journal with its status as the service reports it now.

    ``status`` is ``None`` when the service no longer knows the job (it was deleted);
    ``message`` is the service's explanation of a failure.
    """

    entry: JournalEntry
    status: QoroJobStatus | None
    message: str | None = None

    @property
    def job_id(self) -> str:
        return self.entry.job_id


class DiviProvider:
    """Finds qiskit-divi's backends by name and rebuilds Qoro jobs from their ids.

    Args:
        auth_token: the Qoro API token; by default found in the environment
            (``QORO_API_KEY``), a ``.env`` file in the working directory or the saved
            account ``"default"``, with the URL found beside it. Without one, only the
            local simulator is offered, and no request is made.
        api_url: the Qoro API's base URL, used with whichever token is found; by default
            the URL found with the token, else Qoro's own.
        account: a saved account's name (see :meth:`save_account`), used instead of
            looking elsewhere.
        dialect: the Qoro wire dialect, ``"2026"`` (today's service, the default) or
            ``"2025"`` (Divi's Backends Guide).
    """

    def __init__(
        self,
        auth_token: str | None = None,
        api_url: str | None = None,
        *,
        account: str | None = None,
        dialect: Dialect | str | int = Dialect.V2026,
    ) -> None:
        self._auth_token = auth_token
        self._api_url = api_url
        self._account = account
        self._dialect = dialect
        try:
            self._client: QoroClient | None = QoroClient(
                auth_token, api_url, account=account, dialect=dialect
            )
        except MissingCredentialsError:
            if account is not None:
                raise
            self._client = None
        self._systems: list[QPUSystem | SimulatorCluster] | None = None

    def __repr__(self) -> str:
        qoro = self._client.api_url if self._client is not None else "no Qoro token"
        return f"<DiviProvider({qoro})>"

    def backends(
        self,
        name: str | None = None,
        simulator: bool | None = None,
        operational: bool | None = None,
        filters: Callable[[BackendV2], bool] | None = None,
        **kwargs: Any,
    ) -> list[BackendV2]:
        """The backends that match every criterion given.

        Args:
            name: a backend name (``"qoro"`` stands for the default Qoro system).
            simulator: ``True`` for simulators (local or cluster), ``False`` for QPUs.
            operational: whether the backend takes jobs now.
            filters: a predicate a backend must satisfy.
            kwargs: backend attributes that must have these values (``num_qubits=5``).

        The Qoro systems are listed (one request, then remembered) only when a token is
        configured.
        """
        candidates: list[BackendV2] = [ParallelSimulatorBackend(provider=self)]
        if self._client is not None:
            candidates += [self._qoro_backend(system) for system in self._qoro_systems()]
        wanted = DEFAULT_SYSTEM if name == QORO_ALIAS else name
        return [
            backend
            for backend in candidates
            if (wanted is None or backend.name == wanted)
            and (simulator is None or _is_simulator(backend) == simulator)
            and (operational is None or _is_operational(backend) == operational)
            and (filters is None or filters(backend))
            and all(getattr(backend, key, _ABSENT) == value for key, value in kwargs.items())
        ]

    def get_backend(
        self, name: str, *, dialect: Dialect | str | int | None = None, **options: Any
    ) -> BackendV2:
        """The backend called ``name``, with ``options`` as its run options.

        ``"parallel_simulator"`` is the local simulator (its construction settings are
        accepted too, e.g. ``n_processes``); ``"qoro"`` is the Qoro Service's default
        system; any other name is a Qoro system's, whose jobs travel in ``dialect`` (by
        default the provider's) and whose other construction settings are its client's:
        ``request_timeout`` (seconds per HTTP request), ``max_retry_time`` and ``retry``
        (a :class:`~qiskit_divi.qoro.retry.RetrySettings`). Given any, the backend gets a
        client of its own with them; construction settings and run options never share a
        name.

        Raises:
            MissingCredentialsError: a Qoro system was asked for without a token.
            UnknownBackendError: no backend has that name.
            UnknownOptionError: an option the backend does not have.
        """
        if name == LOCAL_SIMULATOR:
            return ParallelSimulatorBackend(provider=self, **options)
        self._require_client(f"backend {name!r} (not {LOCAL_SIMULATOR!r}, so a Qoro system)")
        wanted = DEFAULT_SYSTEM if name == QORO_ALIAS else name
        for system in self._qoro_systems():
            if system.name == wanted:
                return self._qoro_backend(system, dialect, **options)
        available = [LOCAL_SIMULATOR, QORO_ALIAS] + [s.name for s in self._qoro_systems()]
        raise UnknownBackendError(
            f"no backend {name!r}; available: {', '.join(map(repr, available))}"
        )

    def retrieve_job(self, job_id: str) -> QoroJob:
        """The Qoro job ``job_id``, working as when it was submitted, in any process.

        Its circuits are not known here, so its result names experiments after their
        labels and keys counts by flat bitstrings; its ``backend()`` is unknown.

        Raises:
            MissingCredentialsError: no token is configured.
            JobNotFoundError: the service knows no such job for this token.
        """
        client = self._require_client(f"retrieving job {job_id}")
        return QoroJob(None, retrieve(client, job_id))

    def jobs(
        self,
        limit: int = 10,
        status: QoroJobStatus | str | None = None,
        tag: str | None = None,
        backend: str | None = None,
        since: datetime | None = None,
    ) -> list[JobRecord]:
        """The Qoro jobs this machine submitted to this provider's service, newest first.

        They come from the job journal (:mod:`qiskit_divi.journal`; the service itself
        lists no jobs), each with its status asked of the service now, a few requests at
        a time.

        Args:
            limit: at most this many jobs.
            status: only jobs in this state (``"COMPLETED"`` or a ``QoroJobStatus``).
            tag: only jobs submitted with this tag.
            backend: only jobs sent to this system (``"qoro"`` for the default one).
            since: only jobs submitted at or after this time (local time if naive).

        Raises:
            MissingCredentialsError: no token is configured.
        """
        limit = positive_int("limit", limit)
        wanted = None if status is None else _status(status)
        client = self._require_client("listing jobs")
        system = DEFAULT_SYSTEM if backend == QORO_ALIAS else backend
        page_size = limit if wanted is None else max(limit, 50)
        found: list[JobRecord] = []
        offset = 0
        while len(found) < limit:
            page = Journal().entries(
                api_url=client.api_url,
                tag=tag,
                system=system,
                since=since,
                limit=page_size,
                offset=offset,
            )
            offset += len(page)
            reports = for_each(lambda job_id: _report(client, job_id), [e.job_id for e in page])
            for entry, report in zip(page, reports, strict=True):
                if isinstance(report, QoroError):
                    raise report
                record = JobRecord(entry, *(report or (None, None)))
                if wanted is None or record.status is wanted:
                    found.append(record)
            if len(page) < page_size:
                break
        return found[:limit]

    @staticmethod
    def save_account(
        token: str,
        *,
        name: str = accounts.DEFAULT_ACCOUNT,
        url: str | None = None,
        overwrite: bool = False,
    ) -> str:
        """Save ``token`` with its URL (the public service by default) as account ``name``.

        The token goes to the OS keyring when one is usable, else into a file only you can
        read (mode 0600) in your config directory; it is never printed. Returns where it
        went. A provider made with no token finds the account ``"default"``, or any
        account by ``DiviProvider(account=name)``.

        Raises:
            InvalidInputError: a bad token, name or URL, or ``name`` is saved already
                and ``overwrite`` is false.
        """
        return accounts.save_account(token, name=name, url=url, overwrite=overwrite)

    @staticmethod
    def saved_accounts() -> dict[str, str]:
        """The saved accounts: each name with its URL (never a token)."""
        return accounts.saved_accounts()

    @staticmethod
    def delete_account(name: str = accounts.DEFAULT_ACCOUNT) -> bool:
        """Forget the saved account ``name``; whether there was one."""
        return accounts.delete_account(name)

    def _require_client(self, purpose: str) -> QoroClient:
        """The Qoro client, made now if a token has appeared since; else an error
        saying what needed one."""
        if self._client is None:
            try:
                self._client = QoroClient(
                    api_url=self._api_url, account=self._account, dialect=self._dialect
                )
            except MissingCredentialsError as err:
                raise MissingCredentialsError(f"{purpose} needs a Qoro API token: {err}") from err
        return self._client

    def _qoro_systems(self) -> list[QPUSystem | SimulatorCluster]:
        if self._systems is None:
            client = self._require_client("listing the Qoro systems")
            self._systems = [*client.fetch_simulator_clusters(), *client.fetch_qpu_systems()]
        return self._systems

    def _qoro_backend(
        self,
        system: QPUSystem | SimulatorCluster,
        dialect: Dialect | str | int | None = None,
        **options: Any,
    ) -> QoroBackend:
        """A backend on the shared client (speaking ``dialect`` if given), or on a client of
        its own when ``options`` has client settings."""
        settings = {key: options.pop(key) for key in CLIENT_SETTINGS if key in options}
        client = self._require_client(system.name)
        if dialect is not None:
            client = client.speaking(dialect)
        if settings:
            settings.setdefault("request_timeout", client.request_timeout)
            client = QoroClient(
                self._auth_token,
                client.api_url,
                account=self._account,
                dialect=client.dialect,
                **settings,
            )
        return QoroBackend(system, client, provider=self, **options)


_ABSENT = object()


def _report(client: QoroClient, job_id: str) -> tuple[QoroJobStatus, str | None] | None:
    try:
        report: JobStatusReport = client.job_status(job_id)
    except JobNotFoundError:
        return None
    return report.status, report.message


def _status(status: QoroJobStatus | str) -> QoroJobStatus:
    if isinstance(status, QoroJobStatus):
        return status
    known = QoroJobStatus.__members__.get(str(status).upper())
    if known is None:
        names = ", ".join(s.value for s in QoroJobStatus)
        raise InvalidInputError(f"unknown job status {status!r}; one of {names}")
    return known


def _is_simulator(backend: BackendV2) -> bool:
    return not isinstance(backend, QoroBackend) or backend.simulator


def _is_operational(backend: BackendV2) -> bool:
    return not isinstance(backend, QoroBackend) or backend.operational
