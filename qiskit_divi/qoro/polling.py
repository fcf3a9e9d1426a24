"""Waiting for Qoro jobs: poll their statuses, gently slower over time, until all are final.

Also the progress bar that shows such a wait when someone is watching the terminal.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

from tqdm import tqdm

from ..exceptions import JobTimeoutError, QoroConnectionError
from ..options import positive_seconds
from .protocol import JobStatusReport

log = logging.getLogger(__name__)

#: Each wait is this much longer than the last, up to ``_MAX_SLOWDOWN`` times the first.
_GROWTH = 1.25
_MAX_SLOWDOWN = 10

OnPoll = Callable[[list[JobStatusReport]], None]


def wait_until_final(
    job_ids: Sequence[str],
    fetch: Callable[[str, float | None], JobStatusReport],
    *,
    timeout: float | None = None,
    polling_interval: float = 1.0,
    on_poll: OnPoll | None = None,
) -> list[JobStatusReport]:
    """The final status of every job, polling only those not final yet.

    ``fetch(job_id, seconds)`` asks for one job's status within ``seconds`` (``None``:
    no limit), what is left of ``timeout``: a server that answers slowly cannot stretch
    the wait past it. ``on_poll`` sees every job's latest report after each round. A
    status this version does not know is not final: the wait goes on, and logs it once.
    Interrupting the wait (Ctrl+C) logs the ids of the jobs still running, so their
    results can be fetched later.

    Raises:
        JobTimeoutError: some job is not final after ``timeout`` seconds.
    """
    interval = positive_seconds("polling_interval", polling_interval)
    limit = math.inf if timeout is None else positive_seconds("timeout", timeout)
    deadline = time.monotonic() + limit
    reports: dict[str, JobStatusReport] = {}
    pending = list(dict.fromkeys(job_ids))
    unknown: set[str] = set()
    try:
        while True:
            for job_id in pending:
                reports[job_id] = _fetch(fetch, job_id, deadline, pending, limit)
                status = reports[job_id].status
                if not status.known and status.value not in unknown:
                    unknown.add(status.value)
                    log.warning(
                        "Qoro job %s reports status %r, unknown to this version of "
                        "qiskit-divi; waiting on as if it were still running",
                        job_id,
                        status.value,
                    )
            if on_poll is not None:
                on_poll([reports[job_id] for job_id in job_ids])
            pending = [job_id for job_id in pending if not reports[job_id].status.is_final]
            if not pending:
                return [reports[job_id] for job_id in job_ids]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobTimeoutError(pending, limit)
            time.sleep(min(interval, remaining))
            interval = min(interval * _GROWTH, polling_interval * _MAX_SLOWDOWN)
    except KeyboardInterrupt:
        log.warning(
            "stopped waiting; Qoro jobs %s keep running and can be fetched later by id",
            ", ".join(pending),
        )
        raise


def _fetch(
    fetch: Callable[[str, float | None], JobStatusReport],
    job_id: str,
    deadline: float,
    pending: list[str],
    limit: float,
) -> JobStatusReport:
    """One status within what is left of the wait; a call cut short by the wait's
    deadline is the wait timing out."""
    remaining = deadline - time.monotonic()
    try:
        return fetch(job_id, None if math.isinf(remaining) else max(remaining, 0.0))
    except QoroConnectionError as err:
        if time.monotonic() < deadline:
            raise
        raise JobTimeoutError(pending, limit) from err


class ProgressBar:
    """A tqdm bar of finished jobs, with a tally of statuses; an ``on_poll`` callback.

    Args:
        total: the number of jobs.
        enabled: draw it; ``None`` draws it only when stderr is a terminal.
    """

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = tqdm(total=total, desc="Qoro jobs", unit="job", disable=not enabled)

    def __call__(self, reports: list[JobStatusReport]) -> None:
        tally = Counter(report.status.value for report in reports)
        self._bar.n = sum(1 for report in reports if report.status.is_final)
        self._bar.set_postfix(tally, refresh=False)
        self._bar.refresh()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()
