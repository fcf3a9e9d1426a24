"""Where the chunks of a batch run: any ``concurrent.futures.Executor``, or a Dask cluster
through its ``distributed.Client``, and how a running batch is cancelled.

``distributed`` (the ``dask`` extra) is never imported here: a Client is recognised only
once its user has imported it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidTypeError

if TYPE_CHECKING:
    from distributed import Client


class ChunkExecutor:
    """An executor on this machine that runs ``slots`` chunks at once, sharing its cores.

    Args:
        executor: where chunks are submitted; it is never shut down from here.
        slots: how many chunks run side by side, so a batch is cut into at most this many.
    """

    #: Chunks share this machine's cores: each one's Aer gets its share of them.
    local = True
    #: Errors that mean a worker died, leaving its chunk undone.
    worker_lost: tuple[type[BaseException], ...] = (BrokenProcessPool,)
    worker_lost_message = (
        "a simulator worker process died (out of memory?). In a script, start the work "
        "under `if __name__ == '__main__':` so workers can import it safely"
    )

    def __init__(self, executor: Executor, slots: int) -> None:
        self.executor = executor
        self._slots = slots

    def slots(self) -> int:
        """How many chunks run side by side."""
        return self._slots


class DaskExecutor(ChunkExecutor):
    """A Dask cluster: one chunk per worker thread by default, counted again for each
    batch, since clusters grow and shrink.

    Chunks run wherever the scheduler puts them, with the Aer threads their worker allows
    (Dask workers set ``OMP_NUM_THREADS=1``: one core per worker thread). A chunk whose
    worker dies is run again elsewhere by the scheduler, as often as its
    ``distributed.scheduler.allowed-failures`` says; beyond that the batch fails. Tasks
    are impure (``pure=False``): two identical batches never share, and so never cancel,
    each other's chunks.
    """

    local = False
    worker_lost_message = (
        "a Dask worker died running a chunk of this batch, each time the scheduler gave it "
        "to one (distributed.scheduler.allowed-failures); see the workers' logs (out of "
        "memory?)"
    )

    def __init__(self, client: Client, slots: int | None = None) -> None:
        from distributed import KilledWorker

        if client.asynchronous:
            raise InvalidTypeError(
                "an asynchronous distributed.Client cannot run batches; use a Client"
            )
        super().__init__(client.get_executor(pure=False), slots or 0)
        self.worker_lost = (KilledWorker,)
        self._client = client
        self._fixed_slots = slots

    def slots(self) -> int:
        """``n_processes`` if it was given, else the worker threads the cluster has now
        (at least one: with no worker yet, the batch waits for one)."""
        if self._fixed_slots is not None:
            return self._fixed_slots
        return max(1, sum(self._client.nthreads().values()))


def chunk_executor(executor: Executor | Client, n_processes: int | None) -> ChunkExecutor:
    """``executor`` as a :class:`ChunkExecutor`; ``n_processes`` (default: this machine's
    cores, or a Dask cluster's worker threads) says how many chunks it runs at once.

    Raises:
        TypeError: ``executor`` is neither an ``Executor`` nor a ``distributed.Client``.
    """
    if isinstance(executor, Executor):
        return ChunkExecutor(executor, n_processes or usable_cores())
    distributed = sys.modules.get("distributed")
    if distributed is not None and isinstance(executor, distributed.Client):
        return DaskExecutor(executor, n_processes)
    raise InvalidTypeError(
        "executor must be a concurrent.futures.Executor or a distributed.Client, "
        f"got {type(executor).__name__}"
    )


class Cancellation:
    """Lets another thread stop a batch: its chunks not yet done are cancelled, and the
    batch raises ``CancelledError`` instead of returning.

    Chunks already running in a local process finish (a process pool cannot stop
    them); a Dask cluster forgets running ones too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._returned = False
        self._futures: list[Future[Any]] = []

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` stopped the batch."""
        return self._cancelled

    def cancel(self) -> bool:
        """Stop the batch unless it has returned; ``True`` when it will not return."""
        with self._lock:
            if self._returned:
                return False
            self._cancelled = True
            futures = self._futures
        for future in futures:
            future.cancel()
        return True

    def watch(self, futures: Sequence[Future[Any]]) -> None:
        """Cancel ``futures`` with the batch; raise ``CancelledError`` if it already is."""
        with self._lock:
            self._futures = list(futures)
            cancelled = self._cancelled
        if cancelled:
            for future in futures:
                future.cancel()
            raise CancelledError

    def returning(self) -> None:
        """The batch is done: raise ``CancelledError`` if it was cancelled meanwhile,
        else make cancelling too late."""
        with self._lock:
            if self._cancelled:
                raise CancelledError
            self._returned = True


def process_context(preload: str) -> multiprocessing.context.BaseContext:
    """How worker processes start: forked from a fork server that has imported ``preload``
    (and so Qiskit and Aer) already, else spawned.

    Plain fork is unsafe once Aer's OpenMP threads (or any threads) exist here; spawning
    each worker afresh imports Qiskit and Aer again, per worker.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    return context


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
