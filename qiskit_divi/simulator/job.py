"""A ParallelSimulatorBackend job: a sampling handle of the engine, formatted as a JobV1."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit.providers import JobError, JobStatus, JobV1
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from ..execution import Sampled
from ..outcomes import Outcomes
from .execution import SimulatorSampling

if TYPE_CHECKING:
    from .backend import ParallelSimulatorBackend


class ParallelSimulatorJob(JobV1):
    """One ``backend.run`` call: runs in the background; ``result()`` waits for it.

    Jobs of one backend run one after another, each spread over the engine's workers.
    A job can be cancelled until it finishes (see :meth:`cancel`).
    """

    def __init__(
        self,
        backend: ParallelSimulatorBackend,
        handle: SimulatorSampling,
        circuits: list[QuantumCircuit],
        shots: int,
    ) -> None:
        super().__init__(backend, handle.job_id())
        self._handle = handle
        self._circuits = circuits
        self._shots = shots
        self._result: Result | None = None

    def submit(self) -> None:
        """Not needed: ``backend.run`` queues the job before returning it."""
        raise JobError(f"job {self.job_id()} was submitted when it was created")

    def result(self, timeout: float | None = None) -> Result:
        """The job's :class:`~qiskit.result.Result`, waiting up to ``timeout`` seconds.

        Raises:
            JobCancelledError: the job was cancelled.
            JobTimeoutError: the job did not finish in time; it goes on running.
            SimulationError: Aer (or a worker process) failed.
        """
        if self._result is None:
            self._result = self._formatted(self._handle.result(timeout))
        return self._result

    def cancel(self) -> bool:
        """Cancel the job unless it has finished; ``True`` when it will give no result.

        A queued job never starts. A running one has its chunks not yet done cancelled
        (on a Dask cluster, running ones too; a chunk running in this process or a local
        worker process completes first), then ends CANCELLED.
        """
        return self._handle.cancel()

    def status(self) -> JobStatus:
        """QUEUED, RUNNING, DONE, ERROR or CANCELLED."""
        return self._handle.status()

    def _formatted(self, samples: Sampled) -> Result:
        backend = self.backend()
        handle = self._handle
        return Result(
            backend_name=backend.name,
            backend_version=backend.backend_version,
            job_id=self.job_id(),
            success=True,
            status="COMPLETED",
            date=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            results=[
                _experiment(
                    circuit, outcomes, self._shots, handle.seeds[i], handle.device_names[i]
                )
                for i, (circuit, (outcomes,)) in enumerate(
                    zip(self._circuits, samples, strict=True)
                )
            ],
            time_taken=handle.time_taken,
        )


def _experiment(
    circuit: QuantumCircuit, outcomes: Outcomes, shots: int, seed: int, device: str
) -> ExperimentResult:
    """One circuit's outcomes as Qiskit stores them: hex keys, plus the header to format them."""
    data: dict[str, Any] = {}
    if len(outcomes.values):  # as in Aer, a circuit without measurements has no counts
        data["counts"] = outcomes.hex_counts()
        if outcomes.memory is not None:
            data["memory"] = outcomes.hex_memory()
    header = {
        "name": circuit.name,
        "creg_sizes": [[register.name, register.size] for register in circuit.cregs],
        "memory_slots": circuit.num_clbits,
        "qreg_sizes": [[register.name, register.size] for register in circuit.qregs],
        "n_qubits": circuit.num_qubits,
        "global_phase": float(circuit.global_phase),
        "metadata": circuit.metadata,
    }
    return ExperimentResult(
        shots=shots,
        success=True,
        data=ExperimentResultData(**data),
        status="DONE",
        header=header,
        seed_simulator=seed,
        metadata={"device": device, "seed_simulator": seed},
    )
