"""QoroJob: one Qoro job as a Qiskit ``JobV1``, a handle of the Qoro execution interface
whose typed results it renders as a ``Result``.

A job ``QoroBackend.run`` made knows its circuits, and keys counts by register exactly
as Qiskit does; a job rebuilt from its id alone takes order and names from the labels,
and keys counts by flat bitstrings. Waiting, fetching, matching and checking results are
the handle's (:mod:`qiskit_divi.qoro.execution`, :mod:`qiskit_divi.qoro.rules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from qiskit import QuantumCircuit
from qiskit.providers import JobError, JobStatus, JobV1
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from ..execution import Sampled
from ..version import __version__
from .client import QoroClient
from .codec import CircuitResult, ExpectationValues
from .execution import Labelled, QoroHandle
from .protocol import QoroJobStatus

if TYPE_CHECKING:
    from .backend import QoroBackend


@dataclass(frozen=True)
class ExperimentHeader:
    """What a result needs to know about one circuit of a job.

    ``creg_sizes`` and ``memory_slots`` are ``None`` for a job rebuilt from its id,
    whose circuits are unknown.
    """

    label: str
    name: str
    creg_sizes: tuple[tuple[str, int], ...] | None = None
    memory_slots: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, label: str, circuit: QuantumCircuit) -> ExperimentHeader:
        """The header of ``circuit``, sent under ``label``: its outcomes come back in
        circuit order, a bit per classical bit, counted by register as Aer counts them."""
        return cls(
            label=label,
            name=circuit.name,
            creg_sizes=tuple((register.name, register.size) for register in circuit.cregs),
            memory_slots=circuit.num_clbits,
            metadata=dict(circuit.metadata or {}),
        )


class QoroJob(JobV1):
    """A job on the Qoro Service; ``job_id()`` is the service's own job id.

    Args:
        backend: the backend that ran it, or ``None`` when only the id is known.
        handle: the job as the Qoro execution interface hands it: the sampled outcomes
            of the circuits ``headers`` describe or, for a job known by its id alone,
            its results by label.
        headers: one per circuit, in submission order; ``None`` for a job known by its
            id alone.

    A pickled job carries no token; unpickled, it reconnects with the environment's
    (see :class:`~qiskit_divi.qoro.reconnecting.Reconnecting`).
    """

    def __init__(
        self,
        backend: QoroBackend | None,
        handle: QoroHandle[Sampled] | QoroHandle[list[Labelled]],
        *,
        headers: Sequence[ExperimentHeader] | None = None,
    ) -> None:
        super().__init__(backend, handle.job_id())
        self._handle = handle
        self._headers = None if headers is None else tuple(headers)
        self._result: Result | None = None

    def __repr__(self) -> str:
        system = self._backend.name if self._backend is not None else "unknown system"
        return f"<QoroJob({self._job_id!r}) on {system}>"

    @property
    def client(self) -> QoroClient:
        """The client that reaches the service (its handle's)."""
        return self._handle.client

    def submit(self) -> None:
        """Not needed: ``QoroBackend.run`` submits the job before returning it."""
        raise JobError(f"job {self._job_id} was submitted when it was created")

    def status(self) -> JobStatus:
        """The job's status, asked of the service (no call once a result is held)."""
        return self._handle.status()

    def cancel(self) -> bool:
        """Ask the service to cancel the job; ``JobNotCancellableError`` once it is final."""
        return self._handle.cancel()

    def result(self, timeout: float | None = None, wait: float | None = None) -> Result:
        """Wait for the job and return its results, one experiment per circuit.

        Args:
            timeout: seconds to wait; by default the backend's ``timeout`` option.
            wait: first pause between status checks; by default ``polling_interval``.

        Raises:
            JobTimeoutError: not finished in time; the job goes on, and ``result()`` can
                be called again, here or on ``DiviProvider().retrieve_job(job_id)``.
            JobFailedError: the job failed; carries the service's reason.
            JobCancelledError: the job was cancelled.

        With ``memory=True`` each experiment also lists one outcome per shot. The service
        returns histograms, not shot records, so that list holds every counted outcome
        as often as it was counted, in a random order fixed by the job id.

        Each experiment's ``shots`` is the number asked; a histogram that counts another
        number raises :class:`~qiskit_divi.exceptions.CorruptResultError` (the service
        runs every shot asked). Only a job rebuilt from its id, whose shots are not known,
        reports the shots counted.
        """
        if self._result is None:
            typed = self._handle.result(timeout, polling_interval=wait)
            self._result = Result(
                backend_name=self._backend.name if self._backend is not None else None,
                backend_version=__version__,
                job_id=self._job_id,
                success=True,
                results=self._experiments(typed),
                status=QoroJobStatus.COMPLETED.value,
                metadata={"qoro_job_id": self._job_id},
            )
        return self._result

    def _experiments(self, typed: Sampled | list[Labelled]) -> list[ExperimentResult]:
        if self._headers is None:  # a job known by its id: the handle gives labelled results
            labelled = cast(list[Labelled], typed)
            return [_experiment(ExperimentHeader(e.label, e.name), e.result) for e in labelled]
        sampled = cast(Sampled, typed)  # one set per circuit: run() sends bound circuits
        return [
            _experiment(header, outcomes)
            for header, (outcomes,) in zip(self._headers, sampled, strict=True)
        ]


def _experiment(header: ExperimentHeader, result: CircuitResult) -> ExperimentResult:
    """One circuit's result: outcomes become hex counts (and memory, when the shots were
    laid out), expectation values are kept by term as ``expectation_values``."""
    if isinstance(result, ExpectationValues):
        data = ExperimentResultData(expectation_values=result.to_dict())
        return ExperimentResult(shots=0, success=True, data=data, header=_header_dict(header, 0))
    memory = None if result.memory is None else result.hex_memory()
    width = result.num_bits if header.memory_slots is None else header.memory_slots
    return ExperimentResult(
        shots=result.num_shots,
        success=True,
        data=ExperimentResultData(counts=result.hex_counts(), memory=memory),
        header=_header_dict(header, width),
    )


def _header_dict(header: ExperimentHeader, memory_slots: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": header.name,
        "qoro_label": header.label,
        "memory_slots": memory_slots,
        "metadata": header.metadata,
    }
    if header.creg_sizes is not None:
        fields["creg_sizes"] = [list(pair) for pair in header.creg_sizes]
    return fields
