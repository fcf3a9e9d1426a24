"""Batches on a Dask cluster and on plain executors: the outcomes of a local run, in input
order, through dead workers, cancellation and broken pools."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import pytest
from distributed import KilledWorker, get_task_stream
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qiskit_divi.backends import ParallelSimulator
from qiskit_divi.exceptions import JobCancelledError, SimulationError
from qiskit_divi.simulator import ParallelSimulatorBackend, SampleResult, SimulationEngine

from simulator.circuits import ghz

SHOTS = 200
SEED = 17
#: Generous bound for a condition that another process makes true.
PATIENCE = 60.0


@pytest.fixture(scope="module")
def local_results(batch: list[QuantumCircuit]) -> list[SampleResult]:
    return SimulationEngine(n_processes=1).sample(batch, shots=SHOTS, seed=SEED, memory=True)


def _eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# -- a Dask cluster ----------------------------------------------------------------------


def test_a_batch_is_split_over_both_workers_and_matches_a_local_run(
    full_cluster, batch, local_results
):
    engine = SimulationEngine(executor=full_cluster)
    with get_task_stream(full_cluster) as stream:
        results = engine.sample(batch, shots=SHOTS, seed=SEED, memory=True)
    chunks = [task for task in stream.data if task["key"].startswith("run_packed")]
    assert engine.n_processes == 2
    assert len({task["worker"] for task in chunks}) == len(chunks) == 2
    assert results == local_results


@pytest.mark.parametrize("n_processes", [1, 3, 5])
def test_a_seed_gives_the_same_outcomes_in_any_number_of_chunks(
    full_cluster, batch, local_results, n_processes
):
    engine = SimulationEngine(executor=full_cluster, n_processes=n_processes)
    assert len(engine._plan(batch, engine._fixed)) == n_processes
    assert engine.sample(batch, shots=SHOTS, seed=SEED, memory=True) == local_results


def test_parallel_simulator_results_keep_the_input_order(full_cluster, batch):
    circuits = {f"c{len(batch) - i}": circuit for i, circuit in enumerate(batch)}
    on_cluster = ParallelSimulator(shots=SHOTS, seed=SEED, executor=full_cluster)
    local = ParallelSimulator(shots=SHOTS, seed=SEED, n_processes=1)
    results = on_cluster.submit_circuits(circuits)
    assert [result["label"] for result in results] == list(circuits)
    widths = [len(next(iter(result["results"]))) for result in results]
    assert widths == [circuit.num_qubits for circuit in circuits.values()]
    assert results == local.submit_circuits(circuits)


def test_backend_jobs_give_the_counts_of_a_local_backend(full_cluster, batch):
    options = {"shots": SHOTS, "seed_simulator": SEED}
    on_cluster = ParallelSimulatorBackend(executor=full_cluster, **options)
    local = ParallelSimulatorBackend(n_processes=1, **options)
    counts = on_cluster.run(batch).result(timeout=PATIENCE).get_counts()
    assert counts == local.run(batch).result(timeout=PATIENCE).get_counts()


def test_a_noisy_device_gives_the_same_outcomes_on_the_cluster(full_cluster):
    circuits = [ghz(2 + i % 4) for i in range(16)]
    device = FakeManilaV2()
    on_cluster = SimulationEngine(qiskit_backend=device, executor=full_cluster)
    assert len(on_cluster._plan(circuits, on_cluster._fixed)) == 2
    local = SimulationEngine(qiskit_backend=device, n_processes=1)
    assert on_cluster.sample(circuits, shots=SHOTS, seed=SEED) == local.sample(
        circuits, shots=SHOTS, seed=SEED
    )


def test_parameter_sets_give_the_same_outcomes_on_the_cluster(full_cluster):
    theta = Parameter("theta")
    circuit = QuantumCircuit(10)
    circuit.h(range(10))
    circuit.rz(theta, range(10))
    circuit.h(range(10))
    circuit.measure_all()
    values = [np.linspace(0, np.pi, 24).reshape(-1, 1)]
    on_cluster = SimulationEngine(executor=full_cluster)
    local = SimulationEngine(n_processes=1)
    run = {"shots": SHOTS, "seed": SEED, "parameter_values": values}
    assert on_cluster.sample([circuit], **run) == local.sample([circuit], **run)


def test_exact_expectation_values_match_a_local_run(full_cluster, batch):
    observables = [
        [SparsePauliOp("Z" * c.num_qubits), SparsePauliOp("X" + "I" * (c.num_qubits - 1))]
        for c in batch
    ]
    on_cluster = SimulationEngine(executor=full_cluster)
    local = SimulationEngine(n_processes=1)
    values = on_cluster.expectation_values(batch, observables)
    np.testing.assert_allclose(values, local.expectation_values(batch, observables), atol=1e-12)


def test_a_chunk_whose_worker_dies_runs_again_elsewhere(
    kill_chunk_workers, full_cluster, batch, local_results
):
    deaths = kill_chunk_workers(1)
    results = SimulationEngine(executor=full_cluster).sample(
        batch, shots=SHOTS, seed=SEED, memory=True
    )
    assert deaths() == 1
    assert results == local_results


@pytest.mark.slow
def test_a_chunk_that_keeps_killing_its_workers_fails_the_batch_clearly(
    kill_chunk_workers, full_cluster, batch
):
    allowed = full_cluster.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
    deaths = kill_chunk_workers(allowed + 5)
    engine = SimulationEngine(executor=full_cluster, n_processes=1)
    with pytest.raises(SimulationError, match="a Dask worker died") as error:
        engine.sample(batch, shots=SHOTS, seed=SEED)
    assert isinstance(error.value.__cause__, KilledWorker)
    assert deaths() == allowed + 1


def test_cancelling_a_job_cancels_its_chunks_on_the_cluster(
    busy_workers, full_cluster, chunk_tasks, batch
):
    earlier = chunk_tasks()
    job = ParallelSimulatorBackend(executor=full_cluster, n_processes=4).run(batch)
    _eventually(lambda: len(chunk_tasks() - earlier) == 4)
    ours = chunk_tasks() - earlier
    assert job.status() is JobStatus.RUNNING
    assert job.cancel()
    with pytest.raises(JobCancelledError):
        job.result(timeout=PATIENCE)
    assert job.status() is JobStatus.CANCELLED
    _eventually(lambda: not ours & chunk_tasks())
    assert not job.cancel()


def test_an_engine_refuses_what_is_no_executor():
    with pytest.raises(TypeError, match=r"distributed\.Client, got object"):
        SimulationEngine(executor=object())
    with pytest.raises(TypeError, match="got str"):
        ParallelSimulator(executor="tcp://127.0.0.1:8786")


# -- plain executors ---------------------------------------------------------------------


class RecordingThreadPool(ThreadPoolExecutor):
    """A thread pool that keeps every future it hands out."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers)
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future


def test_a_thread_pool_runs_every_batch_with_the_outcomes_of_a_local_run(batch, local_results):
    with RecordingThreadPool(2) as pool:
        engine = SimulationEngine(executor=pool, n_processes=2)
        assert engine.sample(batch, shots=SHOTS, seed=SEED, memory=True) == local_results
        assert len(pool.futures) == 2
        [bell] = engine.sample([ghz(2)], shots=SHOTS, seed=SEED)  # one chunk: still there
        assert len(pool.futures) == 3
    assert set(bell.outcomes.get_counts()) == {"00", "11"}


@pytest.fixture
def held_pool() -> Any:
    """A one-thread pool kept busy until the test sets ``pool.gate``."""
    pool = RecordingThreadPool(1)
    pool.gate = threading.Event()  # type: ignore[attr-defined]
    pool.submit(pool.gate.wait)  # type: ignore[attr-defined]
    yield pool
    pool.gate.set()  # type: ignore[attr-defined]
    pool.shutdown()


def test_cancelling_a_job_cancels_its_chunks_in_a_thread_pool(held_pool, batch):
    job = ParallelSimulatorBackend(executor=held_pool, n_processes=2).run(batch)
    _eventually(lambda: len(held_pool.futures) == 3)
    assert job.cancel()
    held_pool.gate.set()
    with pytest.raises(JobCancelledError):
        job.result(timeout=PATIENCE)
    assert job.status() is JobStatus.CANCELLED
    assert all(chunk.cancelled() for chunk in held_pool.futures[1:])


def test_chunks_cancelled_by_someone_else_fail_the_job_clearly(held_pool, batch):
    job = ParallelSimulatorBackend(executor=held_pool, n_processes=2).run(batch)
    _eventually(lambda: len(held_pool.futures) == 3)
    held_pool.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(SimulationError, match="cancelled from outside"):
        job.result(timeout=PATIENCE)
    assert job.status() is JobStatus.ERROR


def test_a_broken_process_pool_fails_the_batch_clearly(batch):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(BrokenProcessPool):
            pool.submit(os._exit, 1).result(timeout=PATIENCE)
        engine = SimulationEngine(executor=pool, n_processes=2)
        with pytest.raises(SimulationError, match="worker process died"):
            engine.sample(batch, shots=SHOTS, seed=SEED)
