"""The local parallel simulator as a Qiskit ``BackendV2``: transpile, run, primitives."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Literal, overload

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target
from qiskit_aer.noise import NoiseModel

from ..configuration import BackendConfiguration, configuration_of
from ..copies import SharingCopies
from ..execution import SampleWork
from ..options import OptionTable, check_seed, flag, positive_int
from ..version import __version__
from .device import QiskitBackend
from .engine import SimulationEngine
from .execution import JobQueue, SimulationPlan, SimulatorExecution
from .job import ParallelSimulatorJob

if TYPE_CHECKING:
    from distributed import Client


class ParallelSimulatorBackend(SharingCopies, BackendV2):
    """Aer, run in parallel over a warm process pool, seeded, optionally noisy.

    Args:
        qiskit_backend: what to imitate: ``None``/``"qasm_simulator"`` (ideal),
            ``"statevector_simulator"``, ``"auto"`` (per batch, the smallest fake IBM
            backend that fits) or a ``BackendV2`` such as ``FakeManilaV2()``, whose
            target this backend then has and whose noise its runs see.
        noise_model: an Aer noise model (replaces a given backend's own noise).
        n_processes: worker processes for large batches; default: all usable cores
            (with a Dask ``Client``: the cluster's worker threads).
        executor: run jobs on this ``concurrent.futures.Executor`` or Dask
            ``distributed.Client`` instead of a private process pool (never shut down here).
        provider: the provider that made this backend, if any.
        options: default run options (see :meth:`_default_options`).

    Copies (``copy.deepcopy``) have options of their own and share the engine, its warm
    pool and the job queue. A pickle carries the settings and options but neither
    provider nor executor: unpickled, the backend has a new engine with its own private
    pool (see :class:`~qiskit_divi.simulator.engine.SimulationEngine`).
    """

    def __init__(
        self,
        *,
        qiskit_backend: QiskitBackend = None,
        noise_model: NoiseModel | None = None,
        n_processes: int | None = None,
        executor: Executor | Client | None = None,
        provider: object = None,
        **options: Any,
    ) -> None:
        self._engine = SimulationEngine(
            qiskit_backend=qiskit_backend,
            noise_model=noise_model,
            n_processes=n_processes,
            executor=executor,
        )
        super().__init__(
            provider=provider,
            name="parallel_simulator",
            description=f"Parallel Aer simulator imitating {self._engine.device_name}",
            backend_version=__version__,
        )
        self._execution = SimulatorExecution(self._engine, JobQueue(self.name))
        if options:
            self.set_options(**options)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its provider, which may hold a Qoro token."""
        return {**self.__dict__, "_provider": None}

    @classmethod
    def _default_options(cls) -> Options:
        """``shots`` per circuit, ``seed_simulator`` (None: a fresh seed per job) and
        ``memory`` (keep each shot's outcome, for ``Result.get_memory``)."""
        return _OPTIONS.defaults()

    def set_options(self, **fields: Any) -> None:
        """Set run options; each value is checked here, so a bad one fails at once.

        Raises:
            UnknownOptionError: an option this backend does not have (an ``AttributeError``).
        """
        super().set_options(**_OPTIONS.checked(fields, self.name))

    @property
    def target(self) -> Target:
        """The imitated device's target, or every instruction Aer runs, on any qubits."""
        return self._engine.target

    @property
    def max_circuits(self) -> None:
        """No limit: a batch of any size is one job."""
        return None

    def configuration(self) -> BackendConfiguration:
        """The legacy description some libraries still read (mthree), from the target."""
        return configuration_of(self, simulator=True, local=True)

    @property
    def engine(self) -> SimulationEngine:
        """The engine runs go to; qiskit-divi's primitives share it (and its warm pool)."""
        return self._engine

    @property
    def execution(self) -> SimulatorExecution:
        """Where runs and qiskit-divi's primitives submit their work (see
        :mod:`qiskit_divi.execution`)."""
        return self._execution

    @property
    def n_processes(self) -> int:
        """The most worker processes a job is spread over."""
        return self._engine.n_processes

    @overload
    def run(
        self,
        run_input: QuantumCircuit | Sequence[QuantumCircuit],
        *,
        dry_run: Literal[False] = ...,
        **options: Any,
    ) -> ParallelSimulatorJob: ...

    @overload
    def run(
        self,
        run_input: QuantumCircuit | Sequence[QuantumCircuit],
        *,
        dry_run: Literal[True],
        **options: Any,
    ) -> SimulationPlan: ...

    def run(
        self,
        run_input: QuantumCircuit | Sequence[QuantumCircuit],
        *,
        dry_run: bool = False,
        **options: Any,
    ) -> ParallelSimulatorJob | SimulationPlan:
        """Queue circuits to sample; the returned job runs in the background.

        Circuits the imitated device cannot run as they are get transpiled for it first.
        Options are those of :attr:`options`, plus what Qiskit libraries pass to any
        backend: ``meas_level=2`` and ``init_qubits=True`` (what every run does) and
        ``meas_return`` are accepted; any other option is ignored, with a
        :class:`~qiskit_divi.exceptions.DiviWarning` naming it.

        Raises:
            TypeError: a value of the wrong kind.
            InvalidInputError, InvalidCircuitError, CircuitTooWideError: bad input, or an
                option asking for what no run does (``meas_level=1``, ``init_qubits=False``,
                a ``noise_model``), refused here, before the job is queued.

        With ``dry_run``, everything is checked and planned but nothing runs: the
        :class:`~qiskit_divi.simulator.execution.SimulationPlan` (batches, processes,
        memory per circuit) is returned instead of a job.
        """
        settings = {**self.options.__dict__, **_OPTIONS.for_run(options, self.name)}
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        shots = settings["shots"]
        work = [SampleWork(circuit, shots) for circuit in circuits]
        if dry_run:
            return self._execution.plan_sample(
                work, seed=settings["seed_simulator"], memory=settings["memory"]
            )
        handle = self._execution.sample(
            work, seed=settings["seed_simulator"], memory=settings["memory"]
        )
        return ParallelSimulatorJob(self, handle, circuits, shots)

    def close(self) -> None:
        """Shut the engine's worker pool down (it also goes at interpreter exit)."""
        self._engine.close()


#: Each run option, its default and the check of its values.
_OPTIONS = OptionTable(
    shots=(1024, lambda value: positive_int("shots", value)),
    seed_simulator=(None, lambda value: check_seed(value, "seed_simulator")),
    memory=(False, lambda value: flag("memory", value)),
)
