"""The local simulation engine: checks a batch, picks the parallelism it wants, runs it on Aer.

Many narrow circuits are split into contiguous chunks over a warm process pool that
lives across calls (variational loops call again and again); wide circuits, or batches
too small to repay the hand-over, run in this process on Aer's own threads. Given an
executor (any ``concurrent.futures`` one, or a Dask ``Client``: see :mod:`.executors`),
every batch runs on it instead. Each circuit's seed depends only on the batch seed and
its position, so results are the same whatever the split.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import Target
from qiskit_aer.noise import NoiseModel

from ..copies import Shared
from ..exceptions import (
    CircuitTooWideError,
    DiviWarning,
    InvalidCircuitError,
    InvalidInputError,
    InvalidTypeError,
    SimulationError,
)
from ..options import MAX_SEED, check_seed, positive_int, unknown_options
from . import runs
from .device import (
    AUTO,
    QiskitBackend,
    SimulatedDevice,
    check_qiskit_backend,
    fixed_device,
    smallest_fake_backend,
)
from .executors import Cancellation, ChunkExecutor, chunk_executor, process_context, usable_cores
from .runs import ExpectationTask, ParameterRows, SampleResult, SampleTask

__all__ = ["ExpectationBatch", "SampleBatch", "SampleResult", "SimulationEngine"]

#: From this width on, Aer's own threads (per circuit) beat processes (across circuits).
WIDE_QUBITS = 20
#: Seconds the private pool may take to start; batches run here meanwhile.
POOL_START_LIMIT = 120.0
#: Chunks per worker of the private pool: workers start on their first chunks while the
#: rest are packed (1000 x 6q on 2 workers: 0.73x of one direct Aer run with one chunk
#: each, 0.67x with 4). A given executor gets one chunk per worker, as it may be remote.
CHUNKS_PER_WORKER = 4
#: A pool is used only when every worker gets at least this much estimated work
#: (in instructions weighted by state size); below it the hand-over costs more than it saves.
MIN_WORK_PER_WORKER = 20_000

T = TypeVar("T")

if TYPE_CHECKING:
    from distributed import Client
    from typing_extensions import Unpack


class EngineSettings(TypedDict, total=False):
    """What makes an engine (see :class:`SimulationEngine`): the settings a simulator
    backend is constructed with."""

    qiskit_backend: QiskitBackend
    noise_model: NoiseModel | None
    n_processes: int | None
    executor: Executor | Client | None


class BatchSettings(TypedDict, total=False):
    """What a batch may say besides its circuits (see :meth:`SimulationEngine.sample`)."""

    labels: Sequence[str | None] | None
    parameter_values: Sequence[np.ndarray] | None


class SampleSettings(BatchSettings, total=False):
    """What a sampling batch says besides its circuits and shots (see
    :meth:`SimulationEngine.sample`)."""

    seed: int | None
    memory: bool


class SimulationEngine(Shared):
    """Runs batches of circuits on Aer, sampled or exact, in parallel where that pays.

    Args:
        qiskit_backend: what to imitate: ``None`` or ``"qasm_simulator"`` (ideal, Aer's
            automatic method), ``"statevector_simulator"`` (ideal, statevector method),
            ``"auto"`` (the smallest fake IBM backend that fits the widest circuit of each
            batch), or a ``BackendV2`` such as ``FakeManilaV2()`` (its noise and target).
        noise_model: an Aer noise model; with a backend it replaces the backend's noise.
        n_processes: the most chunks a batch is split into: worker processes for large
            batches of narrow circuits; default: the cores this process may use (with a
            Dask ``Client``: the cluster's worker threads at each batch). ``1`` never
            starts a pool.
        executor: run every batch on this ``concurrent.futures.Executor`` (assumed to
            share this machine's cores) or Dask ``distributed.Client`` instead of a
            private process pool; the engine never shuts it down.

    An engine is this process's machinery: copies of what holds it (backends,
    primitives, batches) share it, warm pool included. A pickle carries its settings but
    not its executor, which lives in this process: unpickled, it is a new engine that
    runs on its own private pool, started when a batch needs it.

    Raises:
        UnknownBackendError: ``qiskit_backend`` is a string naming no simulator.
        InvalidInputError: ``n_processes`` < 1.
        TypeError: ``executor`` is neither an ``Executor`` nor a ``Client``, or a setting
            the engine does not have (an ``UnknownOptionError``).
    """

    def __init__(self, **settings: Unpack[EngineSettings]) -> None:
        unknown = settings.keys() - EngineSettings.__optional_keys__
        if unknown:
            raise unknown_options(unknown, "SimulationEngine", EngineSettings.__optional_keys__)
        qiskit_backend = check_qiskit_backend(settings.get("qiskit_backend"))
        noise_model = settings.get("noise_model")
        n_processes = settings.get("n_processes")
        executor = settings.get("executor")
        if noise_model is not None and not isinstance(noise_model, NoiseModel):
            raise InvalidTypeError(
                f"noise_model must be a NoiseModel, got {type(noise_model).__name__}"
            )
        self._noise_model = noise_model
        self._auto = qiskit_backend == AUTO
        self._fixed = fixed_device(None if self._auto else qiskit_backend, noise_model)
        self._auto_devices: dict[str, SimulatedDevice] = {}
        n_processes = None if n_processes is None else positive_int("n_processes", n_processes)
        self._settings = {
            "qiskit_backend": qiskit_backend,
            "noise_model": noise_model,
            "n_processes": n_processes,
        }
        self._n_processes = n_processes or usable_cores()
        self._executor = None if executor is None else chunk_executor(executor, n_processes)
        self._pool: ProcessPoolExecutor | None = None
        self._shutdown_pool: weakref.finalize | None = None
        self._pool_ready = threading.Event()
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_engine_from_settings, (self._settings,))

    @property
    def n_processes(self) -> int:
        """The most chunks one batch is split into (worker processes, or a Dask
        cluster's worker threads)."""
        return self._n_processes if self._executor is None else self._executor.slots()

    @property
    def target(self) -> Target:
        """What circuits are checked against: the device's target (Aer's for ``"auto"``)."""
        return self._fixed.target

    @property
    def device_name(self) -> str:
        """The imitated device, or ``"auto"`` when each batch picks its own."""
        return AUTO if self._auto else self._fixed.name

    def sample(
        self, circuits: Sequence[QuantumCircuit], *, shots: int, **settings: Unpack[SampleSettings]
    ) -> list[SampleResult]:
        """Measurement outcomes of each circuit, in input order.

        Circuits are run as they are when the device supports them, else transpiled for
        it (seeded). A circuit without measurements records nothing, exactly as in Aer:
        its counts are empty (a :class:`DiviWarning` says so).

        Args:
            circuits: bound circuits, in any gates (rewritten for the device if needed).
            shots: measurements per circuit.
            seed: makes outcomes reproducible, whatever ``n_processes`` is; ``None``
                draws one (each result records its own ``seed_simulator``).
            memory: also keep each shot's outcome, in shot order.
            labels: names for error messages (default: the circuits' names).
            parameter_values: for each circuit, its parameter sets as the rows of a 2-D
                array (columns in ``circuit.parameters`` order), bound inside Aer as its
                own primitives do. Results then come one per set, circuits in order, each
                seeded as if it were a bound circuit at that position of the batch.

        Raises:
            InvalidInputError: ``shots`` < 1, a bad seed, or parameter values that do
                not fit their circuit.
            InvalidCircuitError: a circuit has unbound parameters (and no values).
            CircuitTooWideError: a circuit is wider than the device.
            SimulationError: Aer (or a worker process) failed.
        """
        return self.prepare_sample(circuits, shots=shots, **settings).run()

    def prepare_sample(
        self,
        circuits: Sequence[QuantumCircuit],
        *,
        shots: int,
        seed: int | None = None,
        memory: bool = False,
        labels: Sequence[str | None] | None = None,
        parameter_values: Sequence[np.ndarray] | None = None,
    ) -> SampleBatch:
        """Check a batch as :meth:`sample` does, raising the same errors, but run it later.

        Asynchronous jobs use this to refuse bad input at submission.
        """
        shots = positive_int("shots", shots)
        base_seed = _batch_seed(seed)
        circuits, labels = _checked_batch(circuits, labels, bound=parameter_values is None)
        values = _checked_parameter_values(circuits, labels, parameter_values)
        device = self._device_for(circuits, labels)
        for circuit, label in zip(circuits, labels, strict=True):
            if "measure" not in circuit.count_ops():
                warnings.warn(
                    f"circuit {label!r} has no measurements; its counts are empty",
                    DiviWarning,
                    stacklevel=3,
                )
        pieces, rows, _ = self._pieces(*_merged_runs(circuits, values))
        plan = self._plan(pieces, device, rows)
        task = SampleTask(device, shots, base_seed, bool(memory))
        return SampleBatch(self, pieces, task, plan, rows)

    def expectation_values(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[Sequence[SparsePauliOp]],
        **settings: Unpack[BatchSettings],
    ) -> list[np.ndarray]:
        """Exact ``<psi|O|psi>`` (real) of each of ``observables[i]`` on ``circuits[i]``.

        Observables are as wide as their circuit and refer to its qubits (a circuit
        transpiled by the caller takes observables laid out the same way). Final
        measurements are removed first; the state is a statevector when noiseless and a
        density matrix under noise or resets; a measurement left mid-circuit counts as
        the mean over its outcomes, each branch of the control flow reading them followed.
        With ``parameter_values`` (as in :meth:`sample`), circuit ``i``'s values are a
        ``(parameter sets, observables)`` array.

        Raises:
            InvalidInputError: the observables do not match the circuits in number or
                width, or one is not Hermitian; parameter values do not fit a circuit;
                the noise model acts on mid-circuit measurements beyond readout errors.
            InvalidCircuitError: a circuit has unbound parameters (and no values), or
                too many branches of mid-circuit measurements to follow.
            CircuitTooWideError: a circuit is wider than the device.
        """
        return self.prepare_expectation_values(circuits, observables, **settings).run()

    def prepare_expectation_values(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[Sequence[SparsePauliOp]],
        *,
        labels: Sequence[str | None] | None = None,
        parameter_values: Sequence[np.ndarray] | None = None,
    ) -> ExpectationBatch:
        """Check a batch as :meth:`expectation_values` does, raising the same errors, but
        run it later."""
        circuits, labels = _checked_batch(circuits, labels, bound=parameter_values is None)
        values = _checked_parameter_values(circuits, labels, parameter_values)
        checked = _checked_observables(circuits, labels, observables)
        device = self._device_for(circuits, labels)
        for circuit, label in zip(circuits, labels, strict=True):
            runs.check_exact(device, circuit, label)
        pieces, rows, owners = self._pieces(circuits, values)
        plan = self._plan(pieces, device, rows)
        return ExpectationBatch(
            self,
            pieces,
            [checked[owner] for owner in owners],
            ExpectationTask(device),
            plan,
            rows,
            owners if rows is not None else None,
        )

    def close(self) -> None:
        """Shut the warm worker pool down (it also goes when the engine or interpreter does)."""
        with self._lock:
            if self._shutdown_pool is not None:
                self._shutdown_pool()
            self._pool = self._shutdown_pool = None

    def _device_for(self, circuits: list[QuantumCircuit], labels: list[str]) -> SimulatedDevice:
        """The batch's device, after checking that every circuit can run on it."""
        device = self._auto_device(circuits, labels) if self._auto else self._fixed
        for circuit, label in zip(circuits, labels, strict=True):
            if circuit.num_qubits > device.num_qubits:
                raise CircuitTooWideError(
                    label,
                    f"{circuit.num_qubits} qubits, but {device.name} has {device.num_qubits}",
                )
            missing = device.untranslatable_instruction(circuit)
            if missing is not None:
                raise InvalidCircuitError(
                    label,
                    f"{device.name} has no {missing!r}, and the transpiler cannot rewrite it "
                    "into instructions it has (no equivalence, synthesis or definition)",
                )
        return device

    def _auto_device(self, circuits: list[QuantumCircuit], labels: list[str]) -> SimulatedDevice:
        """The smallest fake backend that fits the batch's widest circuit."""
        if not circuits:
            return self._fixed
        width, label = max(
            ((circuit.num_qubits, label) for circuit, label in zip(circuits, labels, strict=True)),
            key=lambda item: item[0],
        )
        backend = smallest_fake_backend(width, label)
        if backend.name not in self._auto_devices:
            self._auto_devices[backend.name] = SimulatedDevice(
                backend=backend, noise_model=self._noise_model
            )
        return self._auto_devices[backend.name]

    def _plan(
        self,
        circuits: list[QuantumCircuit],
        device: SimulatedDevice,
        rows: list[ParameterRows] | None = None,
    ) -> list[tuple[int, int]]:
        """Contiguous ``(start, stop)`` chunks, a few per worker of equal estimated work;
        without an executor, a single chunk runs here."""
        if len(circuits) < 2:
            return [(0, len(circuits))]
        # Instructions times state size: a state vector, or a density matrix under noise,
        # once per parameter set.
        state_base = 4.0 if device.noisy else 2.0
        work = np.array([len(circuit) * state_base**circuit.num_qubits for circuit in circuits])
        if rows is not None:
            work *= [len(each.values) for each in rows]
        workers = min(self.n_processes, int(work.sum() // MIN_WORK_PER_WORKER))
        # Wide circuits on this machine's cores use Aer's threads; a cluster spreads them.
        local = self._executor is None or self._executor.local
        wide = max(circuit.num_qubits for circuit in circuits) >= WIDE_QUBITS
        if workers < 2 or (local and wide):
            return [(0, len(circuits))]
        # Cut where the running total of work crosses each chunk's equal share.
        per_worker = CHUNKS_PER_WORKER if self._executor is None else 1
        chunks = min(len(circuits), workers * per_worker)
        cuts = np.searchsorted(np.cumsum(work), work.sum() * np.arange(1, chunks) / chunks)
        bounds = [0, *sorted(set(int(cut) + 1 for cut in cuts) - {len(circuits)}), len(circuits)]
        return list(itertools.pairwise(bounds))

    def _pieces(
        self, circuits: list[QuantumCircuit], values: list[np.ndarray] | None
    ) -> tuple[list[QuantumCircuit], list[ParameterRows] | None, list[int]]:
        """The units a plan spreads: each circuit with a contiguous part of its parameter
        sets (at most ``n_processes`` parts per circuit, or one per set for a circuit
        without parameters, which Aer runs once per entry), and whose part each is."""
        if values is None:
            return circuits, None, list(range(len(circuits)))
        most_parts = self.n_processes
        pieces: list[QuantumCircuit] = []
        rows: list[ParameterRows] = []
        owners: list[int] = []
        first = 0
        for owner, (circuit, sets) in enumerate(zip(circuits, values, strict=True)):
            parts = min(len(sets), most_parts) if circuit.parameters else len(sets)
            for part in np.array_split(np.arange(len(sets)), parts):
                pieces.append(circuit)
                rows.append(ParameterRows(first + int(part[0]), sets[part]))
                owners.append(owner)
            first += len(sets)
        return pieces, rows, owners

    def _run(
        self,
        run: Callable[..., list[T]],
        task: SampleTask | ExpectationTask,
        plan: list[tuple[int, int]],
        circuits: list[QuantumCircuit],
        *per_circuit: Sequence[Any],
        cancel: Cancellation | None = None,
    ) -> list[T]:
        """``run`` over each chunk of the plan, results in input order: on the executor,
        else on the private pool, else here (a single chunk, or the pool still starting:
        rather than wait for it). ``cancel`` lets another thread stop the batch.
        """
        cancel = cancel or Cancellation()
        cancel.watch([])  # a batch cancelled before it starts never runs
        executor = self._ready_executor(task.device, len(plan)) if circuits else None
        if executor is None:
            results = run(task, 0, circuits, *per_circuit) if circuits else []
        else:
            results = self._run_chunks(executor, run, task, plan, circuits, per_circuit, cancel)
        cancel.returning()
        return results

    def _run_chunks(
        self,
        executor: ChunkExecutor,
        run: Callable[..., list[T]],
        task: SampleTask | ExpectationTask,
        plan: list[tuple[int, int]],
        circuits: list[QuantumCircuit],
        per_circuit: Sequence[Sequence[Any]],
        cancel: Cancellation,
    ) -> list[T]:
        """Each chunk of the plan on ``executor``, its circuits as QPY bytes."""
        busy = min(len(plan), self.n_processes)
        threads = max(1, usable_cores() // busy) if executor.local else None
        task = dataclasses.replace(task, threads=threads)
        futures: list[Future[list[T]]] = []
        try:
            for start, stop in plan:
                packed = runs.pack(circuits[start:stop])
                extra = [values[start:stop] for values in per_circuit]
                futures.append(
                    executor.executor.submit(runs.run_packed, run, task, start, packed, *extra)
                )
            cancel.watch(futures)
            return [item for future in futures for item in future.result()]
        except executor.worker_lost as err:
            self.close()  # a broken private pool: the next batch starts a new one
            raise SimulationError(executor.worker_lost_message) from err
        except CancelledError:
            if cancel.cancelled:
                raise
            raise SimulationError(
                "a chunk of this batch was cancelled from outside: its executor was shut "
                "down, or its Dask client lost the scheduler"
            ) from None
        finally:
            for future in futures:
                future.cancel()

    def warm_up(self) -> None:
        """Start the worker pool now and wait until its workers are ready.

        Otherwise the pool starts with the first batch big enough to use it, and that
        batch runs in this process while the workers start, so no call waits for them.
        """
        if self._executor is None and self._n_processes > 1:
            self._start_pool(self._fixed).wait()

    def _ready_executor(self, device: SimulatedDevice, chunks: int) -> ChunkExecutor | None:
        """Where a plan of ``chunks`` runs: the given executor always; the private pool for
        two chunks or more, once it is ready; else ``None``: here."""
        if self._executor is not None:
            return self._executor
        if chunks < 2 or not self._start_pool(device).is_set():
            return None
        pool = self._pool  # None if closed meanwhile
        return None if pool is None else ChunkExecutor(pool, self._n_processes)

    def _start_pool(self, device: SimulatedDevice) -> threading.Event:
        """Start the private pool unless it exists; the event is set once it is ready."""
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._n_processes,
                    mp_context=process_context(runs.__name__),
                    initializer=runs.exit_with_parent,
                )
                self._shutdown_pool = weakref.finalize(
                    self, self._pool.shutdown, wait=False, cancel_futures=True
                )
                self._pool_ready = threading.Event()
                # Starting a worker blocks until the fork server has imported Aer: do it
                # aside. Not a daemon: exiting mid-start would leave a worker half-made.
                threading.Thread(
                    target=_start_workers,
                    args=(self._pool, device, self._n_processes, self._pool_ready),
                    name="qiskit-divi-pool-start",
                ).start()
            return self._pool_ready


@dataclass(frozen=True)
class SampleBatch:
    """A checked batch with its device and seed chosen, ready to :meth:`run`."""

    engine: SimulationEngine
    circuits: list[QuantumCircuit]
    task: SampleTask
    plan: list[tuple[int, int]]
    rows: list[ParameterRows] | None = None

    @property
    def device_name(self) -> str:
        """The device the batch runs on (for ``"auto"``: the fake backend picked for it)."""
        return self.task.device.name

    @property
    def seed(self) -> int:
        """The batch seed; circuit ``i`` is sampled with ``seed + 2113 * i``, as in Aer."""
        return self.task.seed

    def run(self, cancel: Cancellation | None = None) -> list[SampleResult]:
        """Sample every circuit (every parameter set, given some), in input order.

        Raises:
            CancelledError: ``cancel`` was cancelled (from another thread).
            SimulationError: Aer failed, or a worker died (more often than a Dask
                scheduler runs a chunk again).
        """
        extra = [] if self.rows is None else [self.rows]
        return self.engine._run(
            runs.sample_chunk, self.task, self.plan, self.circuits, *extra, cancel=cancel
        )


@dataclass(frozen=True)
class ExpectationBatch:
    """A checked batch of exact expectation values, ready to :meth:`run`.

    With parameter values, ``circuits`` are the parts the plan spreads and ``owners``
    says which input circuit each part belongs to.
    """

    engine: SimulationEngine
    circuits: list[QuantumCircuit]
    observables: list[list[SparsePauliOp]]
    task: ExpectationTask
    plan: list[tuple[int, int]]
    rows: list[ParameterRows] | None = None
    owners: list[int] | None = None

    def run(self) -> list[np.ndarray]:
        """Each input circuit's values, in input order."""
        extra = [] if self.rows is None else [self.rows]
        values = self.engine._run(
            runs.expectation_chunk, self.task, self.plan, self.circuits, self.observables, *extra
        )
        if self.owners is None:
            return values
        tables: dict[int, list[np.ndarray]] = {}
        for owner, table in zip(self.owners, values, strict=True):
            tables.setdefault(owner, []).append(table)
        return [np.concatenate(tables[owner]) for owner in sorted(tables)]


def _engine_from_settings(settings: dict[str, Any]) -> SimulationEngine:
    """An unpickled engine: made anew from the pickled one's settings."""
    return SimulationEngine(**settings)


def _start_workers(
    pool: ProcessPoolExecutor, device: SimulatedDevice, workers: int, ready: threading.Event
) -> None:
    """Have every worker start and build its simulator, then set ``ready``.

    Each wait is on the future itself, which a shutdown's cancellation wakes (``wait()``
    on a list is not woken by it), and bounded, so a stuck start cannot block exit.
    """
    threads = max(1, usable_cores() // workers)
    deadline = time.monotonic() + POOL_START_LIMIT
    try:
        futures = [pool.submit(runs.warm_up, device, threads) for _ in range(workers)]
        for future in futures:
            future.exception(timeout=max(0.0, deadline - time.monotonic()))
    except (RuntimeError, CancelledError, TimeoutError):
        pass  # closed, broken or stuck meanwhile: the next batch sent to the pool says which
    finally:
        ready.set()


def _batch_seed(seed: int | None) -> int:
    checked = check_seed(seed)
    return secrets.randbelow(MAX_SEED + 1) if checked is None else checked


def _checked_batch(
    circuits: Sequence[QuantumCircuit],
    labels: Sequence[str | None] | None,
    *,
    bound: bool = True,
) -> tuple[list[QuantumCircuit], list[str]]:
    """The batch as a list with a label per circuit (by default its name), each of the
    right kind (and bound, unless parameter values come with them)."""
    circuits = list(circuits)
    given = [None] * len(circuits) if labels is None else list(labels)
    if len(given) != len(circuits):
        raise InvalidInputError(f"{len(given)} labels for {len(circuits)} circuits")
    named = [
        getattr(circuit, "name", f"#{index}") if label is None else label
        for index, (circuit, label) in enumerate(zip(circuits, given, strict=True))
    ]
    for circuit, label in zip(circuits, named, strict=True):
        if not isinstance(circuit, QuantumCircuit):
            raise InvalidTypeError(
                f"circuit {label!r}: expected a QuantumCircuit, got {type(circuit)}"
            )
        if bound and circuit.parameters:
            names = ", ".join(sorted(parameter.name for parameter in circuit.parameters))
            raise InvalidCircuitError(label, f"unbound parameters ({names}); bind them first")
    return circuits, named


def _checked_parameter_values(
    circuits: list[QuantumCircuit],
    labels: list[str],
    parameter_values: Sequence[np.ndarray] | None,
) -> list[np.ndarray] | None:
    """One 2-D float array per circuit: at least one set, a column per parameter."""
    if parameter_values is None:
        return None
    values = [np.asarray(sets, dtype=float) for sets in parameter_values]
    if len(values) != len(circuits):
        raise InvalidInputError(
            f"{len(values)} arrays of parameter values for {len(circuits)} circuits"
        )
    for circuit, label, sets in zip(circuits, labels, values, strict=True):
        if sets.ndim != 2 or sets.shape[1] != circuit.num_parameters or not len(sets):
            raise InvalidInputError(
                f"circuit {label!r}: parameter values must be a (sets >= 1, "
                f"{circuit.num_parameters}) array, got shape {sets.shape}"
            )
    return values


def _merged_runs(
    circuits: list[QuantumCircuit], values: list[np.ndarray] | None
) -> tuple[list[QuantumCircuit], list[np.ndarray] | None]:
    """Consecutive entries of one circuit with parameters as one entry, their sets stacked.

    Samples come one per set in batch order and each set's seed follows its position, so
    nothing changes but the work: Aer prepares the circuit once, not once per entry (a
    sampler's PUBs often share their circuit).
    """
    if values is None:
        return circuits, None
    merged: list[QuantumCircuit] = []
    stacked: list[list[np.ndarray]] = []
    for circuit, sets in zip(circuits, values, strict=True):
        if merged and circuit is merged[-1] and circuit.parameters:
            stacked[-1].append(sets)
        else:
            merged.append(circuit)
            stacked.append([sets])
    return merged, [np.concatenate(parts) for parts in stacked]


def _checked_observables(
    circuits: list[QuantumCircuit],
    labels: list[str],
    observables: Sequence[Sequence[SparsePauliOp]],
) -> list[list[SparsePauliOp]]:
    """One list of Hermitian operators per circuit, each as wide as its circuit."""
    observables = list(observables)
    if len(observables) != len(circuits):
        raise InvalidInputError(
            f"{len(observables)} lists of observables for {len(circuits)} circuits"
        )
    checked = []
    for circuit, label, ops in zip(circuits, labels, observables, strict=True):
        if isinstance(ops, SparsePauliOp):
            raise InvalidTypeError(
                f"circuit {label!r}: give a list of observables, not one operator"
            )
        checked.append([_checked_observable(circuit, label, j, op) for j, op in enumerate(ops)])
    return checked


def _checked_observable(circuit: QuantumCircuit, label: str, index: int, op: Any) -> SparsePauliOp:
    if not isinstance(op, SparsePauliOp):
        raise InvalidTypeError(
            f"circuit {label!r}, observable {index}: expected a SparsePauliOp, got {type(op)}"
        )
    if op.num_qubits != circuit.num_qubits:
        raise InvalidInputError(
            f"circuit {label!r}, observable {index}: acts on {op.num_qubits} qubits, "
            f"the circuit has {circuit.num_qubits}"
        )
    op = op.simplify()
    if not np.allclose(op.coeffs.imag, 0):
        raise InvalidInputError(f"circuit {label!r}, observable {index}: not Hermitian")
    return op
