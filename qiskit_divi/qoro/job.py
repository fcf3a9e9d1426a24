"""QoroJob: one Qoro job as a Qiskit ``JobV1``, whose results come back as a ``Result``.

A job knows the circuits it was submitted with when ``QoroBackend.run`` made it, and
then keys counts by register exactly as Qiskit does; a job rebuilt from its id alone
recovers order and names from the labels, and keys counts by flat bitstrings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit.providers import JobError, JobStatus, JobV1
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from ..copies import SharingCopies
from ..exceptions import CorruptResultError
from ..outcomes import Outcomes
from ..version import __version__
from .client import QoroClient
from .codec import CircuitResult, ExpectationValues
from .protocol import Dialect, QoroJobStatus
from .rules import matched, shot_order

if TYPE_CHECKING:
    from .backend import QoroBackend

_QISKIT_STATUS = {
    QoroJobStatus.PENDING: JobStatus.QUEUED,
    QoroJobStatus.SCHEDULED: JobStatus.QUEUED,
    QoroJobStatus.RUNNING: JobStatus.RUNNING,
    QoroJobStatus.PAUSED: JobStatus.RUNNING,
    QoroJobStatus.INSUFFICIENT_CREDITS: JobStatus.ERROR,
    QoroJobStatus.TIMED_OUT: JobStatus.ERROR,
    QoroJobStatus.COMPLETED: JobStatus.DONE,
    QoroJobStatus.FAILED: JobStatus.ERROR,
    QoroJobStatus.CANCELLED: JobStatus.CANCELLED,
}

_LABEL = re.compile(r"(\d+)_(.*)", re.DOTALL)
_CREG = re.compile(r"^creg (\w+)\[(\d+)\];$", re.MULTILINE)


def submission_label(index: int, circuit: QuantumCircuit) -> str:
    """The label the ``index``-th circuit of a job travels under: ``<index>_<name>``.

    Unique within a job, readable on the service's side, and enough to restore
    submission order and names for a job known only by its id.
    """
    return f"{index}_{circuit.name}"


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
    def of(cls, label: str, circuit: QuantumCircuit, qasm: str) -> ExperimentHeader:
        """The header of ``circuit``, sent under ``label`` as the OpenQASM 2 ``qasm``.

        The registers are read from the exported text, not the circuit: loose or shared
        classical bits are laid out by the exporter, and outcomes follow that layout.
        """
        cregs = tuple((name, int(size)) for name, size in _CREG.findall(qasm))
        return cls(
            label=label,
            name=circuit.name,
            creg_sizes=cregs,
            memory_slots=sum(size for _, size in cregs),
            metadata=dict(circuit.metadata or {}),
        )

    @classmethod
    def unknown(cls, labels: Sequence[str]) -> list[ExperimentHeader]:
        """Headers for results of circuits not known here, in submission order when the
        labels follow this module's scheme and in the service's order otherwise."""
        parsed = [match for match in map(_LABEL.fullmatch, labels) if match]
        if sorted(int(match[1]) for match in parsed) == list(range(len(labels))):
            in_order = sorted(parsed, key=lambda match: int(match[1]))
            return [cls(label=match[0], name=match[2]) for match in in_order]
        return [cls(label=label, name=label) for label in labels]


class Reconnecting(SharingCopies):
    """Pickles without its client, which holds the token and refuses to be pickled.

    The unpickled object keeps the API URL and the wire dialect, and makes a new client
    there, speaking that dialect, on first use, finding the token as a new client would
    (:mod:`qiskit_divi.accounts`).
    Copies made in this process (``copy.deepcopy``) share the client, token included.
    """

    _client: QoroClient | None
    _api_url: str
    _dialect: Dialect

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}

    @property
    def client(self) -> QoroClient:
        """The client that reaches the service."""
        if self._client is None:
            self._client = QoroClient(api_url=self._api_url, dialect=self._dialect)
        return self._client


class QoroJob(Reconnecting, JobV1):
    """A job on the Qoro Service; ``job_id()`` is the service's own job id.

    Args:
        backend: the backend that ran it, or ``None`` when only the id is known.
        job_id: the Qoro job id.
        client: the client that reaches the service.
        headers: one per submitted circuit, in submission order (``None``: unknown).
        shots: the shots asked of every circuit (``None``: unknown); a histogram that
            counts any other number is corrupt.
        memory: whether results carry per-shot memory (see :meth:`result`).
        polling_interval: first pause between status checks in :meth:`result`.
        timeout: default seconds :meth:`result` waits; ``None`` waits as long as it takes.

    A pickled job carries no token; unpickled, it reconnects with the environment's
    (see :class:`Reconnecting`).
    """

    def __init__(
        self,
        backend: QoroBackend | None,
        job_id: str,
        *,
        client: QoroClient,
        headers: Sequence[ExperimentHeader] | None = None,
        shots: int | None = None,
        memory: bool = False,
        polling_interval: float = 1.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(backend, job_id)
        self._client = client
        self._api_url = client.api_url
        self._dialect = client.dialect
        self._headers = None if headers is None else tuple(headers)
        self._shots = shots
        self._memory = memory
        self._polling_interval = polling_interval
        self._timeout = timeout
        self._result: Result | None = None

    def __repr__(self) -> str:
        system = self._backend.name if self._backend is not None else "unknown system"
        return f"<QoroJob({self._job_id!r}) on {system}>"

    def submit(self) -> None:
        """Not needed: ``QoroBackend.run`` submits the job before returning it."""
        raise JobError(f"job {self._job_id} was submitted when it was created")

    def status(self) -> JobStatus:
        """The job's status, asked of the service (no call once a result is held)."""
        if self._result is not None:
            return JobStatus.DONE
        # A status this version does not know is not final: the job is still running.
        return _QISKIT_STATUS.get(self.client.job_status(self._job_id).status, JobStatus.RUNNING)

    def cancel(self) -> None:
        """Ask the service to cancel the job; ``JobNotCancellableError`` once it is final."""
        self.client.cancel_job(self._job_id)

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
            self.client.wait_for_job(
                self._job_id,
                timeout=self._timeout if timeout is None else timeout,
                polling_interval=self._polling_interval if wait is None else wait,
            )
            self._result = self._to_result(self.client.job_results(self._job_id))
        return self._result

    def _to_result(self, raw: Mapping[str, CircuitResult]) -> Result:
        headers = ExperimentHeader.unknown(list(raw)) if self._headers is None else self._headers
        results = matched(self._job_id, [h.label for h in headers], raw)
        experiments = [
            _experiment(self._job_id, position, header, result, self._shots, self._memory)
            for position, (header, result) in enumerate(zip(headers, results, strict=True))
        ]
        return Result(
            backend_name=self._backend.name if self._backend is not None else None,
            backend_version=__version__,
            job_id=self._job_id,
            success=True,
            results=experiments,
            status=QoroJobStatus.COMPLETED.value,
            metadata={"qoro_job_id": self._job_id},
        )


def _experiment(
    job_id: str,
    position: int,
    header: ExperimentHeader,
    result: CircuitResult,
    shots: int | None,
    memory: bool,
) -> ExperimentResult:
    """One circuit's result: outcomes become hex counts (and memory), expectation values
    are kept by term as ``expectation_values``; counted shots must be the shots asked."""
    if isinstance(result, ExpectationValues):
        data = ExperimentResultData(expectation_values=result.to_dict())
        return ExperimentResult(shots=0, success=True, data=data, header=_header_dict(header, 0))
    width = _outcome_width(job_id, header, result)
    if shots is not None and result.num_shots != shots:
        raise CorruptResultError(
            f"job {job_id}: circuit {header.label!r} counts {result.num_shots} shots, "
            f"but {shots} were asked"
        )
    layout = result.shuffled(shot_order(job_id, position)).hex_memory() if memory else None
    return ExperimentResult(
        shots=result.num_shots,
        success=True,
        data=ExperimentResultData(counts=result.hex_counts(), memory=layout),
        header=_header_dict(header, width),
    )


def _outcome_width(job_id: str, header: ExperimentHeader, outcomes: Outcomes) -> int:
    """Classical bits per outcome; outcomes that disagree with the circuit are corruption."""
    expected = header.memory_slots
    if expected is not None and len(outcomes.values) and outcomes.num_bits != expected:
        raise CorruptResultError(
            f"job {job_id}: circuit {header.label!r} has outcomes of [{outcomes.num_bits}] "
            f"bits, expected {expected}"
        )
    return expected if expected is not None else outcomes.num_bits


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
