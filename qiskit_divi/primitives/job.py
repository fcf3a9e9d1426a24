"""The job a primitive returns on a QoroBackend: one or more Qoro jobs, one primitive result.

Its ``job_id()`` names the Qoro jobs (comma-separated when there are several), which
go on running on the service whatever happens here; the primitive's ``retrieve_job``
rebuilds this job from those ids and the PUBs it ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qiskit.primitives import BasePrimitiveJob, PrimitiveResult
from qiskit.providers import JobStatus
from qiskit.providers.jobstatus import JOB_FINAL_STATES

from ..exceptions import CorruptResultError, InvalidInputError
from ..qoro.backend import QoroBackend
from ..qoro.codec import CircuitResult
from ..qoro.job import QoroJob
from ..qoro.polling import wait_until_final

#: Builds the primitive's result from the job ids and each job's results in label order.
Finish = Callable[[list[str], list[list[CircuitResult]]], PrimitiveResult]

#: The most telling status of several jobs comes first.
_PRECEDENCE = (JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.RUNNING, JobStatus.QUEUED)


class QoroPrimitiveJob(BasePrimitiveJob[PrimitiveResult, JobStatus]):
    """Qoro jobs submitted by one ``run()`` of a primitive, seen as one primitive job.

    Args:
        backend: the backend the jobs went to.
        job_ids: the Qoro job ids, one per group of circuits.
        labels: for each job, its circuits' labels in the order ``finish`` expects them.
        finish: builds the primitive result from each job's results, in label order.
    """

    def __init__(
        self,
        backend: QoroBackend,
        job_ids: Sequence[str],
        labels: Sequence[Sequence[str]],
        finish: Finish,
    ) -> None:
        if len(job_ids) != len(labels):
            raise InvalidInputError(
                f"{len(job_ids)} Qoro job ids for {len(labels)} jobs: these PUBs ran as "
                f"{len(labels)} Qoro job(s)"
            )
        super().__init__(",".join(job_ids))
        self._backend = backend
        self._jobs = [QoroJob(backend, job_id, client=backend.client) for job_id in job_ids]
        self._labels = [list(group) for group in labels]
        self._finish = finish
        self._result: PrimitiveResult | None = None

    @classmethod
    def retrieve(
        cls,
        backend: QoroBackend,
        job_id: str | Sequence[str],
        labels: Sequence[Sequence[str]],
        finish: Finish,
    ) -> QoroPrimitiveJob:
        """The job with this ``job_id()`` (or these Qoro ids), after checking each exists.

        Raises:
            InvalidInputError: not as many ids as there are jobs.
            JobNotFoundError: the service knows no such job.
        """
        job_ids = job_id.split(",") if isinstance(job_id, str) else list(job_id)
        job = cls(backend, job_ids, labels, finish)
        for each in job.job_ids:
            backend.client.job_status(each)
        return job

    def __repr__(self) -> str:
        return f"<QoroPrimitiveJob({self.job_id()!r}) on {self._backend.name}>"

    @property
    def job_ids(self) -> list[str]:
        """The Qoro job ids, as ``DiviProvider().retrieve_job`` takes them one by one."""
        return [job.job_id() for job in self._jobs]

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        """Wait for every Qoro job, then build the primitive result.

        Args:
            timeout: seconds to wait; by default the backend's ``timeout`` option.

        Raises:
            JobTimeoutError: not finished in time; the jobs go on and this can be retried.
            JobFailedError, JobCancelledError: a Qoro job failed or was cancelled.
            CorruptResultError: results do not match the circuits that were sent.
        """
        if self._result is None:
            options = self._backend.options
            client = self._backend.client
            wait_until_final(
                self.job_ids,
                client.job_status,
                timeout=options.timeout if timeout is None else timeout,
                polling_interval=options.polling_interval,
            )
            results = [
                _in_label_order(job_id, labels, client.job_results(job_id))
                for job_id, labels in zip(self.job_ids, self._labels, strict=True)
            ]
            self._result = self._finish(self.job_ids, results)
        return self._result

    def status(self) -> JobStatus:
        """DONE when every Qoro job is; else the most telling status among them."""
        if self._result is not None:
            return JobStatus.DONE
        statuses = {job.status() for job in self._jobs}
        return next((status for status in _PRECEDENCE if status in statuses), JobStatus.DONE)

    def cancel(self) -> None:
        """Cancel every Qoro job not finished yet.

        Raises:
            JobNotCancellableError: a job finished between the status check and the cancel.
        """
        for job in self._jobs:
            if job.status() not in JOB_FINAL_STATES:
                job.cancel()

    def done(self) -> bool:
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in JOB_FINAL_STATES


def _in_label_order(
    job_id: str, labels: list[str], results: dict[str, CircuitResult]
) -> list[CircuitResult]:
    """Results are matched to circuits by label: a missing or stray one is corruption."""
    missing = [label for label in labels if label not in results]
    stray = sorted(set(results) - set(labels))
    if missing or stray:
        raise CorruptResultError(
            f"job {job_id}: results do not match the circuits of these PUBs "
            f"(missing {missing[:5] or 'none'}, unexpected {stray[:5] or 'none'})"
        )
    return [results[label] for label in labels]
