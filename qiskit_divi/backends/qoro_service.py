"""``QoroService``: Divi's documented client for Qoro Quantum's cloud, over :class:`QoroClient`.

A thin adapter: it turns circuits into checked OpenQASM 2, accepts one job id or many
wherever the Backends Guide passes them, and shows a progress bar while it waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, overload

from qiskit import QuantumCircuit

from ..circuits import CircuitLike, labelled, to_circuit, to_qasm, to_qasm_template
from ..exceptions import (
    AuthenticationError,
    InvalidCircuitError,
    InvalidInputError,
    InvalidTypeError,
    QoroConnectionError,
    QoroError,
)
from ..options import positive_seconds
from ..qoro.bulk import for_each
from ..qoro.client import CircuitTemplate, QoroClient
from ..qoro.codec import (
    CircuitResult,
    ExpectationValues,
    decode_observables,
    encode_observables,
)
from ..qoro.execution import SubmissionPlan
from ..qoro.polling import ProgressBar, wait_until_final
from ..qoro.protocol import (
    DEFAULT_SYSTEM,
    CreditBalance,
    CreditTransactionPage,
    Dialect,
    JobStatusReport,
    JobType,
    QoroJobStatus,
    QPUSystem,
    SimulatorCluster,
)
from .circuit_runner import CircuitRunner, ParameterSets, checked_parameter_sets

JobIds = str | Iterable[str]
Observables = str | Sequence[str] | Mapping[str, str | Sequence[str]]
"""Terms for every circuit (``"ZZI;XXY"`` or a list), or a mapping label -> terms."""

log = logging.getLogger(__name__)


class QoroService(CircuitRunner):
    """Runs circuits on Qoro Quantum's cloud: simulator clusters and QPUs.

    Args:
        auth_token: the API token; else, with its URL, ``QORO_API_KEY`` from the
            environment or a ``.env`` file in the working directory, else the saved
            account ``"default"`` (:mod:`qiskit_divi.accounts`).
        shots: measurements per circuit.
        polling_interval: seconds between the first status polls while waiting; later
            polls slow down gently.
        api_url: the service's base URL; else the URL found with the token, else the
            public service.
        system_name: the system jobs run on unless ``submit_circuits`` names another.
        request_timeout: seconds each HTTP request may wait.
        max_retry_time: seconds a failing request keeps being retried.
        dialect: the wire dialect, ``"2026"`` (today's service, the default) or
            ``"2025"`` (the Backends Guide's); see :doc:`/protocol`.
    """

    def __init__(
        self,
        auth_token: str | None = None,
        shots: int = 1000,
        polling_interval: float = 3.0,
        api_url: str | None = None,
        *,
        system_name: str = DEFAULT_SYSTEM,
        request_timeout: float = 30.0,
        max_retry_time: float = 60.0,
        dialect: Dialect | str | int = Dialect.V2026,
    ) -> None:
        super().__init__(shots)
        self.polling_interval = positive_seconds("polling_interval", polling_interval)
        self.system_name = system_name
        self._client = QoroClient(
            auth_token,
            api_url,
            request_timeout=request_timeout,
            max_retry_time=max_retry_time,
            dialect=dialect,
        )

    def __repr__(self) -> str:
        return (
            f"QoroService(api_url={self._client.api_url!r}, shots={self.shots}, "
            f"system_name={self.system_name!r})"
        )

    @property
    def client(self) -> QoroClient:
        """The HTTP client underneath, for everything this class does not wrap."""
        return self._client

    def test_connection(self) -> None:
        """Check the service is reachable and accepts the token.

        Raises:
            QoroConnectionError: (a builtin ``ConnectionError``) it is unreachable or
                refused the token.
        """
        try:
            self._client.ping()
        except AuthenticationError as err:
            raise QoroConnectionError(
                f"the Qoro Service at {self._client.api_url} refused the API token "
                f"(HTTP {err.status_code}): check QORO_API_KEY"
            ) from err

    def fetch_qpu_systems(self) -> list[QPUSystem]:
        """The QPU systems this token may use."""
        return self._client.fetch_qpu_systems()

    def fetch_simulator_clusters(self) -> list[SimulatorCluster]:
        """The simulator clusters this token may use."""
        return self._client.fetch_simulator_clusters()

    def get_credit_balance(self) -> CreditBalance:
        """The token's credit balance and how much it has used."""
        return self._client.get_credit_balance()

    def get_credit_transactions(self, page: int = 1, page_size: int = 20) -> CreditTransactionPage:
        """One page (from 1; at most 100 a page) of the token's credit history."""
        return self._client.get_credit_transactions(page, page_size)

    @overload
    def submit_circuits(
        self,
        circuits: Mapping[str, CircuitLike],
        job_type: JobType = ...,
        tag: str = ...,
        observables: Observables | None = ...,
        *,
        shots: int | Mapping[str, int] | None = ...,
        system_name: str | None = ...,
        dry_run: Literal[False] = ...,
    ) -> str: ...

    @overload
    def submit_circuits(
        self,
        circuits: Mapping[str, CircuitLike],
        job_type: JobType = ...,
        tag: str = ...,
        observables: Observables | None = ...,
        *,
        shots: int | Mapping[str, int] | None = ...,
        system_name: str | None = ...,
        dry_run: Literal[True],
    ) -> SubmissionPlan: ...

    def submit_circuits(
        self,
        circuits: Mapping[str, CircuitLike],
        job_type: JobType = JobType.SIMULATE,
        tag: str = "default",
        observables: Observables | None = None,
        *,
        shots: int | Mapping[str, int] | None = None,
        system_name: str | None = None,
        dry_run: bool = False,
    ) -> str | SubmissionPlan:
        """Submit labelled circuits as ONE job and return its id.

        Everything is checked before anything is sent: each circuit (OpenQASM 2 text or
        a ``QuantumCircuit``) must export to OpenQASM 2; a ``CIRCUIT_CUT`` job takes one
        circuit. ``shots`` (by default :attr:`shots`) is one count for every circuit or a
        mapping label -> shots (2026 wire: ``shot_groups``). An ``ESTIMATE`` job needs
        ``observables``: terms for every circuit (``"ZZI;XXY"`` or a list of terms,
        leftmost character on qubit 0), or a mapping label -> terms (2026 wire: one
        observable group per run of circuits), each as wide as its circuit.

        With ``dry_run``, the job is checked and planned but not sent: its
        :class:`~qiskit_divi.qoro.execution.SubmissionPlan` is returned instead of an id.
        """
        circuits = labelled(circuits)
        terms = _terms_by_label(observables, circuits)
        qasm = {}
        for label, circuit in circuits.items():
            # Text is checked by parsing it, once; a circuit is exported, never read back.
            parsed = to_circuit(label, circuit)
            qasm[label] = circuit if isinstance(circuit, str) else to_qasm(label, parsed)
            if terms is not None:
                _check_width(label, parsed, terms[label])
        how: dict[str, Any] = {
            "job_type": job_type,
            "shots": self.shots if shots is None else shots,
            "tag": tag,
            "system_name": system_name or self.system_name,
            "observables": _wire_observables(terms),
        }
        if dry_run:
            return SubmissionPlan((self._client.plan_job(qasm, **how),))
        return self._client.submit_job(qasm, **how)

    def submit_parameter_sets(
        self,
        circuit: QuantumCircuit,
        parameter_sets: ParameterSets,
        job_type: JobType = JobType.SIMULATE,
        tag: str = "default",
        observables: str | Sequence[str] | None = None,
        *,
        shots: int | None = None,
        system_name: str | None = None,
    ) -> str:
        """Submit one parametric circuit, run once per row of values, as ONE job; its
        results are keyed by row label.

        ``parameter_sets`` maps a row label to a value for each of ``circuit.parameters``,
        in that order (:class:`~qiskit_divi.backends.ParallelSimulator` takes the same).
        On the 2026 wire the circuit travels once, as a template that names its
        parameters, with a row of values per set; a circuit no template can carry (see
        :func:`~qiskit_divi.circuits.to_qasm_template`), and any on the 2025 wire,
        travels as one bound circuit per row. Other arguments as :meth:`submit_circuits`.
        """
        rows = checked_parameter_sets(circuit, parameter_sets)
        count = self.shots if shots is None else shots
        terms = None if observables is None else _terms(observables)
        if terms is not None:
            _check_width(circuit.name, circuit, terms)
        wire_terms = None if terms is None else encode_observables(terms)
        template = None
        if self._client.dialect is Dialect.V2026:
            try:
                template = to_qasm_template(circuit.name, circuit)
            except InvalidCircuitError as err:
                log.info("sending bound circuits instead of a template: %s", err)
        options: dict[str, Any] = {
            "job_type": job_type,
            "shots": count,
            "tag": tag,
            "system_name": system_name or self.system_name,
        }
        if template is None:
            bound = {
                label: to_qasm(label, circuit.assign_parameters(values))
                for label, values in rows.items()
            }
            return self._client.submit_job(bound, observables=wire_terms, **options)
        wire_template = CircuitTemplate(
            template.qasm, template.parameter_names, rows, observables=wire_terms
        )
        return self._client.submit_job({}, templates=[wire_template], **options)

    def get_job_status(self, job_ids: JobIds) -> list[QoroJobStatus]:
        """The status of each job, in order."""
        return [self._client.job_status(job_id).status for job_id in _ids(job_ids)]

    def poll_job_status(
        self,
        job_ids: JobIds,
        loop_until_complete: bool = False,
        timeout: float | None = None,
        poll_callback: Callable[[list[QoroJobStatus]], None] | None = None,
        progress: bool | None = None,
    ) -> list[QoroJobStatus]:
        """The status of each job; with ``loop_until_complete``, once all are final.

        While looping, ``poll_callback`` sees the statuses after each poll and a
        progress bar is drawn (by default only when stderr is a terminal).

        Raises:
            JobTimeoutError: some job is not final after ``timeout`` seconds.
        """
        ids = _ids(job_ids)
        if not loop_until_complete:
            return self.get_job_status(ids)
        with ProgressBar(len(ids), enabled=progress) as bar:

            def on_poll(reports: list[JobStatusReport]) -> None:
                bar(reports)
                if poll_callback is not None:
                    poll_callback([report.status for report in reports])

            reports = wait_until_final(
                ids,
                self._client.job_status,
                timeout=timeout,
                polling_interval=self.polling_interval,
                on_poll=on_poll,
            )
        return [report.status for report in reports]

    def get_job_results(self, job_ids: JobIds) -> list[dict[str, Any]]:
        """Every circuit's ``{"label", "results"}``, job after job, as ParallelSimulator
        returns them; results are counts by bitstring (classical bit 0 rightmost), or
        expectation values by term. Jobs are fetched a few at a time.

        Raises:
            JobFailedError: a job FAILED; the server's reason is in the message.
            JobCancelledError: a job was cancelled.
            JobNotFinishedError: a job is still running.
        """
        fetched = for_each(self._client.job_results, _ids(job_ids))
        failed = next((each for each in fetched if isinstance(each, QoroError)), None)
        if failed is not None:
            raise failed
        return [
            {"label": label, "results": _rendered(results)}
            for each in fetched
            if not isinstance(each, QoroError)
            for label, results in each.items()
        ]

    def cancel_job(self, job_ids: JobIds) -> list[dict]:
        """Cancel each job; the service's answer for each.

        Raises:
            JobNotCancellableError: a job had already finished.
        """
        return [self._client.cancel_job(job_id) for job_id in _ids(job_ids)]

    def delete_job(self, job_ids: JobIds) -> None:
        """Delete each job and its results."""
        for job_id in _ids(job_ids):
            self._client.delete_job(job_id)


def _rendered(results: CircuitResult) -> dict[str, Any]:
    if isinstance(results, ExpectationValues):
        return results.to_dict()
    return results.get_counts()


def _ids(job_ids: JobIds) -> list[str]:
    """One id or many, as a list; a string is one id."""
    if not isinstance(job_ids, str | Iterable):
        raise InvalidTypeError(f"job ids must be a string or a list of strings, got {job_ids!r}")
    ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
    if not ids:
        raise InvalidInputError("no job ids given")
    for job_id in ids:
        if not isinstance(job_id, str):
            raise InvalidTypeError(f"job ids must be strings, got {job_id!r}")
    return ids


def _terms_by_label(
    observables: Observables | None, circuits: Mapping[str, CircuitLike]
) -> dict[str, list[str]] | None:
    """Each circuit's terms: the same for all, or given by label (exactly the circuits')."""
    if observables is None:
        return None
    if not isinstance(observables, Mapping):
        return dict.fromkeys(circuits, _terms(observables))
    if set(observables) != set(circuits):
        differ = sorted(set(circuits) ^ set(observables))
        raise InvalidInputError(
            f"observables by label must name exactly the circuits; {differ[:5]} differ"
        )
    return {label: _terms(observables[label]) for label in circuits}


def _wire_observables(terms: Mapping[str, list[str]] | None) -> str | dict[str, str] | None:
    """Terms as the client takes them: one string when every circuit shares them."""
    if terms is None:
        return None
    texts = {label: encode_observables(each) for label, each in terms.items()}
    shared = set(texts.values())
    return shared.pop() if len(shared) == 1 else texts


def _check_width(label: str, circuit: QuantumCircuit, terms: list[str]) -> None:
    if circuit.num_qubits != len(terms[0]):
        raise InvalidCircuitError(
            label, f"has {circuit.num_qubits} qubits but the observables act on {len(terms[0])}"
        )


def _terms(observables: str | Sequence[str]) -> list[str]:
    if isinstance(observables, str):
        return decode_observables(observables)
    encode_observables(observables)
    return list(observables)
