"""What the local simulator imitates: Aer's ideal simulator, a noise model, or a (fake) device.

The documented ``qiskit_backend`` argument is read here, once, into a picklable
:class:`SimulatedDevice` that worker processes turn into an ``AerSimulator``.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import pickle
import uuid
from typing import Any, TypeAlias

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from ..exceptions import CircuitTooWideError, UnknownBackendError

#: ``qiskit_backend`` strings and the Aer method each one samples with.
SIMULATOR_METHODS = {"qasm_simulator": "automatic", "statevector_simulator": "statevector"}
AUTO = "auto"
#: Directives every simulator accepts although no Target lists them.
_DIRECTIVES = frozenset({"barrier"})

QiskitBackend: TypeAlias = str | BackendV2 | None


class SimulatedDevice:
    """An Aer method, plus optionally a device (its target and noise) and a noise model.

    A device pickles to a compact, cached payload and is rebuilt at most once per
    process (see :func:`_restore`), so sending it with every chunk of work is cheap.
    """

    def __init__(
        self,
        method: str = "automatic",
        backend: BackendV2 | None = None,
        noise_model: NoiseModel | None = None,
    ) -> None:
        self.method = method
        self.backend = backend
        self.noise_model = noise_model
        self.key = uuid.uuid4().hex

    @property
    def name(self) -> str:
        """The device's name, or ``aer_simulator`` when only Aer is imitated."""
        return self.backend.name if self.backend is not None else "aer_simulator"

    @property
    def noisy(self) -> bool:
        """Whether runs see noise (the device's own, or the given noise model)."""
        return self.noise_model is not None or self.backend is not None

    @functools.cached_property
    def num_qubits(self) -> int:
        """The widest circuit this device can run."""
        if self.backend is not None:
            return int(self.backend.num_qubits)
        return int(AerSimulator(method=self.method).configuration().n_qubits)

    @functools.cached_property
    def target(self) -> Target:
        """The device's target; for Aer alone, every instruction Aer runs, on any qubits."""
        if self.backend is not None:
            return self.backend.target
        if self.noise_model is not None:
            return Target.from_configuration(
                basis_gates=sorted(self.basis), num_qubits=self.num_qubits
            )
        return AerSimulator(method=self.method).target

    @functools.cached_property
    def basis(self) -> frozenset[str]:
        """Names of the instructions circuits may use when the device has no backend."""
        if self.noise_model is not None:
            # Noise is attached to the model's gates: circuits must use only those.
            return frozenset(self.noise_model.basis_gates) | {"measure", "reset", "delay"}
        return frozenset(AerSimulator(method=self.method).target.operation_names)

    def conforms(self, circuit: QuantumCircuit) -> bool:
        """Whether ``circuit`` runs as it is: only supported instructions, on coupled qubits."""
        if self.backend is None:
            return circuit.count_ops().keys() <= self.basis | _DIRECTIVES
        target = self.backend.target
        index = {qubit: i for i, qubit in enumerate(circuit.qubits)}
        return circuit.num_qubits <= target.num_qubits and all(
            instruction.operation.name in _DIRECTIVES
            or target.instruction_supported(
                instruction.operation.name, tuple(index[q] for q in instruction.qubits)
            )
            for instruction in circuit.data
        )

    def undefined_instruction(self, circuit: QuantumCircuit) -> str | None:
        """An instruction of ``circuit`` the device lacks and no definition can rewrite."""
        runs = self.basis if self.backend is None else set(self.backend.target.operation_names)
        missing = circuit.count_ops().keys() - runs - _DIRECTIVES
        if missing:
            for instruction in circuit.data:
                operation = instruction.operation
                if operation.name in missing and operation.definition is None:
                    return str(operation.name)
        return None

    def simulator(self, method: str | None = None, threads: int | None = None) -> AerSimulator:
        """A new Aer simulator for this device (``threads=None``: Aer's own choice)."""
        options: dict[str, Any] = {"method": method or self.method}
        if threads is not None:
            options["max_parallel_threads"] = threads
        if self.noise_model is not None:
            options["noise_model"] = self.noise_model
        if self.backend is not None:
            return AerSimulator.from_backend(self.backend, **options)
        return AerSimulator(**options)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimulatedDevice) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.key, self._payload))

    @functools.cached_property
    def _payload(self) -> bytes:
        return pickle.dumps((self.method, self.backend, self.noise_model))


@functools.lru_cache(maxsize=16)
def _restore(key: str, payload: bytes) -> SimulatedDevice:
    """The device a payload describes, unpickled once per process and key."""
    method, backend, noise_model = pickle.loads(payload)
    device = SimulatedDevice(method, backend, noise_model)
    device.key = key
    return device


def check_qiskit_backend(qiskit_backend: object) -> QiskitBackend:
    """``qiskit_backend`` if it is one of the accepted kinds, else a clear error."""
    if qiskit_backend is None or isinstance(qiskit_backend, BackendV2):
        return qiskit_backend
    if not isinstance(qiskit_backend, str):
        raise TypeError(
            "qiskit_backend must be None, a simulator name or a BackendV2, "
            f"got {type(qiskit_backend).__name__}"
        )
    if qiskit_backend != AUTO and qiskit_backend not in SIMULATOR_METHODS:
        known = ", ".join(repr(name) for name in [*SIMULATOR_METHODS, AUTO])
        raise UnknownBackendError(f"unknown qiskit_backend {qiskit_backend!r}; use one of {known}")
    return qiskit_backend


def fixed_device(qiskit_backend: QiskitBackend, noise_model: NoiseModel | None) -> SimulatedDevice:
    """The device for every choice except ``"auto"``, which depends on the batch."""
    if isinstance(qiskit_backend, BackendV2):
        return SimulatedDevice(backend=qiskit_backend, noise_model=noise_model)
    method = SIMULATOR_METHODS.get(qiskit_backend or "qasm_simulator", "automatic")
    return SimulatedDevice(method, noise_model=noise_model)


def smallest_fake_backend(width: int, label: str) -> BackendV2:
    """The smallest fake IBM backend with at least ``width`` qubits (ties: by name).

    Raises:
        CircuitTooWideError: no fake backend is that large; ``label`` names the circuit.
    """
    for num_qubits, _, backend_class in _fake_backend_classes():
        if num_qubits >= width:
            return backend_class()
    largest = _fake_backend_classes()[-1][0]
    raise CircuitTooWideError(
        label, f"{width} qubits, but the largest fake IBM backend has {largest}"
    )


@functools.cache
def _fake_backend_classes() -> list[tuple[int, str, type[BackendV2]]]:
    """Every ``Fake*V2`` backend class with its size, smallest first."""
    from qiskit_ibm_runtime import fake_provider
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    found = [
        (_configured_qubits(cls), name, cls)
        for name, cls in vars(fake_provider).items()
        if name.endswith("V2") and inspect.isclass(cls) and issubclass(cls, FakeBackendV2)
    ]
    return sorted(found, key=lambda entry: entry[:2])


def _configured_qubits(backend_class: Any) -> int:
    """A fake backend's size, read from its configuration file without building it."""
    with open(os.path.join(backend_class.dirname, backend_class.conf_filename)) as conf:
        return int(json.load(conf)["n_qubits"])
