"""The Qoro client's retry policies, as urllib3 ``Retry`` values mounted once on its session.

Every request retries 429/502/503/504 and failed connections with exponential backoff
and jitter, honouring ``Retry-After``, within a bound on total time. ``job/init/``, the
one request that creates state, gets a stricter policy: it is retried only when it
provably created nothing (the connection never opened, or a 429/503 refusal), never
after a read timeout, a dropped connection or a 502/504, when a job may exist.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from itertools import takewhile
from types import TracebackType
from typing import Any

from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from .deadline import call_deadline

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Statuses that say the service refused ``job/init/`` before creating anything.
INIT_RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetrySettings:
    """How hard the client retries; tests shrink the delays to nothing.

    Attributes:
        max_retries: retries of one request, per kind of failure.
        backoff_factor: the first retry waits this long, each next one twice as long
            (plus up to as much again of random jitter).
        backoff_max: the longest backoff between two attempts.
        retry_after_max: the longest ``Retry-After`` the client honours.
    """

    max_retries: int = 8
    backoff_factor: float = 0.5
    backoff_max: float = 10.0
    retry_after_max: int = 30

    def policy(self, max_retry_time: float) -> BoundedRetry:
        """The policy of every request but ``job/init/``, stopping ``max_retry_time``
        seconds after a request's first failure."""
        return self._retry(
            max_retry_time,
            read=self.max_retries,
            statuses=RETRY_STATUSES,
            methods=frozenset({"GET", "POST", "DELETE"}),
        )

    def init_policy(self, max_retry_time: float) -> BoundedRetry:
        """The policy of ``job/init/``: no read retries, only refusals that created nothing."""
        return self._retry(
            max_retry_time, read=False, statuses=INIT_RETRY_STATUSES, methods=frozenset({"POST"})
        )

    def _retry(
        self,
        max_retry_time: float,
        *,
        read: int | bool,
        statuses: frozenset[int],
        methods: frozenset[str],
    ) -> BoundedRetry:
        return BoundedRetry(
            total=None,
            connect=self.max_retries,
            read=read,
            status=self.max_retries,
            other=0,
            allowed_methods=methods,
            status_forcelist=statuses,
            backoff_factor=self.backoff_factor,
            backoff_jitter=self.backoff_factor,
            backoff_max=self.backoff_max,
            retry_after_max=self.retry_after_max,
            raise_on_status=False,
            max_retry_time=max_retry_time,
        )


class BoundedRetry(Retry):
    """urllib3's ``Retry`` that backs off from the first retry and stops at a deadline.

    The deadline is set at a request's first failure; waits are cut short to meet it,
    and no attempt starts after it (a retried status then returns its last response).
    The current call's own deadline (:func:`~.deadline.call_deadline`, set by a wait
    with a timeout) bounds them too.
    """

    def __init__(
        self,
        *args: Any,
        max_retry_time: float = 60.0,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_time = max_retry_time
        self.deadline = deadline

    def new(self, **kw: Any) -> BoundedRetry:
        kw.setdefault("max_retry_time", self.max_retry_time)
        kw.setdefault("deadline", self.deadline)
        return super().new(**kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> BoundedRetry:
        deadline = self.deadline
        started = self
        if deadline is None:
            deadline = time.monotonic() + self.max_retry_time
            started = self.new(deadline=deadline)
        retry = super(BoundedRetry, started).increment(
            method, url, response, error, _pool, _stacktrace
        )
        if time.monotonic() >= min(deadline, call_deadline()):
            reason = error or ResponseError(f"still failing after {self.max_retry_time:g} s")
            raise MaxRetryError(_pool, url, reason) from reason  # type: ignore[arg-type]
        return retry

    def get_backoff_time(self) -> float:
        failures = sum(
            1 for _ in takewhile(lambda h: h.redirect_location is None, reversed(self.history))
        )
        if failures == 0:
            return 0.0
        backoff = self.backoff_factor * 2 ** (failures - 1) + random.uniform(
            0, self.backoff_jitter
        )
        return min(self.backoff_max, backoff)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = self._retry_after(response)
        if wait is None:
            wait = self.get_backoff_time()
        deadline = min(math.inf if self.deadline is None else self.deadline, call_deadline())
        wait = min(wait, deadline - time.monotonic())
        if wait > 0:
            time.sleep(wait)

    def _retry_after(self, response: BaseHTTPResponse | None) -> float | None:
        """The server's ``Retry-After`` in seconds (capped); None when absent or unreadable."""
        if response is None or not self.respect_retry_after_header:
            return None
        try:
            return self.get_retry_after(response)
        except InvalidHeader:
            return None
