"""The Qoro Service wire protocol: every name, value and limit the wire fixes.

This is the one module to change when the service changes (``docs/protocol.rst``
describes the protocol): the API root and every endpoint's method and path, job types
and statuses with their wire values, the default URL and system, the body cap, the
result page size, the records the service answers with, and the request bodies of a job
submission in each wire :class:`Dialect` (the 2026 one by default, the 2025 one of
Divi's Backends Guide on request).
"""

from __future__ import annotations

import enum
import ipaddress
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..exceptions import InvalidInputError

log = logging.getLogger(__name__)

#: The path of the API on its host, which the service's URL ends in and the local server
#: serves under (also importable as ``qiskit_divi.server.API_ROOT``).
API_ROOT = "/api"
DEFAULT_API_URL = "https://app.qoroquantum.net" + API_ROOT
DEFAULT_SYSTEM = "qoro_maestro"
API_KEY_ENV = "QORO_API_KEY"
API_URL_ENV = "QORO_API_URL"

#: Largest request body the service accepts for ``add_circuits`` (0.95 MiB).
MAX_BODY_BYTES = int(0.95 * 1024 * 1024)
#: Bytes one circuit entry costs in a chunk besides its label and payload, and the
#: bytes of the enclosing braces: the service's own accounting.
ENTRY_OVERHEAD_BYTES = 6
CHUNK_OVERHEAD_BYTES = 2
RESULTS_PAGE_LIMIT = 100
#: Largest ``page_size`` the credit history takes.
CREDIT_PAGE_SIZE_LIMIT = 100
#: The prefix of one compressed observable group on the 2026 wire: ``@gzs<n>:<b64>``.
GZS_PREFIX = "@gzs"
#: Settings a job may carry in ``job/init/`` (2026): for a simulator cluster, for a QPU.
SIMULATOR_SETTINGS = "maestro_config"
DEVICE_SETTINGS = "device_config"
#: What to use for circuit cutting once the service cuts no more (the 2026 wire).
CUTTING_ALTERNATIVE = (
    "the 2026 Qoro wire has no server-side circuit cutting: cut on the client with "
    "qiskit-addon-cutting and run the subexperiments with qiskit_divi's SamplerV2 on "
    "this backend (or pass dialect='2025' to a service that still cuts)"
)

#: The gates of OpenQASM 2's standard library ``qelib1.inc`` as first published (Cross et
#: al., 2017): circuits travel as OpenQASM 2, and every reader of it knows these.
QELIB1_GATES = (
    "u3", "u2", "u1", "cx", "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg",
    "rx", "ry", "rz", "cz", "cy", "ch", "ccx", "crz", "cu1", "cu3",
)  # fmt: skip
#: Qubits a simulator cluster is taken to offer. The service publishes no width for its
#: simulators (only QPUs list ``q_bits``); this is a client-side bound, wide enough for
#: the tensor-network and stabilizer runs a cluster can take, and the service itself
#: fails a job it cannot simulate.
SIMULATOR_CLUSTER_QUBITS = 64
#: The QPU ``status`` that means a device takes jobs (compared case-insensitively).
QPU_ONLINE_STATUS = "online"
#: What a listing leaves out: a system is public, a cluster open to the free tier.
DEFAULT_ACCESS_LEVEL = "PUBLIC"
DEFAULT_MINIMUM_TIER = "FREE"


class Endpoint(enum.Enum):
    """Every endpoint of the service: its HTTP method and its path below :data:`API_ROOT`.

    Paths keep the service's trailing slashes exactly (``DELETE job/{job_id}`` has none);
    ``{job_id}`` stands for a job's id. The client builds its requests with :meth:`path`,
    the local server its routes with :meth:`route`.
    """

    PING = ("GET", "")
    QPU_SYSTEMS = ("GET", "qpusystem/")
    SIMULATOR_CLUSTERS = ("GET", "simulatorcluster/")
    INIT_JOB = ("POST", "job/init/")
    ADD_CIRCUITS = ("POST", "job/{job_id}/add_circuits/")
    STATUS = ("GET", "job/{job_id}/status/")
    RESULTS = ("GET", "job/{job_id}/resultsV2/")
    CANCEL = ("POST", "job/{job_id}/cancel/")
    DELETE = ("DELETE", "job/{job_id}")
    EXECUTION_CONFIG = ("GET", "job/{job_id}/execution_config/")
    CREDITS = ("GET", "credits/")
    CREDIT_TRANSACTIONS = ("GET", "credits/transactions/")

    def __init__(self, method: str, template: str) -> None:
        self.method = method
        self.template = template

    def path(self, job_id: str | None = None) -> str:
        """The request path relative to the API URL, for ``job_id`` if the path names a job."""
        if ("{job_id}" in self.template) != (job_id is not None):
            raise TypeError(f"{self.name} takes a job id if and only if its path names one")
        return self.template if job_id is None else self.template.replace("{job_id}", job_id)

    def route(self) -> str:
        """The path served from the host, ``{job_id}`` left as a placeholder."""
        return f"{API_ROOT}/{self.template}"


class JobType(enum.Enum):
    """What a Qoro job does with its circuits; values are the wire's ``job_type``."""

    SIMULATE = "SIMULATE"
    EXECUTE = "EXECUTE"
    ESTIMATE = "EXPECTATION"
    CIRCUIT_CUT = "CIRCUIT_CUT"

    @classmethod
    def from_wire(cls, value: str) -> JobType:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(repr(t.value) for t in cls)
            raise ValueError(f"unknown job type {value!r}; expected one of {names}") from None


#: What an unknown status must look like to be kept (see :class:`QoroJobStatus`).
_STATUS_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class QoroJobStatus(enum.Enum):
    """A Qoro job's state; values are the wire's ``status``.

    Named apart from Qiskit's :class:`~qiskit.providers.JobStatus`, which Qiskit jobs
    report (a :class:`~qiskit_divi.qoro.job.QoroJob` included). Divi's Backends Guide
    calls this enum ``JobStatus``: that name still imports it from ``qiskit_divi`` and
    ``qiskit_divi.backends``.

    A status the service sends that this version does not know is kept as it came, as
    a member outside the list (``QoroJobStatus("MIGRATING").value == "MIGRATING"``,
    :attr:`known` false): it is not final, so a wait goes on through it. Only what looks
    like a status name is kept (capitals, digits and ``_``, at most 64): any other value
    is an unreadable answer, never echoed into logs.
    """

    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    TIMED_OUT = "TIMED_OUT"

    @classmethod
    def _missing_(cls, value: object) -> QoroJobStatus | None:
        if not isinstance(value, str) or not _STATUS_NAME.fullmatch(value):
            return None
        member = object.__new__(cls)
        member._name_ = member._value_ = value
        # One member per value, so unknown statuses compare and hash like known ones.
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]

    @property
    def known(self) -> bool:
        """Whether this version of the protocol names this status."""
        return self.name in type(self).__members__

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset(
    {
        QoroJobStatus.COMPLETED,
        QoroJobStatus.FAILED,
        QoroJobStatus.CANCELLED,
        QoroJobStatus.INSUFFICIENT_CREDITS,
        QoroJobStatus.TIMED_OUT,
    }
)


@dataclass(frozen=True)
class JobStatusReport:
    """A job's status as ``job/{id}/status/`` reports it; ``message`` explains a failure,
    ``run_time`` is in seconds once the service says (it may not)."""

    status: QoroJobStatus
    message: str | None = None
    run_time: float | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> JobStatusReport:
        message = data.get("error") or data.get("message")
        run_time = data.get("run_time")
        if isinstance(run_time, bool) or not isinstance(run_time, int | float):
            run_time = None
        return cls(
            status=QoroJobStatus(data["status"]),
            message=str(message) if message else None,
            run_time=None if run_time is None else float(run_time),
        )


class Dialect(enum.Enum):
    """Which generation of the service's wire format a client speaks: its one setting.

    ``V2026`` (the default) is what the service speaks today: sampling jobs are all
    ``EXECUTE`` and the target is named by exactly one key, ``simulator_cluster`` or
    ``qpu_system_name``; shots travel with the circuits (per circuit with
    ``shot_groups``), observables as ``@gzs`` groups (per circuit range with
    ``circuit_ham_map``), and a circuit may travel once as a parametric template.
    ``V2025`` is the dialect of Divi's Backends Guide: ``job_type`` names the kind of run
    (``SIMULATE``, ``EXECUTE``, ...), the target always travels as ``qpu_system_name`` and
    observables as one plain group of ``;``-separated terms.

    ``Dialect("2025")`` and ``Dialect(2025)`` both name a member.
    """

    V2025 = "2025"
    V2026 = "2026"

    @classmethod
    def _missing_(cls, value: object) -> Dialect | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return cls.__members__.get(f"V{value}")
        return None

    def job_type_value(self, job_type: JobType) -> str:
        """The wire's ``job_type`` for one of the guide's job types.

        Raises:
            InvalidInputError: ``CIRCUIT_CUT`` on the 2026 wire, which cuts no more.
        """
        if self is Dialect.V2025:
            return job_type.value
        if job_type is JobType.CIRCUIT_CUT:
            raise InvalidInputError(CUTTING_ALTERNATIVE)
        return JobType.ESTIMATE.value if job_type is JobType.ESTIMATE else JobType.EXECUTE.value

    def init_job_body(
        self,
        *,
        job_type: JobType,
        system_name: str,
        tag: str,
        shots: int | None,
        simulator: bool = True,
        maestro_config: Mapping[str, Any] | None = None,
        device_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The body of ``POST job/init/``, which creates an empty job, keys in the wire's
        order. ``simulator`` says whether ``system_name`` is a simulator cluster.

        Raises:
            InvalidInputError: settings for the other kind of target, or on the 2025
                wire, which takes none; ``CIRCUIT_CUT`` on the 2026 wire.
        """
        wire_type = self.job_type_value(job_type)
        if self is Dialect.V2025:
            if maestro_config is not None or device_config is not None:
                raise InvalidInputError(
                    f"{SIMULATOR_SETTINGS} and {DEVICE_SETTINGS} travel only on the 2026 wire"
                )
            body: dict[str, Any] = {} if shots is None else {"shots": shots}
            body.update(
                tag=tag, job_type=wire_type, qpu_system_name=system_name, use_packing=False
            )
            return body
        kind, wrong = SIMULATOR_SETTINGS, DEVICE_SETTINGS
        if not simulator:
            kind, wrong = wrong, kind
        given = {SIMULATOR_SETTINGS: maestro_config, DEVICE_SETTINGS: device_config}
        if given[wrong] is not None:
            what = "a simulator cluster" if simulator else "a QPU system"
            raise InvalidInputError(
                f"{wrong} does not apply to {system_name!r}, {what}; it takes {kind}"
            )
        body = {"tag": tag, "job_type": wire_type, "use_packing": False}
        body["simulator_cluster" if simulator else "qpu_system_name"] = system_name
        if given[kind] is not None:
            body[kind] = dict(given[kind])  # type: ignore[arg-type]
        return body

    def upload_body(
        self,
        payload: Mapping[str, Any],
        *,
        last: bool,
        shots: int | None = None,
        observables: str | None = None,
        circuit_ham_map: Sequence[Sequence[int]] | None = None,
    ) -> dict[str, Any]:
        """The body of one ``POST job/{id}/add_circuits/``; ``last`` finalizes the job.

        ``payload`` is what the upload carries: ``{"circuits"}`` (2026: with
        ``"shot_groups"``, or a template's ``"circuit_template"``, ``"parameter_names"``,
        ``"parameter_sets"``). Sampling uploads carry ``shots`` (none beside shot groups),
        expectation uploads ``observables`` and, on the 2026 wire, ``circuit_ham_map``.
        """
        finalized = "true" if last else "false"
        if self is Dialect.V2025:
            option = {"shots": shots} if observables is None else {"observables": observables}
            if observables is None:
                return {**payload, **option, "mode": "append", "finalized": finalized}
            return {**payload, "mode": "append", "finalized": finalized, **option}
        body = {**payload, "mode": "append", "finalized": finalized}
        if observables is not None:
            body["observables"] = observables
            if circuit_ham_map is not None:
                body["circuit_ham_map"] = [list(r) for r in circuit_ham_map]
        elif "shot_groups" not in payload:
            body["shots"] = shots
        return body

    def render(self, body: Mapping[str, Any]) -> str:
        """A request body's JSON text: compact on the 2025 wire (its cap counts the
        circuits alone), ``json.dumps``'s default rendering on the 2026 wire, whose cap
        counts the whole body as rendered so."""
        if self is Dialect.V2025:
            return json.dumps(body, separators=(",", ":"))
        return json.dumps(body)


@dataclass(frozen=True)
class QPU:
    """One device of a QPU system, as ``qpusystem/`` lists it."""

    nickname: str
    q_bits: int
    status: str
    system_kind: str

    @property
    def online(self) -> bool:
        return self.status.lower() == QPU_ONLINE_STATUS

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> QPU:
        return cls(
            nickname=str(data["nickname"]),
            q_bits=int(data["q_bits"]),
            status=str(data.get("status", "")),
            system_kind=str(data.get("system_kind", "")),
        )


@dataclass(frozen=True)
class QPUSystem:
    """A QPU system: a named group of devices one job can target."""

    name: str
    access_level: str
    qpus: tuple[QPU, ...] = field(default_factory=tuple)
    supports_expval: bool = False

    @property
    def num_qubits(self) -> int:
        return max((qpu.q_bits for qpu in self.qpus), default=0)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> QPUSystem:
        return cls(
            name=str(data["name"]),
            access_level=str(data.get("access_level") or DEFAULT_ACCESS_LEVEL),
            qpus=tuple(QPU.from_wire(q) for q in data.get("qpus", [])),
            supports_expval=bool(data.get("supports_expval", False)),
        )


@dataclass(frozen=True)
class SimulatorCluster:
    """A simulator cluster, as ``simulatorcluster/`` lists it."""

    name: str
    access_level: str
    minimum_tier: str = "FREE"
    supports_expval: bool = True

    @property
    def num_qubits(self) -> int:
        """Not published by the service: :data:`SIMULATOR_CLUSTER_QUBITS`."""
        return SIMULATOR_CLUSTER_QUBITS

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SimulatorCluster:
        return cls(
            name=str(data["name"]),
            access_level=str(data.get("access_level") or DEFAULT_ACCESS_LEVEL),
            minimum_tier=str(data.get("minimum_tier") or DEFAULT_MINIMUM_TIER),
            supports_expval=bool(data.get("supports_expval", True)),
        )


def _decimal(value: Any, what: str) -> Decimal:
    """An amount as the service sends it (a decimal string), exactly."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise ValueError(f"{what} {value!r} is not a finite amount")
    return amount


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class CreditBalance:
    """A token's credits, as ``credits/`` reports them (amounts are exact decimals)."""

    balance: Decimal
    total_used: Decimal
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CreditBalance:
        return cls(
            balance=_decimal(data["balance"], "balance"),
            total_used=_decimal(data.get("total_used", 0), "total_used"),
            created_at=_text(data.get("created_at")),
            updated_at=_text(data.get("updated_at")),
        )


@dataclass(frozen=True)
class CreditTransaction:
    """One change of a balance: a job's charge (negative), a top-up, a refund."""

    id: int
    amount: Decimal
    balance_after: Decimal
    transaction_type: str
    description: str = ""
    job_id: str | None = None
    created_at: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CreditTransaction:
        return cls(
            id=int(data["id"]),
            amount=_decimal(data["amount"], "amount"),
            balance_after=_decimal(data["balance_after"], "balance_after"),
            transaction_type=str(data.get("transaction_type", "")),
            description=str(data.get("description") or ""),
            job_id=_text(data.get("job_id")),
            created_at=_text(data.get("created_at")),
        )


@dataclass(frozen=True)
class CreditTransactionPage:
    """One page of ``credits/transactions/``, newest first; ``next``/``previous`` are the
    service's URLs of the neighbouring pages, ``None`` at either end."""

    count: int
    total_pages: int
    results: tuple[CreditTransaction, ...]
    next: str | None = None
    previous: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CreditTransactionPage:
        return cls(
            count=int(data["count"]),
            total_pages=int(data.get("total_pages", 1)),
            results=tuple(CreditTransaction.from_wire(t) for t in data["results"]),
            next=_text(data.get("next")),
            previous=_text(data.get("previous")),
        )


@dataclass(frozen=True)
class ExecutionConfig:
    """The settings a job runs with, as ``job/{id}/execution_config/`` keeps them:
    ``maestro_config`` on a simulator cluster, ``device_config`` on a QPU system."""

    maestro_config: dict[str, Any] | None = None
    device_config: dict[str, Any] | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ExecutionConfig:
        settings = {key: data.get(key) for key in (SIMULATOR_SETTINGS, DEVICE_SETTINGS)}
        for key, value in settings.items():
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"{key} must be an object or null, got {value!r}")
        return cls(**settings)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: the only place plain ``http://`` may go."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
