"""Checks of plain option values, shared by every face so messages read the same."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .exceptions import InvalidInputError


def positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1, or a clear error naming the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value}")
    return int(value)


def non_negative_real(name: str, value: object) -> float:
    """``value`` as a finite float >= 0 (NumPy's numbers included), or a clear error
    naming the option."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{name} must be a finite non-negative number, got {value}")
    return float(value)


def flag(name: str, value: object) -> bool:
    """``value`` as a bool (NumPy's included), or a clear error naming the option."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def optional_seed(value: object) -> int | None:
    """A seed is None or a non-negative integer (Aer's ``seed_simulator``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed must be an integer or None, got {value!r}")
    if value < 0:
        raise InvalidInputError(f"seed must be non-negative, got {value}")
    return int(value)
