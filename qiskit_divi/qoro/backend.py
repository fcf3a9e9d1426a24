"""QoroBackend: one Qoro system (a simulator cluster or a QPU system) as a Qiskit ``BackendV2``.

Circuits travel as OpenQASM 2, so the ``Target`` offers the gates of ``qelib1.inc`` on
every qubit (the service publishes no coupling map) and ``run`` submits one Qoro job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, overload

from qiskit import QuantumCircuit
from qiskit.circuit import Measure, Reset
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target

from ..configuration import BackendConfiguration, configuration_of
from ..exceptions import (
    InvalidInputError,
    InvalidTypeError,
)
from ..execution import SampleWork
from ..options import OptionTable, flag, no_seed, optional_seconds, positive_int, positive_seconds
from ..version import __version__
from .client import QoroClient
from .execution import QoroExecution, SubmissionPlan
from .job import ExperimentHeader, QoroJob
from .protocol import (
    DEVICE_SETTINGS,
    QELIB1_GATES,
    SIMULATOR_SETTINGS,
    JobType,
    QPUSystem,
    SimulatorCluster,
)
from .reconnecting import Reconnecting
from .rules import submission_label

#: Job types ``run`` can send: all of them return histograms. Expectation jobs need
#: observables and go through the estimator.
_SAMPLING_JOB_TYPES = (JobType.SIMULATE, JobType.EXECUTE, JobType.CIRCUIT_CUT)


class QoroBackend(Reconnecting, BackendV2):
    """A Qoro system as a Qiskit backend, named after the system.

    Args:
        system: the system as the service lists it.
        client: the client that reaches the service.
        provider: the provider that listed the backend, if any.
        options: initial values of the run options (see :meth:`run`).

    A copy (``copy.deepcopy``) has options of its own and shares the client, and so the
    credentials. A pickled backend carries neither token nor provider; unpickled, it
    reconnects with the environment's token (see
    :class:`~qiskit_divi.qoro.reconnecting.Reconnecting`).
    """

    def __init__(
        self,
        system: QPUSystem | SimulatorCluster,
        client: QoroClient,
        *,
        provider: object | None = None,
        **options: Any,
    ) -> None:
        kind = "simulator cluster" if isinstance(system, SimulatorCluster) else "QPU system"
        super().__init__(
            provider=provider,
            name=system.name,
            description=f"Qoro {kind} {system.name!r}",
            backend_version=__version__,
        )
        self._system = system
        self._connect(client)
        self._target = _qelib1_target(system.num_qubits, self.description)
        self.set_options(**{"job_type": self.default_job_type, **options})

    def __repr__(self) -> str:
        return f"<QoroBackend({self.name!r}) at {self._api_url}>"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its client (see :class:`Reconnecting`) and its provider."""
        return {**super().__getstate__(), "_provider": None}

    @classmethod
    def _default_options(cls) -> Options:
        """Run options; ``job_type`` is set to the system's default when a backend is made."""
        return _OPTIONS.defaults()

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> int | None:
        """``None``: one job takes any number of circuits (they are uploaded in chunks),
        except a circuit-cutting job, which takes one."""
        return 1 if self.options.job_type is JobType.CIRCUIT_CUT else None

    def configuration(self) -> BackendConfiguration:
        """The legacy description some libraries still read (mthree), from the target."""
        return configuration_of(self, simulator=self.simulator, local=False)

    @property
    def execution(self) -> QoroExecution:
        """Where runs and qiskit-divi's primitives submit their work (see
        :mod:`qiskit_divi.execution`), with the run options as they are now."""
        return self._execution(dict(self.options.items()))

    def _execution(self, settings: dict[str, Any], *, one_job: bool = False) -> QoroExecution:
        return QoroExecution(
            self.client,
            self.name,
            num_qubits=self.num_qubits,
            supports_expval=self._system.supports_expval,
            job_type=settings["job_type"],
            tag=settings["tag"],
            polling_interval=settings["polling_interval"],
            timeout=settings["timeout"],
            one_job=one_job,
            maestro_config=settings["maestro_config"],
            device_config=settings["device_config"],
        )

    @property
    def system(self) -> QPUSystem | SimulatorCluster:
        """The system as the service lists it."""
        return self._system

    @property
    def simulator(self) -> bool:
        """Whether the system is a simulator cluster (rather than QPU hardware)."""
        return isinstance(self._system, SimulatorCluster)

    @property
    def operational(self) -> bool:
        """Simulator clusters always are; a QPU system is while one of its QPUs is online."""
        system = self._system
        return isinstance(system, SimulatorCluster) or any(qpu.online for qpu in system.qpus)

    @property
    def default_job_type(self) -> JobType:
        """SIMULATE on a simulator cluster, EXECUTE on QPU hardware."""
        return JobType.SIMULATE if self.simulator else JobType.EXECUTE

    def set_options(self, **fields: Any) -> None:
        """Set run options; each value is checked here, so a bad one fails at once.

        Raises:
            UnknownOptionError: an option this backend does not have (an ``AttributeError``).
        """
        checked = _OPTIONS.checked(fields, self.name)
        self._check_settings(checked)
        super().set_options(**checked)

    def _check_settings(self, options: Mapping[str, Any]) -> None:
        """Refuse the settings of the other kind of target (``maestro_config`` are a
        simulator cluster's, ``device_config`` a QPU system's) before anything is sent."""
        wrong = DEVICE_SETTINGS if self.simulator else SIMULATOR_SETTINGS
        if options.get(wrong) is not None:
            kind = "a simulator cluster" if self.simulator else "a QPU system"
            right = SIMULATOR_SETTINGS if self.simulator else DEVICE_SETTINGS
            raise InvalidInputError(
                f"{wrong} does not apply to {self.name!r}, {kind}; use {right}"
            )

    @overload
    def run(
        self,
        run_input: QuantumCircuit | Sequence[QuantumCircuit],
        *,
        dry_run: Literal[False] = ...,
        **options: Any,
    ) -> QoroJob: ...

    @overload
    def run(
        self,
        run_input: QuantumCircuit | Sequence[QuantumCircuit],
        *,
        dry_run: Literal[True],
        **options: Any,
    ) -> SubmissionPlan: ...

    def run(
        self,
        run_input: QuantumCircuit | Sequence[QuantumCircuit],
        *,
        dry_run: bool = False,
        **options: Any,
    ) -> QoroJob | SubmissionPlan:
        """Submit circuits as ONE Qoro job and return it at once.

        Options (defaults in :attr:`options`): ``shots``; ``job_type`` (SIMULATE,
        EXECUTE or CIRCUIT_CUT; by default the system's); ``tag``; ``memory`` (per-shot
        outcomes, see :meth:`QoroJob.result`); ``polling_interval`` and ``timeout`` (how
        ``result()`` waits); ``maestro_config`` (a simulator cluster's settings, e.g.
        ``{"simulation_type": 1}``) or ``device_config`` (a QPU system's, e.g.
        ``{"TRANSPILE_LEVEL": 3}``), sent in ``job/init/`` on the 2026 wire and refused
        on the other kind of system. ``seed_simulator`` must stay ``None``: the service
        takes no seed. What Qiskit libraries pass to any backend is taken as by the simulator:
        ``meas_level=2``, ``init_qubits=True`` and ``meas_return`` are accepted, any other
        option is ignored with a :class:`~qiskit_divi.exceptions.DiviWarning` naming it.
        Circuits must have bound parameters and fit the system's width.

        With ``dry_run``, everything is checked and planned but nothing is sent: the
        :class:`~qiskit_divi.qoro.execution.SubmissionPlan` is returned instead of a job.

        Raises:
            InvalidCircuitError: a circuit cannot be sent (it and the instruction named),
                or measures nothing.
            CircuitTooWideError: a circuit is wider than the system.
            InvalidInputError: an option asks for what no run does (``meas_level=1``,
                ``init_qubits=False``, a ``noise_model``).
        """
        circuits = _circuit_list(run_input)
        settings = {**dict(self.options.items()), **_OPTIONS.for_run(options, self.name)}
        self._check_settings(settings)
        labels = [submission_label(index, circuit) for index, circuit in enumerate(circuits)]
        work = [
            SampleWork(circuit, settings["shots"], label=label)
            for circuit, label in zip(circuits, labels, strict=True)
        ]
        execution = self._execution(settings, one_job=True)
        if dry_run:
            return execution.plan_sample(
                work, seed=settings["seed_simulator"], memory=settings["memory"]
            )
        handle = execution.sample(work, seed=settings["seed_simulator"], memory=settings["memory"])
        headers = map(ExperimentHeader.of, labels, circuits)
        return QoroJob(self, handle, headers=list(headers))


def _qelib1_target(num_qubits: int, description: str) -> Target:
    """Every ``qelib1.inc`` gate, measure and reset on every qubit, ideal (no properties)."""
    target = Target(description=description, num_qubits=num_qubits)
    gates = get_standard_gate_name_mapping()
    for name in QELIB1_GATES:
        target.add_instruction(gates[name])
    target.add_instruction(Measure())
    target.add_instruction(Reset())
    return target


def _circuit_list(run_input: object) -> list[QuantumCircuit]:
    circuits = [run_input] if isinstance(run_input, QuantumCircuit) else run_input
    if not isinstance(circuits, Sequence) or isinstance(circuits, str):
        raise InvalidTypeError(
            f"run() takes a QuantumCircuit or a list of them, got {type(run_input).__name__}"
        )
    if not circuits:
        raise InvalidInputError("run() got no circuits")
    for index, circuit in enumerate(circuits):
        if not isinstance(circuit, QuantumCircuit):
            raise InvalidTypeError(
                f"run() input #{index} is a {type(circuit).__name__}, not a QuantumCircuit"
            )
    return list(circuits)


# -- option checks: one per option, used by set_options and run (see run_options) ------


def _job_type(value: object) -> JobType:
    if isinstance(value, str):
        by_name = JobType.__members__.get(value.upper())
        value = by_name if by_name is not None else JobType.from_wire(value)
    if not isinstance(value, JobType):
        raise InvalidTypeError(f"job_type must be a JobType, got {value!r}")
    if value not in _SAMPLING_JOB_TYPES:
        raise InvalidInputError(
            f"job_type {value.name} returns no counts, so run() cannot send it; "
            "expectation values come from EstimatorV2"
        )
    return value


def _tag(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"tag must be a non-empty string, got {value!r}")
    return value


def _settings(name: str, value: object) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, Mapping):
        raise InvalidTypeError(f"{name} must be a mapping of settings, got {value!r}")
    return None if value is None else dict(value)


#: Each run option, its default and the check of its values; ``job_type`` is set to the
#: system's default when a backend is made.
_OPTIONS = OptionTable(
    shots=(1024, lambda value: positive_int("shots", value)),
    job_type=(None, _job_type),
    tag=("default", _tag),
    memory=(False, lambda value: flag("memory", value)),
    seed_simulator=(None, no_seed),
    polling_interval=(1.0, lambda value: positive_seconds("polling_interval", value)),
    timeout=(None, lambda value: optional_seconds("timeout", value)),
    maestro_config=(None, lambda value: _settings(SIMULATOR_SETTINGS, value)),
    device_config=(None, lambda value: _settings(DEVICE_SETTINGS, value)),
)
