"""The Qoro Service wire protocol: every name, value and limit the wire fixes.

This is the one module to change when the service changes (``docs/protocol.rst``
describes the protocol): the API root and every endpoint's method and path, job types
and statuses with their wire values, the default URL and system, the body cap, the
result page size, the records the service answers with, and the request bodies of a job
submission in each wire :class:`Dialect`.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from typing import Any

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


class QoroJobStatus(enum.Enum):
    """A Qoro job's state; values are the wire's ``status``.

    Named apart from Qiskit's :class:`~qiskit.providers.JobStatus`, which Qiskit jobs
    report (a :class:`~qiskit_divi.qoro.job.QoroJob` included). Divi's Backends Guide
    calls this enum ``JobStatus``: that name still imports it from ``qiskit_divi`` and
    ``qiskit_divi.backends``.
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in (QoroJobStatus.COMPLETED, QoroJobStatus.FAILED, QoroJobStatus.CANCELLED)


@dataclass(frozen=True)
class JobStatusReport:
    """A job's status as ``job/{id}/status/`` reports it; ``message`` explains a failure."""

    status: QoroJobStatus
    message: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> JobStatusReport:
        message = data.get("error") or data.get("message")
        return cls(status=QoroJobStatus(data["status"]), message=str(message) if message else None)


class Dialect(enum.Enum):
    """Which generation of the service's wire format a client speaks: its one setting.

    ``V2025`` is the dialect of Divi's Backends Guide: ``job_type`` names the kind of run
    (``SIMULATE``, ``EXECUTE``, ...), the target travels as ``qpu_system_name`` and
    observables as plain ``;``-separated terms. A newer dialect is a new member whose
    bodies these methods build; nothing above this module changes.
    """

    V2025 = "2025"

    def init_job_body(
        self, *, job_type: JobType, system_name: str, tag: str, shots: int | None
    ) -> dict[str, Any]:
        """The body of ``POST job/init/``, which creates an empty job."""
        body: dict[str, Any] = {
            "tag": tag,
            "job_type": job_type.value,
            "qpu_system_name": system_name,
            "use_packing": False,
        }
        if shots is not None:
            body["shots"] = shots
        return body

    def add_circuits_body(
        self, circuits: dict[str, str], *, last: bool, shots: int | None, observables: str | None
    ) -> dict[str, Any]:
        """The body of one ``POST job/{id}/add_circuits/``; ``last`` finalizes the job.

        Sampling jobs carry ``shots``, expectation jobs ``observables`` (``"XYZ;ZZI"``).
        """
        body: dict[str, Any] = {
            "circuits": circuits,
            "mode": "append",
            "finalized": "true" if last else "false",
        }
        if observables is not None:
            body["observables"] = observables
        else:
            body["shots"] = shots
        return body


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
            access_level=str(data.get("access_level", "")),
            qpus=tuple(QPU.from_wire(q) for q in data.get("qpus", [])),
            supports_expval=bool(data.get("supports_expval", False)),
        )


@dataclass(frozen=True)
class SimulatorCluster:
    """A simulator cluster, as ``simulatorcluster/`` lists it."""

    name: str
    access_level: str
    minimum_tier: str = ""
    supports_expval: bool = False

    @property
    def num_qubits(self) -> int:
        """Not published by the service: :data:`SIMULATOR_CLUSTER_QUBITS`."""
        return SIMULATOR_CLUSTER_QUBITS

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SimulatorCluster:
        return cls(
            name=str(data["name"]),
            access_level=str(data.get("access_level", "")),
            minimum_tier=str(data.get("minimum_tier", "") or ""),
            supports_expval=bool(data.get("supports_expval", False)),
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: the only place plain ``http://`` may go."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
