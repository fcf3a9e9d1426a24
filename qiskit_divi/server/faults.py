"""Seeded fault injection, so clients' retry rules meet real sockets, not only mocks.

Each request is hit with probability ``rate``. What may hit it depends on what a correct
client may do about it (``docs/protocol.rst``): a client may repeat ``job/init/`` and
``cancel/`` only when the server provably did nothing, so those endpoints only ever get
refusals (429 or 503 with ``Retry-After``) before they run. ``DELETE`` is safe to repeat
but not to run twice (the second would be a 404), so its faults all come before it
runs: refusals, a 502 or a dropped connection. GETs and ``add_circuits`` (which stores a
repeated chunk once) also lose their answers after running: a 502 or a dropped
connection once the work is done. A correct client therefore ends with the same results,
and exactly one job per submission, as it would against a faultless server.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import json
import logging
import random
from dataclasses import dataclass
from typing import Any

from starlette.routing import compile_path

from ..exceptions import InvalidInputError
from ..qoro.protocol import Endpoint

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
ASGIApp = Any


@dataclass(frozen=True)
class FaultPlan:
    """How often, and how reproducibly, a server misbehaves.

    Attributes:
        rate: probability in [0, 1] that a request meets a fault.
        seed: seeds the choice of which requests fail and how.
        retry_after: seconds a 429 or 503 asks the client to wait.
    """

    rate: float
    seed: int | None = None
    retry_after: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise InvalidInputError(f"fault rate must be in [0, 1], got {self.rate}")
        if self.retry_after < 0:
            raise InvalidInputError(f"retry_after must be >= 0, got {self.retry_after}")


class Fault(enum.Enum):
    """One way a request can go wrong, and whether the server did the work first."""

    TOO_MANY_REQUESTS = "429 before running"
    UNAVAILABLE = "503 before running"
    BAD_GATEWAY = "502 before running"
    DROPPED = "connection dropped before running"
    BAD_GATEWAY_AFTER = "502 after running"
    DROPPED_AFTER = "connection dropped after running"


_REFUSALS = (Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE)
_LOST_REQUESTS = (Fault.BAD_GATEWAY, Fault.DROPPED)
_LOST_ANSWERS = (Fault.BAD_GATEWAY_AFTER, Fault.DROPPED_AFTER)


#: Endpoints that must not run twice, and that a client therefore repeats only when
#: the server provably did nothing.
_REFUSED_ONLY = (Endpoint.INIT_JOB, Endpoint.CANCEL)
_ROUTES = tuple((endpoint, compile_path(endpoint.route())[0]) for endpoint in Endpoint)


def faults_for(method: str, path: str) -> tuple[Fault, ...]:
    """The faults a request may meet without misleading a correct client."""
    endpoint = next((e for e, r in _ROUTES if e.method == method and r.match(path)), None)
    if endpoint in _REFUSED_ONLY:
        return _REFUSALS
    if endpoint is Endpoint.DELETE:
        return _REFUSALS + _LOST_REQUESTS
    return _REFUSALS + _LOST_REQUESTS + _LOST_ANSWERS


class FaultInjector:
    """ASGI middleware that applies a :class:`FaultPlan` to HTTP requests.

    ``injected`` counts the faults dealt so far, by kind.
    """

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan
        self.injected: collections.Counter[Fault] = collections.Counter()
        self._random = random.Random(plan.seed)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        fault = self._draw(scope) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        self.injected[fault] += 1
        logger.debug("injecting %s into %s %s", fault.value, scope["method"], scope["path"])
        if fault in _LOST_ANSWERS:
            await self.app(scope, receive, _discard)
        if fault in (Fault.DROPPED, Fault.DROPPED_AFTER):
            await _drop_connection(send)
        else:
            await _refuse(send, fault, self.plan.retry_after)

    def _draw(self, scope: Scope) -> Fault | None:
        if self._random.random() >= self.plan.rate:
            return None
        return self._random.choice(faults_for(scope["method"], scope["path"]))


async def _discard(message: Any) -> None:
    """A ``send`` that loses the answer."""


_STATUS = {
    Fault.TOO_MANY_REQUESTS: 429,
    Fault.UNAVAILABLE: 503,
    Fault.BAD_GATEWAY: 502,
    Fault.BAD_GATEWAY_AFTER: 502,
}


async def _refuse(send: Any, fault: Fault, retry_after: int) -> None:
    status = _STATUS[fault]
    body = json.dumps({"detail": f"injected fault: {fault.value}"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status != 502:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(send: Any) -> None:
    """Close the socket without a byte of answer, as a crashed proxy would.

    ASGI has no message for this; uvicorn's ``send`` is a method of the request cycle,
    which holds the connection's transport.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("dropping connections needs the server to run under uvicorn")
    transport.close()
    await asyncio.sleep(0)  # let uvicorn see the disconnect before the app returns
