"""The error tree: Qiskit's bases and the builtin ones, and errors that survive pickle.

The classes are found in :mod:`qiskit_divi.exceptions` itself and built from their
constructors' signatures, so a new error is covered without editing this file.
"""

from __future__ import annotations

import collections.abc
import copy
import importlib
import inspect
import pickle
import pkgutil
import threading
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from qiskit import QuantumCircuit
from qiskit.exceptions import QiskitError, QiskitWarning
from qiskit.providers import JobError
from qiskit.providers import JobTimeoutError as QiskitJobTimeoutError

import qiskit_divi
from qiskit_divi import DiviProvider, ParallelSimulatorBackend, exceptions
from qiskit_divi.exceptions import DiviError, DiviWarning
from qiskit_divi.server import LocalServer

#: Every exception class the module defines (its warnings too), and then its errors.
CLASSES = [
    value
    for value in vars(exceptions).values()
    if inspect.isclass(value)
    and issubclass(value, BaseException)
    and value.__module__ == exceptions.__name__
]
ERRORS = [cls for cls in CLASSES if not issubclass(cls, Warning)]


def _sample(annotation: Any, name: str, index: int) -> Any:
    """A value of the annotated type that tells this parameter apart from the others."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (kind,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _sample(kind, name, index)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return [_sample(item, f"{name}{i}", index) for i in range(2)]
    if typing.get_origin(annotation) is collections.abc.Mapping:
        key, value = typing.get_args(annotation)
        return {_sample(key, f"{name}-key", index): _sample(value, name, index)}
    return {str: f"{name}-value", int: 400 + index, float: 2.5 + index, bool: True}[annotation]


def _arguments(error: type[BaseException]) -> dict[str, Any]:
    """A value for every parameter of the constructor, by name (``message`` for
    ``*message``, the ``QiskitError`` signature)."""
    hints = typing.get_type_hints(error.__init__)
    parameters = inspect.signature(error).parameters.values()
    return {
        p.name: _sample(hints.get(p.name, str), p.name, index)
        for index, p in enumerate(parameters)
        if p.kind is not p.VAR_KEYWORD
    }


def _build(error: type[BaseException], arguments: dict[str, Any]) -> BaseException:
    parameters = inspect.signature(error).parameters.values()
    positional = [arguments[p.name] for p in parameters if p.kind is not p.KEYWORD_ONLY]
    keywords = {p.name: arguments[p.name] for p in parameters if p.kind is p.KEYWORD_ONLY}
    return error(*positional, **keywords)


ROUND_TRIPS: dict[str, Callable[[BaseException], BaseException]] = {
    "pickle": lambda error: pickle.loads(pickle.dumps(error)),
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
}


@pytest.mark.parametrize("how", ROUND_TRIPS)
@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.__name__)
def test_every_error_survives_pickle_and_copy(error: type[BaseException], how: str) -> None:
    arguments = _arguments(error)
    original = _build(error, arguments)
    again = ROUND_TRIPS[how](original)

    assert type(again) is error
    assert (str(again), repr(again), again.args) == (str(original), repr(original), original.args)
    assert vars(again) == vars(original)
    # Every constructor argument is kept under its own name, and comes back.
    assert {name: getattr(again, name) for name in arguments} == arguments


def test_an_error_that_crossed_a_pickle_keeps_its_cause_text() -> None:
    error = exceptions.JobFailedError("job-1", "circuit 'wide': 40 qubits")
    again = pickle.loads(pickle.dumps(error))
    assert (again.job_id, again.reason) == ("job-1", "circuit 'wide': 40 qubits")
    assert str(again) == "job job-1 failed: circuit 'wide': 40 qubits"


@pytest.mark.parametrize("error", CLASSES, ids=lambda error: error.__name__)
def test_every_error_is_a_qiskit_error_and_every_warning_a_qiskit_warning(
    error: type[BaseException],
) -> None:
    if issubclass(error, Warning):
        assert issubclass(error, DiviWarning) and issubclass(error, QiskitWarning)
    else:
        assert issubclass(error, DiviError) and issubclass(error, QiskitError)


def test_str_is_the_message_as_python_prints_it() -> None:
    """QiskitError prints the repr of its message; ours print the message itself."""
    assert str(exceptions.InvalidCircuitError("c", "no")) == "circuit 'c': no"
    assert str(DiviError("plain")) == "plain"
    assert DiviError("plain").message == "plain"  # QiskitError's attribute


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        # A job's errors are Qiskit's job errors ...
        (exceptions.JobFailedError, (JobError, exceptions.QoroError)),
        (exceptions.JobCancelledError, (JobError, exceptions.QoroError)),
        (exceptions.JobNotFinishedError, (JobError, exceptions.QoroError)),
        (exceptions.SimulationError, (JobError,)),
        (exceptions.JobTimeoutError, (QiskitJobTimeoutError, TimeoutError, exceptions.QoroError)),
        # ... and every error keeps the builtin base it had.
        (exceptions.InvalidInputError, (ValueError,)),
        (exceptions.InvalidCircuitError, (ValueError,)),
        (exceptions.InvalidTypeError, (exceptions.InvalidInputError, TypeError)),
        (exceptions.CircuitTooWideError, (exceptions.InvalidCircuitError, ValueError)),
        (exceptions.UnknownBackendError, (ValueError,)),
        (exceptions.UnknownOptionError, (ValueError, AttributeError, TypeError)),
        (exceptions.MissingCredentialsError, (ValueError,)),
        (exceptions.InsecureURLError, (ValueError,)),
        (exceptions.PayloadTooLargeError, (ValueError,)),
        (exceptions.CorruptResultError, (ValueError,)),
        (exceptions.QoroConnectionError, (ConnectionError,)),
        (exceptions.AuthenticationError, (exceptions.QoroAPIError,)),
        # The local server's errors are a branch of the tree.
        (exceptions.UnknownJobError, (exceptions.LocalServerError, LookupError)),
        (exceptions.JobConflictError, (exceptions.LocalServerError,)),
        (exceptions.RequestRefusedError, (exceptions.LocalServerError,)),
        (exceptions.JobRunError, (exceptions.LocalServerError,)),
        (exceptions.ServerDatabaseError, (exceptions.LocalServerError, ValueError)),
        (exceptions.WorkerLostError, (exceptions.LocalServerError,)),
        (exceptions.WorkerTimeoutError, (exceptions.LocalServerError,)),
        (exceptions.WorkerCancelledError, (exceptions.LocalServerError,)),
        (exceptions.ServerStoppingError, (exceptions.LocalServerError,)),
    ],
    ids=lambda value: value.__name__ if inspect.isclass(value) else "",
)
def test_bases(error: type[DiviError], bases: tuple[type[BaseException], ...]) -> None:
    assert all(issubclass(error, base) for base in bases)


def test_input_and_connection_errors_are_not_job_errors() -> None:
    """A caller catching Qiskit's JobError around ``result()`` is not handed bad input."""
    for error in (exceptions.InvalidInputError, exceptions.QoroConnectionError):
        assert not issubclass(error, JobError)


def _package_modules() -> Iterator[types.ModuleType]:
    for info in pkgutil.walk_packages(qiskit_divi.__path__, f"{qiskit_divi.__name__}."):
        yield importlib.import_module(info.name)


def test_every_error_the_package_defines_is_in_the_one_tree() -> None:
    elsewhere = [
        f"{module.__name__}.{name}"
        for module in _package_modules()
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__ != exceptions.__name__
    ]
    assert not elsewhere, f"errors outside qiskit_divi.exceptions: {elsewhere}"


# -- end to end: code written for any Qiskit backend catches a job's errors ----------------


def _bell() -> QuantumCircuit:
    qc = QuantumCircuit(2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def test_a_simulator_jobs_timeout_and_cancellation_are_qiskits_job_errors() -> None:
    backend = ParallelSimulatorBackend(n_processes=1)
    release = threading.Event()
    blocker = backend.execution.runner.submit(release.wait)  # the job waits in the queue
    try:
        job = backend.run(_bell(), shots=10)
        with pytest.raises(QiskitJobTimeoutError) as timed_out:
            job.result(timeout=0)
        assert isinstance(timed_out.value, TimeoutError)
        assert timed_out.value.job_ids == [job.job_id()]
        assert job.cancel()
    finally:
        release.set()
        blocker.result()
    with pytest.raises(JobError, match=job.job_id()) as cancelled:
        job.result()
    assert type(cancelled.value) is exceptions.JobCancelledError


def test_a_qoro_jobs_failure_is_a_qiskit_job_error(server: LocalServer) -> None:
    """The server's worker fails the job (its error crosses a process boundary as
    text); the client raises it from ``result()`` with the server's reason."""
    backend = DiviProvider(server.token, server.url).get_backend("qoro")
    wide = QuantumCircuit(40, name="too_wide")
    wide.h(range(40))
    wide.measure_all()

    job = backend.run([_bell(), wide], shots=10)
    with pytest.raises(JobError) as failed:
        job.result(timeout=120)

    error = failed.value
    assert type(error) is exceptions.JobFailedError
    assert error.job_id == job.job_id() and "40 qubits" in (error.reason or "")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.job_id, again.reason) == (str(error), error.job_id, error.reason)


def test_input_of_the_wrong_kind_is_an_input_error_and_a_type_error() -> None:
    """Every face refuses a value of the wrong kind the same way, naming it."""
    from qiskit_divi.backends import ParallelSimulator

    simulator = ParallelSimulator(n_processes=1)
    for call in (
        lambda: ParallelSimulator(shots="many"),
        lambda: simulator.submit_circuits(["OPENQASM 2.0;"]),
        lambda: ParallelSimulatorBackend(n_processes=1).run(["not a circuit"]),
    ):
        with pytest.raises(exceptions.InvalidTypeError) as caught:
            call()
        assert isinstance(caught.value, TypeError)
