"""Many jobs at once: the service has no bulk endpoint, so each job is one request, and
a few of them are in flight at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..exceptions import QoroError

#: Requests in flight at once when many jobs are asked about.
MAX_CONCURRENT_REQUESTS = 8

T = TypeVar("T")


def for_each(function: Callable[[str], T], job_ids: Sequence[str]) -> list[T | QoroError]:
    """``function(job_id)`` for every id, at most :data:`MAX_CONCURRENT_REQUESTS` at once,
    in order; a job's ``QoroError`` takes the place of its result."""

    def guarded(job_id: str) -> T | QoroError:
        try:
            return function(job_id)
        except QoroError as err:
            return err

    if len(job_ids) <= 1:
        return [guarded(job_id) for job_id in job_ids]
    with ThreadPoolExecutor(min(MAX_CONCURRENT_REQUESTS, len(job_ids))) as pool:
        return list(pool.map(guarded, job_ids))
