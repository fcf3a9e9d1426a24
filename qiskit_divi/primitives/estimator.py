"""EstimatorV2: Qiskit's estimator primitive, native on the parallel simulator and on Qoro.

Every PUB is reduced to a table of values per (parameter set, observable), from which
its broadcast shape picks ``evs`` and ``stds``. Where the table comes from:

- ParallelSimulatorBackend, precision 0 (the default): exact values of each observable
  from the engine (statevector, or density matrix under noise; a circuit that measures
  mid-circuit is the mean over its outcomes), every PUB in one batch with its parameter
  sets bound inside Aer, no sampling;
- ParallelSimulatorBackend, precision > 0: ``ceil(1 / precision**2)`` shots of one
  circuit per qubit-wise-commuting group of Pauli terms, measuring only the qubits the
  group acts on; ``stds`` are the standard errors measured from those shots. Under
  noise these estimates also see the readout errors of those measurements and the noise
  of the basis-change gates, as a device would; exact values see the noise of the
  circuit's own gates and measurements only;
- QoroBackend: ESTIMATE jobs, one per circuit width and shot count, carrying the Pauli
  terms (big-endian on the wire); the service returns a value per term, combined here
  with the coefficients. It reports no spread, so ``stds`` are the precision asked for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, BasePrimitiveJob, PrimitiveJob
from qiskit.primitives.containers import DataBin, EstimatorPubLike, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import PauliList, SparsePauliOp

from ..exceptions import CorruptResultError, InvalidInputError
from ..options import check_seed, non_negative_real, options_of
from ..outcomes import Outcomes
from ..qoro.backend import QoroBackend
from ..qoro.codec import CircuitResult, ExpectationValues
from ..qoro.protocol import JobType
from ..simulator.dynamic import without_final_measurements
from ..simulator.engine import ExpectationBatch, SampleBatch, SimulationEngine
from ..simulator.runs import SampleResult
from .backends import (
    Mode,
    QoroGroup,
    batch_seed,
    check_mode,
    grouped,
    parameter_rows,
    pub_circuits,
    qoro_mode,
    submit_groups,
)
from .job import Finish, QoroPrimitiveJob

#: The classical register a sampled estimate measures into.
_BASIS_REGISTER = "basis"


@dataclass
class Options:
    """Options for :class:`EstimatorV2`."""

    default_precision: float = 0.0
    """Precision per PUB when neither :meth:`~EstimatorV2.run` nor the PUB says.
    Default: 0.0, exact expectation values where the backend can compute them."""

    seed: int | None = None
    """Makes sampled estimates on a simulator reproducible (``None``: fresh each run);
    Qoro systems take no seed, so on a QoroBackend it must stay ``None``."""

    def __post_init__(self) -> None:
        self.default_precision = non_negative_real("default_precision", self.default_precision)
        check_seed(self.seed)


class EstimatorV2(BaseEstimatorV2):
    """Estimates expectation values on a ParallelSimulatorBackend or a QoroBackend.

    Each PUB ``(circuit, observables, parameter_values, precision)`` gives ``evs`` and
    ``stds`` shaped like the broadcast of its observables and parameter values.

    Args:
        mode: the backend to run on.
        options: an :class:`~qiskit_divi.primitives.estimator.Options` or a dict of its fields.
    """

    def __init__(self, mode: Mode, *, options: Options | Mapping[str, Any] | None = None) -> None:
        self._backend = check_mode(mode, "EstimatorV2")
        self._options = options_of(Options, options, "EstimatorV2")

    def __repr__(self) -> str:
        return f"EstimatorV2(mode={self._backend.name!r}, options={self._options})"

    @property
    def backend(self) -> Mode:
        """The backend this estimator runs on."""
        return self._backend

    @property
    def options(self) -> Options:
        """The estimator's options."""
        return self._options

    def run(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> BasePrimitiveJob[PrimitiveResult[PubResult], Any]:
        """Estimate each PUB; every input is checked before anything runs or is sent.

        Raises:
            ValueError: a PUB is malformed (Qiskit's own checks: parameter count,
                observables as wide as the circuit, precision >= 0, ...).
            CircuitTooWideError: a circuit is wider than the backend.
            InvalidInputError: a Qoro system that computes no expectation values.
        """
        if precision is None:
            precision = self._options.default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        if isinstance(self._backend, QoroBackend):
            return self._run_on_qoro(self._backend, coerced)
        batches = _simulator_batches(self._backend.engine, coerced, self._options.seed)
        job = PrimitiveJob(_estimate_on_simulator, coerced, batches)
        job._submit()
        return job

    def retrieve_job(
        self,
        job_id: str | Sequence[str],
        pubs: Iterable[EstimatorPubLike],
        *,
        precision: float | None = None,
    ) -> QoroPrimitiveJob:
        """The job :meth:`run` returned for these PUBs on a QoroBackend, rebuilt anywhere.

        Give ``job_id()`` of the lost job (or its Qoro job ids) and the same PUBs and
        ``precision``: the service keeps each term's value, the PUBs say how they combine.

        Raises:
            InvalidInputError: this estimator runs on the local simulator, or the ids do
                not match how these PUBs are split into Qoro jobs.
            JobNotFoundError: the service knows no such job.
        """
        backend = qoro_mode(self._backend)
        if precision is None:
            precision = self._options.default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        groups = _qoro_groups(coerced)
        return QoroPrimitiveJob.retrieve(
            backend, job_id, [group.labels for group in groups], _qoro_finish(coerced)
        )

    def _run_on_qoro(self, backend: QoroBackend, pubs: list[EstimatorPub]) -> QoroPrimitiveJob:
        if self._options.seed is not None:
            raise InvalidInputError(
                f"seed={self._options.seed}: Qoro systems take no seed; leave it None"
            )
        if not backend.system.supports_expval:
            raise InvalidInputError(
                f"Qoro system {backend.name!r} does not compute expectation values "
                "(supports_expval is false); sample it with SamplerV2 instead"
            )
        groups = _qoro_groups(pubs)
        job_ids = submit_groups(backend, groups)
        return QoroPrimitiveJob(
            backend, job_ids, [group.labels for group in groups], _qoro_finish(pubs)
        )


@dataclass(frozen=True)
class _Terms:
    """A PUB's distinct Pauli terms (Qiskit labels) and each observable's coefficients.

    ``coefficients[o, j]`` is the coefficient of ``paulis[j]`` in the ``o``-th observable
    of the PUB (observables flattened in C order).
    """

    paulis: list[str]
    coefficients: np.ndarray

    @classmethod
    def of(cls, pub: EstimatorPub) -> _Terms:
        observables = np.asarray(pub.observables).ravel()
        paulis = sorted({label for observable in observables for label in observable})
        column = {label: j for j, label in enumerate(paulis)}
        coefficients = np.zeros((observables.size, len(paulis)))
        for o, observable in enumerate(observables):
            for label, coefficient in observable.items():
                coefficients[o, column[label]] = coefficient
        return cls(paulis, coefficients)


def _pub_result(
    pub: EstimatorPub, evs: np.ndarray, variances: np.ndarray | None, metadata: dict[str, Any]
) -> PubResult:
    """``evs`` and ``variances`` given per (parameter set, observable), gathered into the
    PUB's broadcast shape."""
    param_index = np.arange(pub.parameter_values.size).reshape(pub.parameter_values.shape)
    observable_index = np.arange(pub.observables.size).reshape(pub.observables.shape)
    rows, columns = np.broadcast_arrays(param_index, observable_index)
    if variances is None:
        stds = np.full(rows.shape, float(pub.precision))
    else:
        stds = np.sqrt(variances[rows, columns])
    return PubResult(
        DataBin(evs=evs[rows, columns], stds=stds, shape=rows.shape),
        metadata={
            "target_precision": pub.precision,
            "circuit_metadata": pub.circuit.metadata,
            **metadata,
        },
    )


# -- the pipeline on the simulator -------------------------------------------------------


@dataclass(frozen=True)
class _SampledBatch:
    """The PUBs estimated from ``shots`` shots: their terms, their measurement groups,
    and the batch measuring them."""

    indices: list[int]
    shots: int
    terms: list[_Terms]
    groups: list[list[tuple[str, list[int]]]]
    batch: SampleBatch


@dataclass(frozen=True)
class _SimulatorBatches:
    """Checked engine batches for one run: the exact PUBs, and the sampled ones."""

    exact: list[int]
    exact_batch: ExpectationBatch
    sampled: list[_SampledBatch]


def _simulator_batches(
    engine: SimulationEngine, pubs: list[EstimatorPub], seed: int | None
) -> _SimulatorBatches:
    """Every PUB's circuits handed to the engine with their parameter sets (bound inside
    Aer): exact PUBs in one batch, sampled ones in one batch per shot count."""
    exact = [i for i, pub in enumerate(pubs) if pub.precision == 0]
    exact_batch = engine.prepare_expectation_values(
        [pubs[i].circuit for i in exact],
        [_operators(pubs[i]) for i in exact],
        parameter_values=[parameter_rows(pubs[i]) for i in exact],
    )
    sampled = [i for i, pub in enumerate(pubs) if pub.precision > 0]
    by_shots = grouped([_shots(pubs[i].precision) for i in sampled])
    batches = []
    for position, (shots, positions) in enumerate(by_shots.items()):
        indices = [sampled[k] for k in positions]
        terms = [_Terms.of(pubs[i]) for i in indices]
        groups = [_commuting_groups(pub_terms.paulis) for pub_terms in terms]
        circuits, rows = [], []
        for i, pub_groups in zip(indices, groups, strict=True):
            circuits += [_measured_in_basis(pubs[i].circuit, basis) for basis, _ in pub_groups]
            rows += [parameter_rows(pubs[i])] * len(pub_groups)
        batch = engine.prepare_sample(
            circuits, shots=shots, seed=batch_seed(seed, position), parameter_values=rows
        )
        batches.append(_SampledBatch(indices, shots, terms, groups, batch))
    return _SimulatorBatches(exact, exact_batch, batches)


def _operators(pub: EstimatorPub) -> list[SparsePauliOp]:
    """The PUB's observables (flattened in C order) as operators: Aer sums each one's
    terms itself, one saved value per observable and parameter set."""
    width = pub.circuit.num_qubits
    return [
        SparsePauliOp.from_list(list(observable.items()), num_qubits=width)
        for observable in np.asarray(pub.observables).ravel()
    ]


def _estimate_on_simulator(
    pubs: list[EstimatorPub], batches: _SimulatorBatches
) -> PrimitiveResult[PubResult]:
    """Run the batches, then combine each PUB's table of term values into its results."""
    results: list[PubResult | None] = [None] * len(pubs)
    for i, evs in zip(batches.exact, batches.exact_batch.run(), strict=True):
        results[i] = _pub_result(pubs[i], evs, np.zeros_like(evs), {})
    for sampled in batches.sampled:
        samples = iter(sampled.batch.run())
        for i, terms, groups in zip(sampled.indices, sampled.terms, sampled.groups, strict=True):
            evs, variances = _sampled_moments(pubs[i], terms, groups, samples)
            results[i] = _pub_result(pubs[i], evs, variances, {"shots": sampled.shots})
    return PrimitiveResult(results, metadata={"version": 2})


def _sampled_moments(
    pub: EstimatorPub,
    terms: _Terms,
    groups: list[tuple[str, list[int]]],
    samples: Iterator[SampleResult],
) -> tuple[np.ndarray, np.ndarray]:
    """A PUB's estimates and their variances per (parameter set, observable), from its
    samples: one circuit per measurement group, each run for every parameter set; the
    identity term, which needs no measurement, adds its coefficient exactly.

    Circuits are independent, so the variances of their contributions add up.
    """
    size = (pub.parameter_values.size, pub.observables.size)
    evs, variances = np.zeros(size), np.zeros(size)
    identity = "I" * pub.circuit.num_qubits
    if identity in terms.paulis:
        evs += terms.coefficients[:, terms.paulis.index(identity)]
    for basis, members in groups:
        labels = [_on_measured(terms.paulis[j], basis) for j in members]
        for row in range(pub.parameter_values.size):
            mean, variance = _group_moments(
                next(samples).outcomes, labels, terms.coefficients[:, members]
            )
            evs[row] += mean
            variances[row] += variance
    return evs, variances


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
    name = _BASIS_REGISTER
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


def _shots(precision: float) -> int:
    """Shots that bring the standard error of a term (variance <= 1) down to ``precision``."""
    return math.ceil(1 / precision**2)


# -- the pipeline on Qoro ----------------------------------------------------------------


def _qoro_keys(pubs: list[EstimatorPub]) -> list[tuple[int, int | None]]:
    """What PUBs must share to travel in one ESTIMATE job: the width of their terms on
    the wire, and the shots (none for exact values)."""
    return [
        (pub.circuit.num_qubits, _shots(pub.precision) if pub.precision > 0 else None)
        for pub in pubs
    ]


def _qoro_groups(pubs: list[EstimatorPub]) -> list[QoroGroup]:
    """One ESTIMATE job per width and shot count, asking every term any of its PUBs needs."""
    groups = []
    for (_, shots), indices in grouped(_qoro_keys(pubs)).items():
        circuits, labels = pub_circuits(pubs, indices)
        wire_terms = tuple(sorted({_wire(p) for i in indices for p in _Terms.of(pubs[i]).paulis}))
        groups.append(QoroGroup(circuits, labels, JobType.ESTIMATE, shots, wire_terms))
    return groups


def _qoro_finish(pubs: list[EstimatorPub]) -> Finish:
    """How the jobs' values per term become these PUBs' results."""

    def finish(job_ids: list[str], results: list[list[CircuitResult]]) -> PrimitiveResult:
        values = iter(
            (job_id, value)
            for job_id, per_job in zip(job_ids, results, strict=True)
            for value in per_job
        )
        by_pub: list[PubResult | None] = [None] * len(pubs)
        for i in [i for indices in grouped(_qoro_keys(pubs)).values() for i in indices]:
            terms = _Terms.of(pubs[i])
            table = np.array(
                [
                    _term_values(*next(values), terms.paulis)
                    for _ in range(pubs[i].parameter_values.size)
                ]
            ).reshape(pubs[i].parameter_values.size, len(terms.paulis))
            by_pub[i] = _pub_result(pubs[i], table @ terms.coefficients.T, None, {})
        return PrimitiveResult(by_pub, metadata={"version": 2, "qoro_job_ids": job_ids})

    return finish


def _term_values(job_id: str, values: CircuitResult, paulis: list[str]) -> list[float]:
    """One circuit's values of ``paulis`` (Qiskit labels) from the service's values
    of its wire terms.

    Raises:
        CorruptResultError: not expectation values, or a term is missing.
    """
    if not isinstance(values, ExpectationValues):
        raise CorruptResultError(f"job {job_id}: expected values per term, got a histogram")
    by_term = values.to_dict()
    missing = next((_wire(label) for label in paulis if _wire(label) not in by_term), None)
    if missing is not None:
        raise CorruptResultError(f"job {job_id}: no value for term {missing!r}")
    return [by_term[_wire(label)] for label in paulis]


def _wire(label: str) -> str:
    """A Qiskit Pauli label (qubit 0 rightmost) as the wire writes it (qubit 0 leftmost)."""
    return label[::-1]
