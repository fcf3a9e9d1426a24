"""The engine as an :class:`~qiskit_divi.execution.Execution`: work in, a handle, typed results.

Work is checked and planned into engine batches when it is submitted (one sampling batch
per shot count; exact values in one batch; sampled estimates as one basis-changed circuit
per qubit-wise-commuting group of Pauli terms), then runs on the backend's job queue:
jobs of one backend run one after another, each spread over the engine's workers.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.quantum_info import PauliList

from ..copies import Shared
from ..exceptions import InvalidInputError, JobCancelledError, JobTimeoutError
from ..execution import Estimate, EstimateWork, Sampled, SampleWork, Terms
from ..outcomes import Outcomes
from .dynamic import without_final_measurements
from .engine import ExpectationBatch, SampleBatch, SimulationEngine
from .executors import Cancellation
from .runs import AER_SEED_STRIDE, SampleResult

R = TypeVar("R")
K = TypeVar("K", bound=Hashable)

#: The classical register a sampled estimate measures into.
BASIS_REGISTER = "basis"


class JobQueue(Shared, ThreadPoolExecutor):
    """A backend's jobs, run one after another in submission order, each spread over
    every worker of the engine.

    Copies of the backend in this process share the queue, as they share the engine; an
    unpickled backend gets a queue of its own, with its new engine.
    """

    def __init__(self, name: str) -> None:
        super().__init__(max_workers=1, thread_name_prefix=name)
        self._name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (JobQueue, (self._name,))


class SimulatorHandle(Generic[R]):
    """Checked work queued on a backend's job queue; ``result()`` waits for it.

    It can be cancelled until it finishes: a queued run never starts, a running one has
    its chunks not yet done cancelled.
    """

    def __init__(self, run: Callable[[Cancellation], R], runner: Executor) -> None:
        self._id = uuid.uuid4().hex
        self._cancellation = Cancellation()
        self.time_taken = 0.0
        """Seconds the work took to run, once it has."""

        def timed(cancel: Cancellation) -> R:
            start = time.perf_counter()
            try:
                return run(cancel)
            finally:
                self.time_taken = time.perf_counter() - start

        self._future: Future[R] = runner.submit(timed, self._cancellation)

    def job_id(self) -> str:
        return self._id

    @property
    def metadata(self) -> dict[str, Any]:
        """Nothing more than the results say."""
        return {}

    def result(self, timeout: float | None = None) -> R:
        """The typed results, waiting up to ``timeout`` seconds.

        Raises:
            JobCancelledError: the work was cancelled.
            JobTimeoutError: it did not finish in time; it goes on running.
            SimulationError: Aer (or a worker process) failed.
        """
        try:
            return self._future.result(timeout)
        except concurrent.futures.CancelledError:
            raise JobCancelledError(self._id) from None
        except concurrent.futures.TimeoutError:
            raise JobTimeoutError([self._id], timeout or 0.0) from None

    def cancel(self) -> bool:
        """Cancel unless finished; ``True`` when the work will give no result."""
        if self._future.done():
            return False
        return self._future.cancel() or self._cancellation.cancel()

    def status(self) -> JobStatus:
        """QUEUED, RUNNING, DONE, ERROR or CANCELLED."""
        future = self._future
        if future.cancelled():
            return JobStatus.CANCELLED
        if future.done():
            error = future.exception()
            if isinstance(error, concurrent.futures.CancelledError):
                return JobStatus.CANCELLED
            return JobStatus.ERROR if error else JobStatus.DONE
        return JobStatus.RUNNING if future.running() else JobStatus.QUEUED


class SimulatorExecution:
    """Runs work on ``engine``, queued on ``runner`` (the backend's :class:`JobQueue`)."""

    def __init__(self, engine: SimulationEngine, runner: Executor) -> None:
        self._engine = engine
        self._runner = runner

    @property
    def runner(self) -> Executor:
        """The queue work runs on, one run after another."""
        return self._runner

    def sample(
        self, work: Sequence[SampleWork], *, seed: int | None, memory: bool
    ) -> SimulatorSampling:
        """Sample each item: one engine batch per shot count, its items' parameter sets
        bound inside Aer. The first batch has ``seed`` itself, so a single batch samples
        exactly as Aer would; the others have seeds drawn from it."""
        work = list(work)
        return SimulatorSampling(work, self._sample_batches(work, seed, memory), self._runner)

    def plan_sample(
        self, work: Sequence[SampleWork], *, seed: int | None, memory: bool
    ) -> SimulationPlan:
        """What :meth:`sample` would run, checked as it checks, nothing run."""
        work = list(work)
        batches = self._sample_batches(work, seed, memory)
        return self._plan(work, [(indices, batch, batch.task.shots) for indices, batch in batches])

    def plan_estimate(self, work: Sequence[EstimateWork], *, seed: int | None) -> SimulationPlan:
        """What :meth:`estimate` would run, checked as it checks, nothing run."""
        run = self._estimation(list(work), seed)
        batches: list[tuple[list[int], SampleBatch | ExpectationBatch, int | None]] = []
        if run.exact:
            batches.append((run.exact, run.exact_batch, None))
        batches += [(each.indices, each.batch, each.batch.task.shots) for each in run.sampled]
        return self._plan(list(work), batches)

    def _plan(
        self,
        work: Sequence[SampleWork | EstimateWork],
        batches: list[tuple[list[int], SampleBatch | ExpectationBatch, int | None]],
    ) -> SimulationPlan:
        planned = []
        for indices, batch, shots in batches:
            device = batch.task.device
            planned.append(
                BatchPlan(
                    items=tuple(indices),
                    device=device.name,
                    circuits=len(batch.circuits),
                    runs=sum(_runs(batch, k) for k in range(len(batch.circuits))),
                    shots=shots,
                    chunks=len(batch.plan),
                    processes=min(len(batch.plan), self._engine.n_processes),
                )
            )
        noisy = {i: b.task.device.noisy for indices, b, _ in batches for i in indices}
        memory = tuple(
            state_bytes(item.circuit, noisy.get(i, False)) for i, item in enumerate(work)
        )
        return SimulationPlan(tuple(planned), memory)

    def _sample_batches(
        self, work: list[SampleWork], seed: int | None, memory: bool
    ) -> list[tuple[list[int], SampleBatch]]:
        bound = all(item.parameter_values is None for item in work)
        batches = []
        for position, (shots, indices) in enumerate(grouped([item.shots for item in work])):
            batch = self._engine.prepare_sample(
                [work[i].circuit for i in indices],
                shots=shots,
                seed=batch_seed(seed, position),
                memory=memory,
                labels=[work[i].label for i in indices],
                parameter_values=None if bound else [_rows(work[i]) for i in indices],
            )
            batches.append((indices, batch))
        return batches

    def estimate(
        self, work: Sequence[EstimateWork], *, seed: int | None
    ) -> SimulatorHandle[list[Estimate]]:
        """Exact items in one batch of exact values; sampled ones in one sampling batch per
        shot count, a circuit per measurement basis and parameter set."""
        return SimulatorHandle(self._estimation(list(work), seed), self._runner)

    def _estimation(self, work: list[EstimateWork], seed: int | None) -> _Estimation:
        exact = [i for i, item in enumerate(work) if item.shots is None]
        exact_batch = self._engine.prepare_expectation_values(
            [work[i].circuit for i in exact],
            [work[i].observables for i in exact],
            parameter_values=[work[i].parameter_values for i in exact],
        )
        estimated = [(i, item.shots) for i, item in enumerate(work) if item.shots is not None]
        by_shots = grouped([shots for _, shots in estimated])
        sampled = [
            _SampledBatch.prepare(
                self._engine,
                work,
                [estimated[k][0] for k in positions],
                shots,
                batch_seed(seed, position),
            )
            for position, (shots, positions) in enumerate(by_shots)
        ]
        return _Estimation(len(work), exact, exact_batch, sampled)

    def retrieve_sample(self, job_id: str, work: Sequence[SampleWork]) -> SimulatorSampling:
        raise _not_retrievable()

    def retrieve_estimate(
        self, job_id: str, work: Sequence[EstimateWork]
    ) -> SimulatorHandle[list[Estimate]]:
        raise _not_retrievable()


@dataclass(frozen=True)
class BatchPlan:
    """One engine batch a run would make: the work items in it, the device it runs on,
    its circuits (for a sampled estimate, one per measurement basis) and runs (circuits
    times parameter sets), its shots (``None`` for exact values), and the chunks it is
    split into over how many worker processes."""

    items: tuple[int, ...]
    device: str
    circuits: int
    runs: int
    shots: int | None
    chunks: int
    processes: int


@dataclass(frozen=True)
class SimulationPlan:
    """What a run on the simulator would do, checked as the run checks it, nothing run:
    its batches, in the order they run, and each item's estimated state memory in bytes
    (:func:`state_bytes`)."""

    batches: tuple[BatchPlan, ...]
    memory_per_circuit: tuple[int, ...]


def state_bytes(circuit: QuantumCircuit, noisy: bool) -> int:
    """The memory one run of ``circuit`` holds its state in: a complex128 statevector,
    16 B x 2^n, or a density matrix, 16 B x 4^n, under noise or when the circuit resets
    or measures mid-circuit."""
    dynamic = "reset" in circuit.count_ops() or (
        "measure" in without_final_measurements(circuit).count_ops()
    )
    return 16 * (4 if noisy or dynamic else 2) ** circuit.num_qubits


def _runs(batch: SampleBatch | ExpectationBatch, k: int) -> int:
    return 1 if batch.rows is None else len(batch.rows[k].values)


class SimulatorSampling(SimulatorHandle[Sampled]):
    """A sampling run; it also knows the Aer seed of each item's first parameter set."""

    def __init__(
        self,
        work: list[SampleWork],
        batches: list[tuple[list[int], SampleBatch]],
        runner: Executor,
    ) -> None:
        self.seeds = [0] * len(work)
        for indices, batch in batches:
            first = 0
            for i in indices:
                self.seeds[i] = batch.seed + AER_SEED_STRIDE * first
                first += work[i].num_sets
        self.device_names = {i: batch.device_name for indices, batch in batches for i in indices}

        def run(cancel: Cancellation) -> Sampled:
            results: Sampled = [[] for _ in work]
            for indices, batch in batches:
                samples = iter(batch.run(cancel))
                for i in indices:
                    results[i] = [next(samples).outcomes for _ in range(work[i].num_sets)]
            return results

        super().__init__(run, runner)


def grouped(keys: Sequence[K]) -> list[tuple[K, list[int]]]:
    """Indices of ``keys`` by value, in order of first appearance: the items that share
    a batch (same shots)."""
    groups: dict[K, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        groups[key].append(index)
    return list(groups.items())


def batch_seed(seed: int | None, position: int) -> int | None:
    """The seed of a run's ``position``-th engine batch: ``seed`` for the first, seeds
    drawn from it for the rest."""
    if seed is None or position == 0:
        return seed
    return int(np.random.SeedSequence([seed, position]).generate_state(1)[0])


def _rows(item: SampleWork) -> np.ndarray:
    if item.parameter_values is None:
        return np.empty((1, 0))
    return item.parameter_values


def _not_retrievable() -> InvalidInputError:
    return InvalidInputError(
        "only jobs of a QoroBackend can be retrieved; simulator jobs live in this process"
    )


# -- estimates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SampledBatch:
    """Items estimated from the same number of shots: their terms, their measurement
    groups, and the checked batch measuring them."""

    work: list[EstimateWork]
    indices: list[int]
    terms: list[Terms]
    groups: list[list[tuple[str, list[int]]]]
    batch: SampleBatch

    @classmethod
    def prepare(
        cls,
        engine: SimulationEngine,
        work: list[EstimateWork],
        indices: list[int],
        shots: int,
        seed: int | None,
    ) -> _SampledBatch:
        terms = [Terms.of(work[i].observables) for i in indices]
        groups = [_commuting_groups(item_terms.paulis) for item_terms in terms]
        circuits, rows = [], []
        for i, item_groups in zip(indices, groups, strict=True):
            circuits += [_measured_in_basis(work[i].circuit, basis) for basis, _ in item_groups]
            rows += [work[i].parameter_values] * len(item_groups)
        batch = engine.prepare_sample(circuits, shots=shots, seed=seed, parameter_values=rows)
        return cls(work, indices, terms, groups, batch)

    def run(self, cancel: Cancellation) -> list[tuple[int, Estimate]]:
        samples = iter(self.batch.run(cancel))
        return [
            (i, _sampled_moments(self.work[i], terms, groups, samples))
            for i, terms, groups in zip(self.indices, self.terms, self.groups, strict=True)
        ]


@dataclass(frozen=True)
class _Estimation:
    """Runs the batches of one estimate, results in item order."""

    size: int
    exact: list[int]
    exact_batch: ExpectationBatch
    sampled: list[_SampledBatch]

    def __call__(self, cancel: Cancellation) -> list[Estimate]:
        results: list[Estimate | None] = [None] * self.size
        for i, evs in zip(self.exact, self.exact_batch.run(), strict=True):
            results[i] = Estimate(evs, np.zeros_like(evs))
        for sampled in self.sampled:
            for i, estimate in sampled.run(cancel):
                results[i] = estimate
        return results  # type: ignore[return-value]


def _sampled_moments(
    item: EstimateWork,
    terms: Terms,
    groups: list[tuple[str, list[int]]],
    samples: Iterator[SampleResult],
) -> Estimate:
    """An item's estimates and their variances per (parameter set, observable), from its
    samples: one circuit per measurement group, each run for every parameter set; the
    identity term, which needs no measurement, adds its coefficient exactly.

    Circuits are independent, so the variances of their contributions add up.
    """
    sets = len(item.parameter_values)
    size = (sets, len(item.observables))
    evs, variances = np.zeros(size), np.zeros(size)
    identity = "I" * item.circuit.num_qubits
    if identity in terms.paulis:
        evs += terms.coefficients[:, terms.paulis.index(identity)]
    for basis, members in groups:
        labels = [_on_measured(terms.paulis[j], basis) for j in members]
        for row in range(sets):
            mean, variance = _group_moments(
                next(samples).outcomes, labels, terms.coefficients[:, members]
            )
            evs[row] += mean
            variances[row] += variance
    return Estimate(evs, variances)


def _commuting_groups(paulis: list[str]) -> list[tuple[str, list[int]]]:
    """Qubit-wise-commuting groups of the terms other than the identity: a basis to
    measure in (a Pauli label, ``I`` where nothing is measured) and the indices of the
    terms it measures."""
    column = {label: j for j, label in enumerate(paulis) if label.strip("I")}
    if not column:
        return []
    groups = []
    for group in PauliList(list(column)).group_qubit_wise_commuting():
        labels = [pauli.to_label() for pauli in group]
        basis = [next((p[k] for p in labels if p[k] != "I"), "I") for k in range(len(labels[0]))]
        groups.append(("".join(basis), [column[label] for label in labels]))
    return groups


def _measured_in_basis(circuit: QuantumCircuit, basis: str) -> QuantumCircuit:
    """``circuit`` without its final measurements, then the qubits the Pauli label
    ``basis`` (qubit 0 rightmost) acts on measured in its basis into a new register, in
    qubit order; idle qubits stay unmeasured, so Aer can leave them out."""
    measured = without_final_measurements(circuit)
    name = BASIS_REGISTER
    while name in {creg.name for creg in measured.cregs}:
        name += "_"
    qubits = [qubit for qubit, pauli in enumerate(reversed(basis)) if pauli != "I"]
    register = ClassicalRegister(len(qubits), name)
    measured.add_register(register)
    for qubit in qubits:
        if basis[-1 - qubit] == "Y":
            measured.sdg(qubit)
        if basis[-1 - qubit] in "XY":
            measured.h(qubit)
    measured.measure(qubits, register)
    return measured


def _on_measured(label: str, basis: str) -> str:
    """The part of the Pauli label ``label`` on the qubits ``basis`` measures, as the
    basis register's bits read them (its first qubit rightmost)."""
    return "".join(pauli for pauli, measured in zip(label, basis, strict=True) if measured != "I")


def _group_moments(
    outcomes: Outcomes, labels: list[str], coefficients: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each observable's part measured by one basis circuit: its mean over the shots and
    the variance of that mean.

    ``coefficients[o, j]`` weighs ``labels[j]`` (a term on the measured qubits only) in
    observable ``o``. Outcomes read the basis register, added last, so in the highest
    classical bits; its bits and the labels both put the first measured qubit rightmost,
    so a label's non-identity positions pick the bits whose parity is the term's sign.
    """
    top = outcomes.num_bits - 1
    bit_sets = [[top - k for k, pauli in enumerate(label) if pauli != "I"] for label in labels]
    signs = 1 - 2 * outcomes.parities(bit_sets).astype(np.int64)
    per_outcome = signs @ coefficients.T
    weights = outcomes.counts.astype(float)
    shots = weights.sum()
    mean = weights @ per_outcome / shots
    spread = weights @ (per_outcome - mean) ** 2 / max(shots - 1, 1)
    return mean, spread / shots
