"""What a local server offers and to whom: its systems and the bearer tokens it accepts.

A system is either a noiseless simulator cluster or a noisy "QPU" played by one of
qiskit-ibm-runtime's fake IBM backends; both are listed the way the real service lists
them (``protocol.QPUSystem`` / ``protocol.SimulatorCluster``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from ..exceptions import InvalidInputError, InvalidTypeError, MissingCredentialsError
from ..qoro.protocol import DEFAULT_SYSTEM, QPU, QPU_ONLINE_STATUS, QPUSystem, SimulatorCluster

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

#: Environment variable the ``serve`` command reads its tokens from (comma-separated).
TOKENS_ENV = "QORO_SERVER_TOKENS"


@dataclass(frozen=True)
class SystemConfig:
    """One system a local server runs jobs on.

    Attributes:
        name: the name clients target in ``job/init/``.
        fake_backend: a class name from ``qiskit_ibm_runtime.fake_provider`` (e.g.
            ``"FakeManilaV2"``): the system is then a noisy QPU of that backend's size and
            noise; ``None`` makes it a noiseless simulator cluster.
        supports_expval: whether it accepts expectation (``EXPECTATION``) jobs.
        access_level: listed as is.
    """

    name: str
    fake_backend: str | None = None
    supports_expval: bool = True
    access_level: str = "public"

    @property
    def is_qpu(self) -> bool:
        return self.fake_backend is not None

    def backend(self) -> BackendV2 | None:
        """The fake backend that plays this QPU (built once), or ``None`` for a simulator."""
        return None if self.fake_backend is None else _fake_backend(self.fake_backend)

    @property
    def num_qubits(self) -> int | None:
        """The widest circuit the system takes; ``None``: as wide as memory allows."""
        backend = self.backend()
        return None if backend is None else backend.num_qubits

    def record(self) -> QPUSystem | SimulatorCluster:
        """The system as ``qpusystem/`` or ``simulatorcluster/`` lists it."""
        backend = self.backend()
        if backend is None:
            return SimulatorCluster(
                name=self.name,
                access_level=self.access_level,
                supports_expval=self.supports_expval,
            )
        qpu = QPU(
            nickname=backend.name,
            q_bits=backend.num_qubits,
            status=QPU_ONLINE_STATUS,
            system_kind="superconducting (simulated with fake-backend noise)",
        )
        return QPUSystem(
            name=self.name,
            access_level=self.access_level,
            qpus=(qpu,),
            supports_expval=self.supports_expval,
        )


#: The systems a server offers unless told otherwise: the service's default noiseless
#: simulator cluster and a noisy 5-qubit QPU played by ``FakeManilaV2``.
DEFAULT_SYSTEMS: tuple[SystemConfig, ...] = (
    SystemConfig(DEFAULT_SYSTEM),
    SystemConfig("fake_manila", fake_backend="FakeManilaV2", supports_expval=False),
)


@cache
def _fake_backend(class_name: str) -> BackendV2:
    from qiskit_ibm_runtime import fake_provider

    backend_class = getattr(fake_provider, class_name, None)
    if backend_class is None or not class_name.startswith("Fake"):
        raise InvalidInputError(
            f"unknown fake backend {class_name!r}; name a class of "
            "qiskit_ibm_runtime.fake_provider such as 'FakeManilaV2'"
        )
    backend: BackendV2 = backend_class()
    return backend


def check_systems(systems: Iterable[SystemConfig]) -> dict[str, SystemConfig]:
    """Systems by name, each fake backend loaded now so a typo fails at start-up."""
    by_name: dict[str, SystemConfig] = {}
    for system in systems:
        if not isinstance(system, SystemConfig):
            raise InvalidTypeError(f"systems must be SystemConfig records, got {system!r}")
        if system.name in by_name:
            raise InvalidInputError(f"system name {system.name!r} is given twice")
        system.backend()
        by_name[system.name] = system
    if not by_name:
        raise InvalidInputError("a server needs at least one system")
    return by_name


def check_tokens(tokens: Sequence[str]) -> tuple[str, ...]:
    """Tokens as given, refusing none at all, blank ones and ones that cannot go in a header."""
    if isinstance(tokens, str):
        raise InvalidTypeError("tokens must be a sequence of strings, not a single string")
    checked = tuple(tokens)
    if not checked:
        raise MissingCredentialsError(
            f"the server needs at least one token (pass --token or set {TOKENS_ENV})"
        )
    for index, token in enumerate(checked):
        if not isinstance(token, str):
            raise InvalidTypeError(f"token #{index + 1} is a {type(token).__name__}, not a string")
        if not token.strip() or token != token.strip():
            raise InvalidInputError(f"token #{index + 1} is empty or has surrounding spaces")
        if not token.isascii() or not token.isprintable() or " " in token:
            raise InvalidInputError(f"token #{index + 1} must be printable ASCII without spaces")
    return checked


def tokens_from_env() -> tuple[str, ...]:
    """Tokens listed, comma-separated, in :data:`TOKENS_ENV` (empty when unset)."""
    raw = os.environ.get(TOKENS_ENV, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())
