"""Background execution of a local server's jobs, in worker processes.

Jobs run in a pool of ``workers`` processes, each with one simulation engine per system,
because Aer holds the GIL for a whole run: in the server's own process a job would
freeze the HTTP server, and jobs could not run side by side. One dispatcher thread per
worker takes finalized jobs from a queue, claims each in the store (so a cancelled or
deleted job is skipped), hands it to the pool and stores what comes back.

A job cut short is run again: after a restart (the store finds it RUNNING), or when its
worker process dies; the store fails a job that has been started too often.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import queue
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from qiskit.quantum_info import SparsePauliOp

from ..circuits import parse_qasm
from ..exceptions import JobRunError
from ..qoro.codec import decode_observables, encode_histogram, unpack_circuit
from ..qoro.protocol import JobType
from ..simulator.engine import SimulationEngine
from .config import SystemConfig
from .store import Job, Store

logger = logging.getLogger(__name__)

#: A job is started at most this many times; a job whose runs keep being cut short (its
#: process dies, or the server stops) is then marked FAILED rather than run again.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class _Task:
    """Everything a worker process needs to run one job."""

    job_type: JobType
    system: SystemConfig
    server_seed: int | None
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
    ) -> None:
        self._store = store
        self._systems = systems
        self._workers = workers
        self._seed = seed
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._pool_lock = threading.Lock()
        self._pool = self._new_pool()

    def start(self) -> None:
        """Queue the jobs a previous run left unfinished, then start dispatching."""
        for job_id in self._store.recover():
            self._queue.put(job_id)
        for index in range(self._workers):
            thread = threading.Thread(
                target=self._dispatch, name=f"qoro-server-dispatch-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

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
        for thread in self._threads:
            thread.join(grace)
        with self._pool_lock:
            _terminate(self._pool)
        for thread in self._threads:
            thread.join()

    def _new_pool(self) -> ProcessPoolExecutor:
        # Never plain fork: this process runs threads (and Aer's OpenMP) that a fork breaks.
        # A fork server that has imported this module (so Qiskit and Aer) starts workers
        # in milliseconds; spawn, where there is no fork server, imports them per worker.
        if "forkserver" not in multiprocessing.get_all_start_methods():
            return ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn")
            )
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return ProcessPoolExecutor(self._workers, mp_context=context)

    def _dispatch(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._stopping.is_set():
            job = self._store.claim(job_id, MAX_ATTEMPTS)
            if job is None:
                continue
            try:
                self._run(job)
            except Exception as err:  # a bug here must fail the job, not stop dispatching
                logger.exception("job %s: internal error", job.id)
                self._store.fail(job.id, f"internal server error: {type(err).__name__}: {err}")

    def _run(self, job: Job) -> None:
        if job.system not in self._systems:
            self._store.fail(job.id, f"this server no longer offers system {job.system!r}")
            return
        task = _Task(
            job_type=job.job_type,
            system=self._systems[job.system],
            server_seed=self._seed,
            circuits=self._store.circuit_runs(job.id),
        )
        with self._pool_lock:  # stop() ends the pool under this lock too
            if self._stopping.is_set():
                self._store.release(job.id, count_attempt=False)
                return
            pool = self._pool
            future = pool.submit(execute, task)
        try:
            results = future.result()
        except JobRunError as err:
            logger.info("job %s failed: %s", job.id, err)
            self._store.fail(job.id, str(err))
        except (BrokenProcessPool, CancelledError):
            self._store.release(job.id, count_attempt=not self._stopping.is_set())
            if not self._stopping.is_set():
                logger.warning("a worker process died running job %s; it runs again", job.id)
                self._replace(pool)
                self.submit(job.id)
        else:
            self._store.complete(job.id, results)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new pool for a broken one (once, however many dispatchers saw it break)."""
        with self._pool_lock:
            if self._pool is broken:
                self._pool = self._new_pool()


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Cancel queued work and end the worker processes, running jobs included.

    ``ProcessPoolExecutor`` offers no public way to end busy workers before Python 3.14
    (``terminate_workers``); its ``_processes`` map has held them since 3.2.
    """
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


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
    except Exception as err:
        raise JobRunError(f"{type(err).__name__}: {err}") from None


def _results(task: _Task) -> list[Any]:
    programs = [(label, unpack_circuit(packed)) for label, packed, _, _ in task.circuits]
    circuits = [parse_qasm(label, qasm) for label, qasm in programs]
    if task.system not in _engines:
        # One process per job already: the engine runs its batch here, not in a pool.
        _engines[task.system] = SimulationEngine(
            qiskit_backend=task.system.backend(), n_processes=1
        )
    engine = _engines[task.system]
    if task.job_type is JobType.ESTIMATE:
        terms = [decode_observables(observables or "") for _, _, _, observables in task.circuits]
        # The wire's leftmost character acts on qubit 0, Qiskit's labels put qubit 0 last.
        operators = [[SparsePauliOp(term[::-1]) for term in each] for each in terms]
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
