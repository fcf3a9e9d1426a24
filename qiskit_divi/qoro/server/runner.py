"""Background execution of a local server's jobs on the simulation engine.

A fixed number of worker threads take finalized jobs from a queue, claim them in the
store (so a cancelled or deleted job is skipped), run them with one engine per system
and store the encoded results. A job the server stops in the middle of stays RUNNING in
the database and is run again at the next start.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from ...circuits import parse_qasm
from ...simulator.engine import SimulationEngine
from ..codec import decode_observables, encode_histogram, unpack_circuit
from ..protocol import JobType
from .config import SystemConfig
from .store import Job, Store

logger = logging.getLogger(__name__)

#: A job is started at most this many times: if the server stops while running it
#: that often, the job is marked FAILED rather than run again.
MAX_ATTEMPTS = 3


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
        self._engines: dict[str, SimulationEngine] = {}
        self._engines_lock = threading.Lock()

    def start(self) -> None:
        """Queue the jobs a previous run left unfinished, then start the workers."""
        for job_id in self._store.recover(MAX_ATTEMPTS):
            self._queue.put(job_id)
        for index in range(self._workers):
            thread = threading.Thread(
                target=self._work, name=f"qoro-server-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, job_id: str) -> None:
        """Queue a finalized job (queuing one twice runs it once)."""
        self._queue.put(job_id)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs, let running ones finish for up to ``timeout`` s, close engines.

        Queued jobs stay PENDING in the store, and jobs cut short stay RUNNING: the next
        start runs both.
        """
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        with self._engines_lock:
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._stopping.is_set():
            job = self._store.claim(job_id)
            if job is None:  # cancelled, deleted or already run
                continue
            try:
                results = self._run(job)
            except Exception as err:
                if self._stopping.is_set():
                    return  # the engine closed under it: run again at the next start
                logger.info("job %s failed: %s", job.id, err)
                self._store.fail(job.id, f"{type(err).__name__}: {err}")
            else:
                self._store.complete(job.id, results)

    def _run(self, job: Job) -> list[Any]:
        """One JSON result per circuit: histograms, or expectation values per term."""
        programs = [
            (label, unpack_circuit(payload)) for label, payload in self._store.circuits(job.id)
        ]
        circuits = [parse_qasm(label, qasm) for label, qasm in programs]
        engine = self._engine(job.system)
        if job.job_type is JobType.ESTIMATE:
            return _expectation_values(engine, circuits, job.observables or "")
        assert job.shots is not None  # the app refuses sampling chunks without shots
        samples = engine.sample(circuits, shots=job.shots, seed=self._job_seed(job, programs))
        return [
            encode_histogram(_plain_counts(sample.counts), circuit.num_clbits)
            for sample, circuit in zip(samples, circuits, strict=True)
        ]

    def _engine(self, system_name: str) -> SimulationEngine:
        with self._engines_lock:
            if system_name not in self._engines:
                backend = self._systems[system_name].backend()
                self._engines[system_name] = SimulationEngine(qiskit_backend=backend)
            return self._engines[system_name]

    def _job_seed(self, job: Job, programs: Sequence[tuple[str, str]]) -> int | None:
        """A seed from the server's seed and what the job asks, not from its id or timing.

        So a resubmitted, retried or re-run job samples exactly as the first one did.
        """
        if self._seed is None:
            return None
        digest = hashlib.sha256(f"{self._seed}\0{job.job_type.value}\0{job.shots}".encode())
        for label, qasm in programs:
            digest.update(f"\0{label}\0{qasm}".encode())
        return int.from_bytes(digest.digest()[:4], "big")


def _expectation_values(
    engine: SimulationEngine, circuits: Sequence[QuantumCircuit], observables: str
) -> list[dict[str, float]]:
    terms = decode_observables(observables)
    # The wire's leftmost character acts on qubit 0, Qiskit's labels put qubit 0 last.
    operators = [SparsePauliOp(term[::-1]) for term in terms]
    values = engine.expectation_values(circuits, [operators] * len(circuits))
    return [
        {term: float(value) for term, value in zip(terms, per_circuit, strict=True)}
        for per_circuit in values
    ]


def _plain_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Aer separates classical registers with spaces; the wire wants one bit string."""
    return {key.replace(" ", ""): count for key, count in counts.items()}
