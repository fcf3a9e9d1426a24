"""DiviProvider: the local parallel simulator and the Qoro systems as Qiskit backends.

The provider is where backends are found by name and where a Qoro job is rebuilt from
its id. Credentials resolve as in :class:`~qiskit_divi.qoro.client.QoroClient`:
argument, then ``QORO_API_KEY``, then a ``.env`` file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qiskit.providers import BackendV2

from .exceptions import MissingCredentialsError, UnknownBackendError
from .qoro.backend import QoroBackend
from .qoro.client import QoroClient
from .qoro.job import QoroJob
from .qoro.protocol import DEFAULT_SYSTEM, Dialect, QPUSystem, SimulatorCluster
from .simulator.backend import ParallelSimulatorBackend

#: The local simulator's name.
LOCAL_SIMULATOR = "parallel_simulator"
#: An alias of the Qoro Service's default system.
QORO_ALIAS = "qoro"


class DiviProvider:
    """Finds qiskit-divi's backends by name and rebuilds Qoro jobs from their ids.

    Args:
        auth_token: the Qoro API token; by default ``QORO_API_KEY`` or a ``.env`` file.
            Without one, only the local simulator is offered, and no request is made.
        api_url: the Qoro API's base URL; by default ``QORO_API_URL`` or Qoro's own.
        dialect: the Qoro wire dialect, ``"2026"`` (today's service, the default) or
            ``"2025"`` (Divi's Backends Guide).
    """

    def __init__(
        self,
        auth_token: str | None = None,
        api_url: str | None = None,
        *,
        dialect: Dialect | str | int = Dialect.V2026,
    ) -> None:
        self._api_url = api_url
        self._dialect = dialect
        try:
            self._client: QoroClient | None = QoroClient(auth_token, api_url, dialect=dialect)
        except MissingCredentialsError:
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

        ``"parallel_simulator"`` is the local simulator (its constructor's keywords are
        accepted too, e.g. ``n_processes``); ``"qoro"`` is the Qoro Service's default
        system; any other name is a Qoro system's, whose jobs travel in ``dialect`` (by
        default the provider's).

        Raises:
            MissingCredentialsError: a Qoro system was asked for without a token.
            UnknownBackendError: no backend has that name.
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
        client.job_status(job_id)
        return QoroJob(None, job_id, client=client)

    def _require_client(self, purpose: str) -> QoroClient:
        """The Qoro client, made now if a token has appeared since; else an error
        saying what needed one."""
        if self._client is None:
            try:
                self._client = QoroClient(api_url=self._api_url, dialect=self._dialect)
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
        client = self._require_client(system.name)
        if dialect is not None:
            client = client.speaking(dialect)
        return QoroBackend(system, client, provider=self, **options)


_ABSENT = object()


def _is_simulator(backend: BackendV2) -> bool:
    return not isinstance(backend, QoroBackend) or backend.simulator


def _is_operational(backend: BackendV2) -> bool:
    return not isinstance(backend, QoroBackend) or backend.operational
