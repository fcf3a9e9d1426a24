"""Background execution of a local server's jobs, in worker processes.

Each of ``workers`` dispatcher threads owns one :class:`~.workers.Worker` process (Aer
holds the GIL for a whole run: in the server's own process a job would freeze the HTTP
server, and jobs could not run side by side). A dispatcher takes finalized jobs from a
queue, claims each in the store (so a cancelled or deleted job is skipped), runs it in
its process within the job's memory and time budget, and stores what comes back. Ending
a run (cancelled, deleted, past its time, or the server stopping) kills that process
only; a process that dies costs only the job it was running.

A job cut short is run again: after a restart (the store finds it RUNNING), or when its
worker process dies; the store fails a job that has been started too often. A storage
error (a full disk) never ends a dispatcher: it waits and tries the same write again.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from qiskit.quantum_info import SparsePauliOp

from ..exceptions import (
    JobRunError,
    ServerStoppingError,
    WorkerCancelledError,
    WorkerLostError,
    WorkerTimeoutError,
)
from ..qoro.codec import decode_observables, encode_histogram
from ..qoro.protocol import JobType, QoroJobStatus
from ..qoro.rules import wire_term
from ..simulator.engine import SimulationEngine
from .config import SystemConfig
from .limits import Limits, load_program, system_width
from .store import Job, Store
from .workers import Worker

logger = logging.getLogger(__name__)

#: A job is started at most this many times; a job whose runs keep being cut short (its
#: process dies, or the server stops) is then marked FAILED rather than run again.
MAX_ATTEMPTS = 3
#: Seconds between tries of a write the storage refused (a full disk, say).
STORAGE_RETRY_SECONDS = 1.0

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Task:
    """Everything a worker process needs to run one job."""

    job_type: JobType
    system: SystemConfig
    server_seed: int | None
    limits: Limits
    #: (label, packed OpenQASM, shots, dense observables "ZZ;XX"), in order
    circuits: list[tuple[str, str, int | None, str | None]]


class Runner:
    """Runs finalized jobs, ``workers`` at a time, from :meth:`start` to :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        systems: Mapping[str, SystemConfig],
        *,
        workers: int = 2,
        seed: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._store = store
        self._systems = systems
        self._seed = seed
        self._limits = Limits() if limits is None else limits
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stopping = threading.Event()  # take no more jobs
        self._aborting = threading.Event()  # end the running ones too
        self._workers = [
            Worker(self._limits.job_memory_mb, f"qoro-server-worker-{index}", __name__)
            for index in range(workers)
        ]
        self._threads = [
            threading.Thread(
                target=self._dispatch,
                args=(worker,),
                name=f"qoro-server-dispatch-{i}",
                daemon=True,
            )
            for i, worker in enumerate(self._workers)
        ]

    @property
    def worker_pids(self) -> list[int]:
        """Ids of the worker processes now running (each is started by its first job)."""
        return [pid for worker in self._workers if (pid := worker.pid) is not None]

    def start(self) -> None:
        """Queue the jobs a previous run left unfinished, then start dispatching."""
        for job_id in self._store.recover():
            self._queue.put(job_id)
        for thread in self._threads:
            thread.start()

    def submit(self, job_id: str) -> None:
        """Queue a finalized job (queuing one twice runs it once)."""
        self._queue.put(job_id)

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking jobs; give running ones ``grace`` seconds, then end the workers.

        Queued jobs stay PENDING and jobs cut short go back to PENDING: the next start
        runs both.
        """
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._aborting.set()
        for thread in self._threads:
            thread.join()

    def _dispatch(self, worker: Worker) -> None:
        try:
            while (job_id := self._queue.get()) is not None and not self._stopping.is_set():
                try:
                    self._take(worker, job_id)
                except ServerStoppingError:
                    return
                except Exception:  # a bug here must not stop dispatching
                    logger.exception("job %s: internal error", job_id)
        finally:
            worker.close()

    def _take(self, worker: Worker, job_id: str) -> None:
        job = self._persist(self._store.claim, job_id, MAX_ATTEMPTS)
        if job is None:
            return
        try:
            self._run(worker, job)
        except ServerStoppingError:
            raise
        except Exception as err:  # a bug here must fail the job, not stop dispatching
            logger.exception("job %s: internal error", job.id)
            self._persist(
                self._store.fail, job.id, f"internal server error: {type(err).__name__}: {err}"
            )

    def _run(self, worker: Worker, job: Job) -> None:
        if job.system not in self._systems:
            self._persist(
                self._store.fail, job.id, f"this server no longer offers system {job.system!r}"
            )
            return
        task = _Task(
            job_type=job.job_type,
            system=self._systems[job.system],
            server_seed=self._seed,
            limits=self._limits,
            circuits=self._persist(self._store.circuit_runs, job.id),
        )
        seconds = self._limits.job_seconds
        try:
            results = worker.call(execute, task, seconds=seconds, cancelled=self._ended(job.id))
        except JobRunError as err:
            logger.info("job %s failed: %s", job.id, err)
            self._persist(self._store.fail, job.id, str(err))
        except WorkerTimeoutError:
            self._persist(
                self._store.fail,
                job.id,
                f"it ran longer than {seconds:g} s, the server's limit (job_seconds)",
            )
        except WorkerCancelledError:  # cancelled or deleted, or the server stops
            if self._aborting.is_set():
                self._persist(self._store.release, job.id, count_attempt=False)
        except WorkerLostError as err:
            counted = not self._aborting.is_set()
            self._persist(self._store.release, job.id, count_attempt=counted)
            if counted:
                logger.warning("job %s: %s; it runs again", job.id, err)
                self.submit(job.id)
        else:
            self._persist(self._store.complete, job.id, results)

    def _ended(self, job_id: str) -> Callable[[], bool]:
        """Whether a running job's run should end: it no longer is RUNNING, or we abort."""

        def ended() -> bool:
            if self._aborting.is_set():
                return True
            try:
                return self._store.status(job_id) is not QoroJobStatus.RUNNING
            except sqlite3.Error:  # storage trouble is no reason to end a run
                return False

        return ended

    def _persist(self, write: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``write(*args, **kwargs)``, tried again while the storage refuses it.

        Raises:
            ServerStoppingError: the runner aborts before the storage took the write.
        """
        while True:
            try:
                return write(*args, **kwargs)
            except sqlite3.Error as err:
                logger.error("storage error (%s); trying %s again", err, write.__name__)
            if self._aborting.wait(STORAGE_RETRY_SECONDS):
                raise ServerStoppingError


# -- in the worker processes -------------------------------------------------------------

_engines: dict[SystemConfig, SimulationEngine] = {}


def execute(task: _Task) -> list[Any]:
    """One JSON result per circuit: histograms, or expectation values by term.

    Raises:
        JobRunError: the job cannot run; the message says why, naming the circuit when
            one is at fault.
    """
    try:
        return _results(task)
    except MemoryError:  # the worker names the budget
        raise
    except Exception as err:
        raise JobRunError(f"{type(err).__name__}: {err}") from None


def _results(task: _Task) -> list[Any]:
    width, name = system_width(task.system, task.limits)
    loaded = [
        (label, load_program(label, packed, task.limits, width, name))
        for label, packed, _, _ in task.circuits
    ]
    programs = [(label, qasm) for label, (qasm, _) in loaded]
    circuits = [circuit for _, (_, circuit) in loaded]
    if task.system not in _engines:
        # One process per job already: the engine runs its batch here, not in a pool.
        _engines[task.system] = SimulationEngine(
            qiskit_backend=task.system.backend(), n_processes=1
        )
    engine = _engines[task.system]
    if task.job_type is JobType.ESTIMATE:
        terms = [decode_observables(observables or "") for _, _, _, observables in task.circuits]
        operators = [[SparsePauliOp(wire_term(term)) for term in each] for each in terms]
        values = engine.expectation_values(circuits, operators)
        return [
            {term: float(value) for term, value in zip(each, row, strict=True)}
            for each, row in zip(terms, values, strict=True)
        ]
    # Circuits are sampled in groups of equal shots; each group has a seed of its own.
    by_shots: dict[int, list[int]] = {}
    for index, (_, _, shots, _) in enumerate(task.circuits):
        assert shots is not None  # the app refuses sampling circuits without shots
        by_shots.setdefault(shots, []).append(index)
    seed = _job_seed(task, programs)
    results: list[Any] = [None] * len(circuits)
    for offset, (shots, indices) in enumerate(by_shots.items()):
        group_seed = None if seed is None else (seed + offset) % 2**32
        samples = engine.sample([circuits[i] for i in indices], shots=shots, seed=group_seed)
        for index, sample in zip(indices, samples, strict=True):
            results[index] = encode_histogram(sample.outcomes)
    return results


def _job_seed(task: _Task, programs: Sequence[tuple[str, str]]) -> int | None:
    """A seed from the server's seed and what the job asks, not from its id or timing.

    So a resubmitted, retried or re-run job samples exactly as the first one did.
    """
    if task.server_seed is None:
        return None
    shots = sorted({shots for _, _, shots, _ in task.circuits}, key=str)
    every = shots[0] if len(shots) == 1 else shots
    digest = hashlib.sha256(f"{task.server_seed}\0{task.job_type.value}\0{every}".encode())
    for label, qasm in programs:
        digest.update(f"\0{label}\0{qasm}".encode())
    return int.from_bytes(digest.digest()[:4], "big")
