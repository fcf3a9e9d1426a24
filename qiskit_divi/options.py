"""Options: every check of a setting's value, and the rule every face applies to options.

Two kinds of setting, kept apart as Aer keeps ``backend_options`` and ``run_options``:

- construction settings make the thing that runs work (a simulator's device, noise and
  processes; a Qoro client's HTTP and retry settings); they are constructor keywords;
- run options say how one run goes (``shots``, ``seed_simulator``, ...); a backend lists
  them in an :class:`OptionTable`, each with its default and its check, and keeps them in
  Qiskit's :class:`~qiskit.providers.Options`.

One name per idea across faces: ``shots``; ``seed_simulator`` on a backend and ``seed`` on
the primitives and Divi's ``ParallelSimulator`` (the names their peers use; a primitive with
no seed of its own takes its backend's ``seed_simulator``); ``timeout`` is always how long
to wait for a job, ``request_timeout`` how long one HTTP request may wait. An option a
thing does not have is an :class:`~qiskit_divi.exceptions.UnknownOptionError` on every face,
except among what Qiskit libraries pass to any ``backend.run`` (see :meth:`OptionTable.for_run`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
from qiskit.providers import Options

from .exceptions import DiviWarning, InvalidInputError, InvalidTypeError, UnknownOptionError

#: An option's check: the value to keep, or an error naming the option.
Check = Callable[[Any], Any]

T = TypeVar("T")

#: Seeds the engine takes: Aer seeds are 64-bit and grow by a stride per circuit.
MAX_SEED = 2**32 - 1


# -- checks of plain values ---------------------------------------------------------------


def positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1, or a clear error naming the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value}")
    return int(value)


def non_negative_real(name: str, value: object) -> float:
    """``value`` as a finite float >= 0 (NumPy's numbers included), or a clear error
    naming the option."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{name} must be a finite non-negative number, got {value}")
    return float(value)


def positive_seconds(name: str, value: object) -> float:
    """``value`` as a positive number of seconds, or a clear error naming the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not seconds > 0:
        raise InvalidInputError(f"{name} must be positive, got {value}")
    return seconds


def optional_seconds(name: str, value: object) -> float | None:
    """``None`` (no limit) or a positive number of seconds."""
    return None if value is None else positive_seconds(name, value)


def flag(name: str, value: object) -> bool:
    """``value`` as a bool (NumPy's included), or a clear error naming the option."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(value: object, name: str = "seed") -> int | None:
    """A seed the engine takes: ``None`` or an integer from 0 to 2**32 - 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(f"{name} must be an integer or None, got {value!r}")
    seed = int(value)
    if not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"{name} must be from 0 to 2**32 - 1, got {seed}")
    return seed


def no_seed(value: object) -> None:
    """The Qoro service takes no seed: only ``None`` is accepted."""
    if value is not None:
        raise InvalidInputError(
            f"seed {value!r}: the Qoro service takes no seed, so results cannot be made "
            "reproducible; leave it None"
        )


def unknown_options(names: Iterable[str], owner: str, known: Iterable[str]) -> UnknownOptionError:
    """The one error for options ``owner`` does not have, listing those it has."""
    return UnknownOptionError(
        f"{owner} has no option {', '.join(map(repr, sorted(names)))}; "
        f"its options are {', '.join(sorted(known))}"
    )


def options_of(cls: type[T], given: T | Mapping[str, Any] | None, owner: str) -> T:
    """A primitive's options: ``given`` as they are, or made from a dict of their fields.

    Raises:
        UnknownOptionError: a field ``cls`` does not have.
    """
    if isinstance(given, cls):
        return given
    fields: dict[str, Any] = dict(given or {})  # type: ignore[arg-type]
    known = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = set(fields) - set(known)
    if unknown:
        raise unknown_options(unknown, owner, known)
    return cls(**fields)


# -- a backend's run options --------------------------------------------------------------


def _classified(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value == 2


def _initialised(value: object) -> bool:
    return isinstance(value, (bool, np.bool_)) and bool(value)


#: What every run does, as the option asking for it says it: classified outcomes
#: (``meas_level=2``, ``MeasLevel.CLASSIFIED``), each shot from freshly reset qubits.
_DONE: dict[str, tuple[Callable[[object], bool], str]] = {
    "meas_level": (_classified, "returns classified outcomes only: meas_level=2"),
    "init_qubits": (_initialised, "starts every shot from initialised qubits: init_qubits=True"),
}
#: Options that change nothing for classified outcomes: ``meas_return`` shapes
#: level-1 (kerneled) data only.
_MOOT = frozenset({"meas_return"})
#: What no run can do, and where it is done instead.
_REFUSED = {
    "noise_model": "noise is not set per run: a simulator's is set when it is made "
    "(ParallelSimulatorBackend(noise_model=...)), a Qoro system has its own",
}


class OptionTable:
    """A backend's run options: each one's default and the check of its values.

    ``set_options`` takes these only; ``run`` also meets what Qiskit libraries pass to any
    backend (qiskit-experiments, mthree, qiskit-ibm-runtime's local mode): an option
    asking for what every run does anyway is accepted, one asking for what no run can do
    is refused, and the rest are ignored with one :class:`~qiskit_divi.exceptions.DiviWarning`
    naming them, where Aer ignores options it lacks in silence. An option given to ``run``
    as ``None`` asks for the default: nothing to do.

    Args:
        options: each option's name, default and check.
    """

    def __init__(self, **options: tuple[Any, Check]) -> None:
        self._defaults = {name: default for name, (default, _) in options.items()}
        self._checks = {name: check for name, (_, check) in options.items()}

    def defaults(self) -> Options:
        """The defaults, as ``BackendV2._default_options`` returns them."""
        return Options(**self._defaults)

    def checked(self, options: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """``options`` as their checks keep them (``shots=np.int64(100)`` as ``100``).

        Raises:
            UnknownOptionError: an option ``owner`` does not have (its options are listed).
        """
        unknown = set(options) - set(self._checks)
        if unknown:
            raise unknown_options(unknown, f"backend {owner!r}", self._checks)
        return {name: self._checks[name](value) for name, value in options.items()}

    def for_run(self, options: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """The backend's own options among those given to its ``run``, checked; the others
        are accepted, refused or ignored (one warning for all) by the rule above.

        Raises:
            InvalidInputError: an option asks for what ``owner`` cannot do (other
                ``meas_level`` than 2, ``init_qubits=False``, a ``noise_model``).
        """
        own = self.checked({k: v for k, v in options.items() if k in self._checks}, owner)
        ignored = []
        for name, value in options.items():
            if name in self._checks or name in _MOOT or value is None:
                continue
            if name in _DONE:
                done, what = _DONE[name]
                if not done(value):
                    raise InvalidInputError(f"{name}={value!r}: backend {owner!r} {what}")
            elif name in _REFUSED:
                raise InvalidInputError(f"{name}: {_REFUSED[name]}")
            else:
                ignored.append(name)
        if ignored:
            names = ", ".join(sorted(ignored))
            warnings.warn(
                f"backend {owner!r} ignores the run options it does not have: {names}",
                DiviWarning,
                stacklevel=3,
            )
        return own
