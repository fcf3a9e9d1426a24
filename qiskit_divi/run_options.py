"""The options of a backend's ``run`` and ``set_options``: one rule for both backends.

A backend lists its own options, each with a check that returns the value it keeps
(``shots=np.int64(100)`` is kept as ``100``); ``set_options`` takes those only. ``run``
also meets what Qiskit libraries pass to any backend (qiskit-experiments, mthree,
qiskit-ibm-runtime's local mode): an option asking for what every run does anyway is
accepted, one asking for what no run can do is refused, and the rest are ignored with
one :class:`~qiskit_divi.exceptions.DiviWarning` naming them, where Aer ignores options
it lacks in silence. An option given as ``None`` asks for the default: nothing to do.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .exceptions import DiviWarning, InvalidInputError, UnknownOptionError

#: An option's check: the value to keep, or an error naming the option.
Check = Callable[[Any], Any]


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


def checked_options(
    checks: Mapping[str, Check], options: Mapping[str, Any], backend: str
) -> dict[str, Any]:
    """``options`` of the backend named ``backend``, as their checks keep them; all must
    be its own, as ``set_options`` takes them.

    Raises:
        UnknownOptionError: an option ``backend`` does not have (its options are listed).
    """
    unknown = sorted(set(options) - set(checks))
    if unknown:
        raise UnknownOptionError(
            f"backend {backend!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options are {', '.join(sorted(checks))}"
        )
    return {name: checks[name](value) for name, value in options.items()}


def run_options(
    checks: Mapping[str, Check], options: Mapping[str, Any], backend: str
) -> dict[str, Any]:
    """The backend's own options among those given to its ``run``, checked; the others
    are accepted, refused or ignored (one warning for all) by the rule above.

    Raises:
        InvalidInputError: an option asks for what ``backend`` cannot do (other
            ``meas_level`` than 2, ``init_qubits=False``, a ``noise_model``).
    """
    own = checked_options(checks, {k: v for k, v in options.items() if k in checks}, backend)
    ignored = []
    for name, value in options.items():
        if name in checks or name in _MOOT or value is None:
            continue
        if name in _DONE:
            done, what = _DONE[name]
            if not done(value):
                raise InvalidInputError(f"{name}={value!r}: backend {backend!r} {what}")
        elif name in _REFUSED:
            raise InvalidInputError(f"{name}: {_REFUSED[name]}")
        else:
            ignored.append(name)
    if ignored:
        names = ", ".join(sorted(ignored))
        warnings.warn(
            f"backend {backend!r} ignores the run options it does not have: {names}",
            DiviWarning,
            stacklevel=3,
        )
    return own
