"""Worker processes that run one call at a time under a memory and a time budget.

The server parses circuits and runs jobs in worker processes, never in its own: qasm2's
parser and Aer both hold the GIL for as long as they work, which would freeze every
other request. Each :class:`Worker` is one process, started by the thread that calls
it and serving that thread alone, so ending a call (past its deadline, or cancelled)
kills that process and touches no other call, and a process that dies costs only the
call it was running.

A worker process dies with the server, even on ``kill -9``: on Linux the kernel kills it
when the thread that started it ends (``PR_SET_PDEATHSIG``); elsewhere a thread in it
watches for its parent to go, between calls. Inside a call, the process's address space
may grow by the memory budget and no more (``RLIMIT_AS``, where the platform has it).
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..exceptions import (
    InvalidInputError,
    JobRunError,
    WorkerCancelledError,
    WorkerLostError,
    WorkerTimeoutError,
)

logger = logging.getLogger(__name__)

#: How often a waiting call checks whether it was cancelled, in seconds.
_POLL_SECONDS = 0.1
#: Seconds a new worker process may take to import what it runs, before it counts as lost.
_START_SECONDS = 300.0
_READY = "ready"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _never() -> bool:
    return False


class Worker:
    """One worker process for the thread that calls it; started at the first call.

    Args:
        memory_mb: how much a call may grow the process's address space, in MiB.
        name: the process's name, for logs.
        preload: a module the process imports before it counts as started, so that
            importing what a call runs takes none of the call's time.
    """

    def __init__(self, memory_mb: int, name: str, preload: str) -> None:
        self._memory_mb = memory_mb
        self._name = name
        self._preload = preload
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The process's id while it runs."""
        return None if self._process is None else self._process.pid

    def call(
        self,
        function: Callable[..., Any],
        *args: Any,
        seconds: float,
        cancelled: Callable[[], bool] = _never,
    ) -> Any:
        """``function(*args)`` in the worker process; its result.

        Raises:
            JobRunError: the function raised; the message is its error's.
            WorkerTimeoutError: it ran past ``seconds``.
            WorkerCancelledError: ``cancelled()`` turned true while it ran.
            WorkerLostError: the process died.
        """
        connection = self._start()
        connection.send((function, args))
        deadline = time.monotonic() + seconds
        while not connection.poll(_POLL_SECONDS):
            if cancelled():
                self.close()
                raise WorkerCancelledError
            if time.monotonic() > deadline:
                self.close()
                raise WorkerTimeoutError
        try:
            succeeded, value = connection.recv()
        except (EOFError, OSError):
            exitcode = self._process.exitcode if self._process is not None else None
            self.close()
            raise WorkerLostError(f"the worker process died (exit code {exitcode})") from None
        if not succeeded:
            raise JobRunError(value)
        return value

    def close(self) -> None:
        """End the process now (it is started again at the next call)."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if process is not None:
            process.kill()
            process.join()
            process.close()
        if connection is not None:
            connection.close()

    def _start(self) -> Connection:
        if self._connection is not None:
            return self._connection
        # spawn, not fork (this process runs threads) nor a fork server (its processes
        # are not the server's children, so they would not die with it).
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(theirs, self._memory_mb, os.getpid(), self._preload),
            name=self._name,
            daemon=True,
        )
        process.start()
        theirs.close()
        self._process, self._connection = process, ours
        try:
            if not ours.poll(_START_SECONDS) or ours.recv() != _READY:
                raise EOFError
        except (EOFError, OSError):
            self.close()
            raise WorkerLostError("a worker process did not start") from None
        return ours


class Checker:
    """Runs short calls (checking a chunk's circuits) on ``workers`` worker processes.

    Each worker has a thread of its own that started it, so that the processes live
    as long as the checker, whichever request thread asks.
    """

    def __init__(self, *, workers: int, memory_mb: int, seconds: float, preload: str) -> None:
        self._seconds = seconds
        self._queue: queue.SimpleQueue[
            tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None
        ]
        self._queue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(
                target=self._serve,
                args=(Worker(memory_mb, f"qoro-server-checker-{index}", preload),),
                name=f"qoro-server-checker-{index}",
                daemon=True,
            )
            for index in range(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker process, as :meth:`Worker.call` gives it.

        Raises:
            InvalidInputError: it failed (its message), took too long, or its process died.
        """
        future: Future[Any] = Future()
        self._queue.put((function, args, future))
        return future.result()

    def _serve(self, worker: Worker) -> None:
        try:
            while (item := self._queue.get()) is not None:
                function, args, future = item
                try:
                    future.set_result(worker.call(function, *args, seconds=self._seconds))
                except JobRunError as err:
                    future.set_exception(InvalidInputError(str(err)))
                except WorkerTimeoutError:
                    future.set_exception(
                        InvalidInputError(
                            f"checking the circuits took longer than {self._seconds:g} s "
                            "(the server's job_seconds)"
                        )
                    )
                except Exception as err:  # WorkerLostError, or a bug: answer, keep serving
                    future.set_exception(InvalidInputError(f"checking the circuits failed: {err}"))
        finally:
            worker.close()


# -- in the worker processes -------------------------------------------------------------


def _serve(connection: Connection, memory_mb: int, parent: int, preload: str) -> None:
    """Answer calls until the server closes the pipe; each answer is (succeeded, value)."""
    _die_with(parent)
    importlib.import_module(preload)
    connection.send(_READY)
    while True:
        try:
            function, args = connection.recv()
        except EOFError:
            return
        try:
            with _address_space(memory_mb):
                answer: tuple[bool, Any] = (True, function(*args))
        except MemoryError:
            answer = (
                False,
                f"ran out of memory: the server gives a job {memory_mb} MiB (its job_memory_mb)",
            )
        except Exception as err:
            answer = (False, str(err))
        connection.send(answer)


def _die_with(parent: int) -> None:
    """End this process when ``parent`` (the thread that started it) ends."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


@contextmanager
def _address_space(memory_mb: int) -> Iterator[None]:
    """Let the address space grow by ``memory_mb`` MiB from its size now, and no more."""
    try:
        import resource

        size = os.sysconf("SC_PAGE_SIZE") * int(Path("/proc/self/statm").read_text().split()[0])
    except (ImportError, OSError, ValueError):  # no RLIMIT_AS or no /proc: no limit here
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + memory_mb * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
