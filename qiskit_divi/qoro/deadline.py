"""Total time limits on the Qoro client's HTTP calls, which per-read timeouts cannot give.

A socket timeout bounds each read alone: a server that trickles its answer a byte at a
time never trips it. A :class:`Deadline` bounds the whole exchange instead. While a call
runs inside one, every connection the session opens or sends on is watched, and when an
attempt's time is up its socket is shut down, which ends a blocked connect, send or read
at once. :class:`DeadlineAdapter` does the watching; the retry policy reads the call's
deadline (:func:`call_deadline`) to start no attempt after it.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import socket
import threading
import time
from functools import cache
from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "qoro_deadline", default=None
)


class Deadline:
    """The time limits of one call, made current by ``with``.

    Args:
        attempt: seconds to connect, and then seconds to send the request and receive
            the whole answer, in each attempt.
        at: the ``time.monotonic()`` past which the call (retries included) stops.
    """

    def __init__(self, attempt: float, at: float = math.inf) -> None:
        self.attempt = attempt
        self.at = at
        #: Whether the time ran out on the latest attempt and its connection was cut.
        self.expired = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._steps = 0
        self._connection: Any = None
        self._token: contextvars.Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._disarm()
            self._connection = None
        if self._token is not None:
            _current.reset(self._token)

    def watch(self, connection: Any) -> None:
        """Start the time of a step on ``connection``: its socket is cut when it is up."""
        delay = min(time.monotonic() + self.attempt, self.at) - time.monotonic()
        with self._lock:
            self._disarm()
            self._connection = connection
            self.expired = False
            self._steps += 1
            self._timer = threading.Timer(max(delay, 0.0), self._cut, args=(self._steps,))
            self._timer.daemon = True
            self._timer.start()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cut(self, step: int) -> None:
        with self._lock:
            sock = getattr(self._connection, "sock", None)
            if self._timer is None or step != self._steps or sock is None:
                return
            self.expired = True
            # The plain socket's shutdown, even under TLS: it wakes a blocked read
            # without touching the TLS state another thread is using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def call_deadline() -> float:
    """The ``time.monotonic()`` past which the current call stops (inf: none set)."""
    deadline = _current.get()
    return math.inf if deadline is None else deadline.at


class _Watched:
    """A urllib3 connection whose connect and each request start the current call's
    :meth:`Deadline.watch`."""

    def connect(self) -> None:
        _watch(self)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _watch(connection: object) -> None:
    deadline = _current.get()
    if deadline is not None:
        deadline.watch(connection)


@cache
def _watched(connection_class: type) -> type:
    """``connection_class`` with :class:`_Watched` mixed in (made once per class)."""
    if issubclass(connection_class, _Watched):
        return connection_class
    return type(f"Watched{connection_class.__name__}", (_Watched, connection_class), {})


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections honour the current :class:`Deadline` and which never
    sends plain ``http`` through a proxy, whatever the environment says: plain http
    carries the token only on a direct connection (to loopback, see ``_checked_url``)."""

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> Response:
        if (request.url or "").lower().startswith("http://"):
            proxies = {}
        return super().send(request, stream, timeout, verify, cert, proxies)

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> HTTPConnectionPool:
        pool: Any = super().get_connection_with_tls_context(*args, **kwargs)
        pool.ConnectionCls = _watched(pool.ConnectionCls)
        return pool
