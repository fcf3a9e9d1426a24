"""A ParallelSimulatorBackend job: a batch queued on the backend's runner thread, as a JobV1."""

from __future__ import annotations

import concurrent.futures
import datetime
import time
import uuid
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit.providers import JobStatus, JobV1
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from ..exceptions import JobCancelledError, JobTimeoutError
from .engine import SampleBatch, SampleResult
from .executors import Cancellation

if TYPE_CHECKING:
    from .backend import ParallelSimulatorBackend


class JobQueue(ThreadPoolExecutor):
    """A backend's jobs, run one after another in submission order, each spread over
    every worker of the engine.

    Copies of the backend in this process share the queue, as they share the engine; an
    unpickled backend gets a queue of its own, with its new engine.
    """

    def __init__(self, name: str) -> None:
        super().__init__(max_workers=1, thread_name_prefix=name)
        self._name = name

    def __copy__(self) -> JobQueue:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> JobQueue:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (JobQueue, (self._name,))


class ParallelSimulatorJob(JobV1):
    """One ``backend.run`` call: runs in the background; ``result()`` waits for it.

    Jobs of one backend run one after another, each spread over the engine's workers.
    A job can be cancelled until it finishes (see :meth:`cancel`).
    """

    def __init__(
        self, backend: ParallelSimulatorBackend, batch: SampleBatch, runner: Executor
    ) -> None:
        super().__init__(backend, uuid.uuid4().hex)
        self._batch = batch
        self._runner = runner
        self._future: Future[Result] | None = None
        self._cancellation = Cancellation()

    def submit(self) -> None:
        """Queue the batch on the backend's runner (``backend.run`` does this)."""
        if self._future is not None:
            raise RuntimeError(f"job {self.job_id()} was already submitted")
        self._future = self._runner.submit(self._execute)

    def result(self, timeout: float | None = None) -> Result:
        """The job's :class:`~qiskit.result.Result`, waiting up to ``timeout`` seconds.

        Raises:
            JobCancelledError: the job was cancelled.
            JobTimeoutError: the job did not finish in time; it goes on running.
            SimulationError: Aer (or a worker process) failed.
        """
        future = self._submitted()
        try:
            return future.result(timeout)
        except concurrent.futures.CancelledError:
            raise JobCancelledError(self.job_id()) from None
        except concurrent.futures.TimeoutError:
            raise JobTimeoutError([self.job_id()], timeout or 0.0) from None

    def cancel(self) -> bool:
        """Cancel the job unless it has finished; ``True`` when it will give no result.

        A queued job never starts. A running one has its chunks not yet done cancelled
        (on a Dask cluster, running ones too; a chunk running in this process or a local
        worker process completes first), then ends CANCELLED.
        """
        future = self._submitted()
        if future.done():
            return False
        return future.cancel() or self._cancellation.cancel()

    def status(self) -> JobStatus:
        """QUEUED, RUNNING, DONE, ERROR or CANCELLED (INITIALIZING before submission)."""
        if self._future is None:
            return JobStatus.INITIALIZING
        if self._future.cancelled():
            return JobStatus.CANCELLED
        if self._future.done():
            error = self._future.exception()
            if isinstance(error, concurrent.futures.CancelledError):
                return JobStatus.CANCELLED
            return JobStatus.ERROR if error else JobStatus.DONE
        return JobStatus.RUNNING if self._future.running() else JobStatus.QUEUED

    def _submitted(self) -> Future[Result]:
        if self._future is None:
            raise RuntimeError(f"job {self.job_id()} has not been submitted")
        return self._future

    def _execute(self) -> Result:
        start = time.perf_counter()
        samples = self._batch.run(self._cancellation)
        backend = self.backend()
        shots = self._batch.task.shots
        return Result(
            backend_name=backend.name,
            backend_version=backend.backend_version,
            job_id=self.job_id(),
            success=True,
            status="COMPLETED",
            date=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            results=[
                _experiment(circuit, sample, shots, self._batch.device_name)
                for circuit, sample in zip(self._batch.circuits, samples, strict=True)
            ],
            time_taken=time.perf_counter() - start,
        )


def _experiment(
    circuit: QuantumCircuit, sample: SampleResult, shots: int, device: str
) -> ExperimentResult:
    """One circuit's outcomes as Qiskit stores them: hex keys, plus the header to format them."""
    outcomes = sample.outcomes
    data: dict[str, Any] = {}
    if len(outcomes.values):  # as in Aer, a circuit without measurements has no counts
        data["counts"] = outcomes.hex_counts()
        if outcomes.memory is not None:
            data["memory"] = outcomes.hex_memory()
    header = {
        "name": circuit.name,
        "creg_sizes": [[register.name, register.size] for register in circuit.cregs],
        "memory_slots": circuit.num_clbits,
        "qreg_sizes": [[register.name, register.size] for register in circuit.qregs],
        "n_qubits": circuit.num_qubits,
        "global_phase": float(circuit.global_phase),
        "metadata": circuit.metadata,
    }
    return ExperimentResult(
        shots=shots,
        success=True,
        data=ExperimentResultData(**data),
        status="DONE",
        header=header,
        seed_simulator=sample.seed_simulator,
        metadata={"device": device, "seed_simulator": sample.seed_simulator},
    )
