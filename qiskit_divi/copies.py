"""How backends and jobs copy: Qiskit libraries copy them freely (qiskit-ibm-runtime's
local mode deep-copies the backend of every primitive call), as Aer's objects allow.

Within a process, copies share the live resources an object holds (a simulation engine
and its warm pool, a backend's job queue, a Qoro client and its credentials): each of
those copies to itself. A pickle may cross processes, so it carries settings only; what
it leaves out, a class's ``__getstate__`` says.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

T = TypeVar("T", bound="SharingCopies")
S = TypeVar("S", bound="Shared")


class Shared:
    """A live resource of this process: every copy of it is itself."""

    def __copy__(self: S) -> S:
        return self

    def __deepcopy__(self: S, memo: dict[int, Any]) -> S:
        return self


class SharingCopies:
    """Copies made in this process bypass ``__getstate__``, which shapes pickles only."""

    def __copy__(self: T) -> T:
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        return copied

    def __deepcopy__(self: T, memo: dict[int, Any]) -> T:
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied
