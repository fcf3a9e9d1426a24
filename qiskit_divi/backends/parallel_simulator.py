"""Divi's documented local simulator: labelled circuits in, counts out, via the simulator's
execution interface (:mod:`qiskit_divi.simulator.execution`)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit_aer.noise import NoiseModel

from ..circuits import CircuitLike, labelled, to_circuit
from ..exceptions import InvalidTypeError
from ..execution import SampleWork
from ..options import check_seed
from ..simulator.device import QiskitBackend
from ..simulator.engine import SimulationEngine
from ..simulator.execution import JobQueue, SimulatorExecution
from .circuit_runner import CircuitRunner, ParameterSets, checked_parameter_sets

if TYPE_CHECKING:
    from distributed import Client


class ParallelSimulator(CircuitRunner):
    """Runs labelled circuits on Aer locally: in parallel, seeded, optionally noisy.

    Large batches of narrow circuits are spread over a pool of worker processes that
    stays warm between calls; wide circuits use Aer's own threads. The pool uses the
    fork server, so a script that submits at import time must do so under
    ``if __name__ == "__main__":``, as with any ``multiprocessing`` code.

    Args:
        shots: measurements per circuit.
        n_processes: worker processes; default: every core this process may use.
        qiskit_backend: ``None`` or ``"qasm_simulator"`` (ideal, Aer's automatic
            method), ``"statevector_simulator"`` (ideal, statevector method),
            ``"auto"`` (per batch, the smallest fake IBM backend that fits: its noise
            and coupling) or a ``BackendV2`` such as ``FakeManilaV2()``.
        seed: makes every call's outcomes reproducible, whatever ``n_processes`` is.
        noise_model: an Aer noise model; with a backend, it replaces the backend's noise.
        executor: run batches on this ``concurrent.futures.Executor`` or Dask
            ``distributed.Client`` (``pip install qiskit-divi[dask]``) instead of a
            private process pool; ``n_processes`` then defaults to the cluster's worker
            threads. It is never shut down here.

    Raises:
        UnknownBackendError: ``qiskit_backend`` names no simulator.
        InvalidInputError: ``shots`` or ``n_processes`` < 1, or a seed outside
            ``0 .. 2**32 - 1``.
        TypeError: ``executor`` is neither an ``Executor`` nor a ``Client``.
    """

    def __init__(
        self,
        shots: int = 1000,
        n_processes: int | None = None,
        qiskit_backend: QiskitBackend = None,
        seed: int | None = None,
        noise_model: NoiseModel | None = None,
        executor: Executor | Client | None = None,
    ) -> None:
        super().__init__(shots)
        self.seed = check_seed(seed)
        self._engine = SimulationEngine(
            qiskit_backend=qiskit_backend,
            noise_model=noise_model,
            n_processes=n_processes,
            executor=executor,
        )
        self._execution = SimulatorExecution(self._engine, JobQueue(type(self).__name__))

    @property
    def n_processes(self) -> int:
        """The most worker processes one batch is spread over."""
        return self._engine.n_processes

    def submit_circuits(
        self, circuits: Mapping[str, CircuitLike], *args: Any, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Sample each circuit; ``[{"label": ..., "results": {bitstring: count}}]`` in input order.

        Circuits are OpenQASM 2 text or ``QuantumCircuit`` objects, in any gates; they
        are rewritten for the imitated device when needed. Bitstrings follow Qiskit's
        convention (classical bit 0 rightmost, registers separated by spaces). A circuit
        without measurements has empty results, as in Aer (with a ``DiviWarning``).

        Raises:
            InvalidCircuitError: a circuit cannot be parsed (the label and the parser's
                message are given) or has unbound parameters.
            CircuitTooWideError: a circuit is wider than the imitated device.
        """
        if args or kwargs:
            raise InvalidTypeError("submit_circuits takes only the mapping of label -> circuit")
        work = [
            SampleWork(to_circuit(label, circuit), self.shots, label=label)
            for label, circuit in labelled(circuits).items()
        ]
        sampled = self._execution.sample(work, seed=self.seed, memory=False).result()
        return [
            {"label": item.label, "results": outcomes.get_counts()}
            for item, (outcomes,) in zip(work, sampled, strict=True)
        ]

    def submit_parameter_sets(
        self, circuit: QuantumCircuit, parameter_sets: ParameterSets
    ) -> list[dict[str, Any]]:
        """Sample one parametric circuit once per row of values; results as
        :meth:`submit_circuits` gives them, keyed by row label, in input order.

        ``parameter_sets`` maps a row label to a value for each of ``circuit.parameters``,
        in that order (:class:`~qiskit_divi.backends.QoroService` takes the same).

        Raises:
            InvalidInputError: the circuit has no parameters, or a row lists the wrong
                number of values.
        """
        rows = checked_parameter_sets(circuit, parameter_sets)
        return self.submit_circuits(
            {label: circuit.assign_parameters(values) for label, values in rows.items()}
        )

    def close(self) -> None:
        """Shut the worker pool down now (it also goes with this object or at exit)."""
        self._engine.close()
