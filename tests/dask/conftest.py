"""A Dask cluster of two worker processes on loopback, and ways to disturb its workers.

The scheduler gives a chunk whose worker died to another worker only once here
(``allowed-failures`` 1, Dask's default is 3), so a chunk that keeps killing its
workers fails the batch after two deaths. Code that runs on the workers is defined in
this module, which is pickled by value: workers need not import the tests. (The
directory has no ``__init__.py``: as a package it would be called ``dask``.)
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import dask
import numpy as np
import pytest
from distributed import Client, Event, LocalCluster, Queue, WorkerPlugin
from qiskit import QuantumCircuit

#: How often the scheduler reruns a chunk whose worker died, in these tests.
ALLOWED_FAILURES = 1
#: The engine submits every chunk as a call of this function; its task keys start so.
CHUNK_TASK = "run_packed"

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: 8787 may be taken
        )
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster) as client:
        yield client


@pytest.fixture
def full_cluster(client: Client) -> Iterator[Client]:
    """The client, with both workers up before and after the test (nannies restart a
    killed worker)."""
    client.wait_for_workers(2, timeout=60)
    yield client
    client.wait_for_workers(2, timeout=60)


class KillChunkWorkers(WorkerPlugin):
    """Kills the worker process that starts a chunk, ``times`` times in all, counted
    across workers by marker files in ``directory``."""

    def __init__(self, directory: str, times: int) -> None:
        self.directory = directory
        self.times = times

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or not str(key).startswith(CHUNK_TASK):
            return
        for kill in range(self.times):
            try:
                path = os.path.join(self.directory, f"kill-{kill}")
                marker = os.open(path, os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                continue
            os.close(marker)
            os._exit(1)


@pytest.fixture
def kill_chunk_workers(
    full_cluster: Client, tmp_path: Path
) -> Iterator[Callable[[int], Callable[[], int]]]:
    """``kill(times)`` makes workers die as they start chunks, ``times`` times; it
    returns a function counting the deaths so far."""
    name = f"kill-chunk-workers-{uuid.uuid4().hex}"

    def kill(times: int) -> Callable[[], int]:
        full_cluster.register_plugin(KillChunkWorkers(str(tmp_path), times), name=name)
        return lambda: len(list(tmp_path.glob("kill-*")))

    yield kill
    full_cluster.unregister_worker_plugin(name)


def _hold(gate: str, started: str) -> None:
    Queue(started).put(True)
    Event(gate).wait()


@pytest.fixture
def busy_workers(full_cluster: Client) -> Iterator[Event]:
    """Every worker thread held by a waiting task until the test sets the event."""
    gate, started = Event(f"gate-{uuid.uuid4().hex}"), Queue(f"started-{uuid.uuid4().hex}")
    holders = [
        full_cluster.submit(_hold, gate.name, started.name, workers=[worker], pure=False)
        for worker, threads in full_cluster.nthreads().items()
        for _ in range(threads)
    ]
    for _ in holders:
        started.get(timeout=60)
    try:
        yield gate
    finally:
        gate.set()
        full_cluster.gather(holders)


def _chunk_tasks(dask_scheduler: Any) -> set[str]:
    return {str(key) for key in dask_scheduler.tasks if str(key).startswith(CHUNK_TASK)}


@pytest.fixture
def chunk_tasks(client: Client) -> Callable[[], set[str]]:
    """The keys of the chunks the scheduler holds now (waiting, running or done)."""
    return lambda: client.run_on_scheduler(_chunk_tasks)


@pytest.fixture(scope="session")
def batch() -> list[QuantumCircuit]:
    """Circuits of different widths (a swap would show in the keys), enough work that a
    two-thread cluster gets two chunks."""
    rng = np.random.default_rng(21)
    return [_layered(6 + i % 4, rng) for i in range(40)]


def _layered(num_qubits: int, rng: np.random.Generator) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits, name=f"layered{num_qubits}")
    circuit.h(range(num_qubits))
    for _ in range(3):
        for qubit in range(num_qubits - 1):
            circuit.rzz(rng.uniform(0, np.pi), qubit, qubit + 1)
        circuit.rx(rng.uniform(0, np.pi), range(num_qubits))
    circuit.measure_all()
    return circuit
