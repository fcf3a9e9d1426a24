"""The job a primitive returns: a handle of the backend's execution interface, whose typed
results become one primitive result.

On a QoroBackend its ``job_id()`` names the Qoro jobs (comma-separated when there are
several), which go on running on the service whatever happens here; the primitive's
``retrieve_job`` rebuilds this job from those ids and the PUBs it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from qiskit.primitives import BasePrimitiveJob, PrimitiveResult
from qiskit.providers import JobStatus
from qiskit.providers.jobstatus import JOB_FINAL_STATES

from ..execution import Handle

R = TypeVar("R")


class DiviPrimitiveJob(BasePrimitiveJob[PrimitiveResult, JobStatus], Generic[R]):
    """Work submitted by one ``run()`` of a primitive, seen as one primitive job.

    Args:
        handle: the submitted work.
        finish: builds the primitive result from the work's typed results.
    """

    def __init__(self, handle: Handle[R], finish: Callable[[R], PrimitiveResult]) -> None:
        super().__init__(handle.job_id())
        self._handle = handle
        self._finish = finish
        self._result: PrimitiveResult | None = None

    def __repr__(self) -> str:
        return f"<DiviPrimitiveJob({self.job_id()!r})>"

    @property
    def job_ids(self) -> list[str]:
        """The ids ``job_id()`` joins: on Qoro, each Qoro job's, as
        ``DiviProvider().retrieve_job`` takes them one by one."""
        return self.job_id().split(",")

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        """Wait for the work (up to ``timeout`` seconds), then build the primitive result.

        Raises:
            JobTimeoutError: not finished in time; the work goes on and this can be retried.
            JobFailedError, JobCancelledError, SimulationError: the work failed or was
                cancelled.
            CorruptResultError: Qoro results do not match the circuits that were sent.
        """
        if self._result is None:
            self._result = self._finish(self._handle.result(timeout))
        return self._result

    def status(self) -> JobStatus:
        """The work's status (on Qoro, the most telling among its jobs)."""
        if self._result is not None:
            return JobStatus.DONE
        return self._handle.status()

    def cancel(self) -> Any:
        """Cancel the work unless it has finished."""
        return self._handle.cancel()

    def done(self) -> bool:
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in JOB_FINAL_STATES
