"""Sampled outcomes as they travel between layers: typed arrays, never text.

The engine makes an :class:`Outcomes` from Aer's hex outcomes, the codec from a QH1/QH2
payload; each face renders it once, for its user: ``SamplerV2`` takes its bytes as
``BitArray`` rows, the backends' jobs write the hex a ``qiskit.result.Result`` stores,
the CircuitRunner API writes Qiskit's bitstrings.

An outcome is kept as big-endian bytes, ``ceil(num_bits / 8)`` per outcome, classical
bit 0 the lowest bit of the last byte: the layout ``BitArray`` uses, the same for every
width (a 300-bit register needs no Python integers), and sortable and hashable as rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .exceptions import InvalidInputError, InvalidTypeError

_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)
#: Each byte's eight bits as ASCII ``0``/``1``, most significant first, held as one
#: 8-byte word, so a whole row of outcomes is written by one gather of words.
_ASCII_BITS = (_BYTE_BITS + np.uint8(ord("0"))).view(np.uint64)[:, 0]
#: The parity of each byte's bits.
_BYTE_PARITY = (_BYTE_BITS.sum(axis=1) % 2).astype(np.uint8)


def num_bytes(num_bits: int) -> int:
    """Bytes per outcome of ``num_bits`` bits."""
    return -(-num_bits // 8)


@dataclass(frozen=True, eq=False)
class Outcomes:
    """The outcomes of one circuit: which were measured, how often, and in which shots.

    Attributes:
        values: ``(k, num_bytes(num_bits))`` uint8, one distinct outcome per row,
            big-endian (classical bit 0 is the lowest bit of the last byte), in
            ascending order: the same outcomes always read the same, however they
            were split or sent.
        counts: ``(k,)`` int64, how often each outcome was measured.
        num_bits: classical bits per outcome.
        registers: ``(name, size)`` of each classical register, in classical-bit order;
            empty when the outcomes are one flat run of bits (as on the Qoro wire).
        memory: ``(shots,)`` indices into ``values``, one per shot in shot order, when
            each shot was kept; else ``None``.
    """

    values: np.ndarray
    counts: np.ndarray
    num_bits: int
    registers: tuple[tuple[str, int], ...] = ()
    memory: np.ndarray | None = None

    @classmethod
    def empty(cls, num_bits: int, registers: tuple[tuple[str, int], ...] = ()) -> Outcomes:
        """No outcome at all: what a circuit that measures nothing records."""
        return cls(_no_values(num_bits), np.zeros(0, np.int64), num_bits, registers)

    @classmethod
    def from_hex_counts(
        cls,
        counts: Mapping[str, int],
        num_bits: int,
        registers: tuple[tuple[str, int], ...] = (),
    ) -> Outcomes:
        """Outcomes from counts by ``0x`` hex outcome (as Aer gives them), in any order."""
        rows = _hex_rows(list(counts), num_bits)
        order = _row_order(rows)
        shots = np.fromiter(counts.values(), np.int64, len(rows))
        return cls(rows[order], shots[order], num_bits, registers)

    @classmethod
    def from_hex_memory(
        cls,
        memory: Sequence[str],
        num_bits: int,
        registers: tuple[tuple[str, int], ...] = (),
    ) -> Outcomes:
        """Outcomes from each shot's ``0x`` hex outcome (as Aer gives them), shots kept."""
        rows = _hex_rows(memory, num_bits)
        order, first = _sorted_runs(rows)
        distinct = np.cumsum(first) - 1
        shot_order = np.empty(len(rows), np.intp)
        shot_order[order] = distinct
        shots = np.bincount(distinct, minlength=int(first.sum()))
        return cls(rows[order][first], shots, num_bits, registers, shot_order)

    @classmethod
    def from_integers(
        cls, integers: np.ndarray | Sequence[int], counts: np.ndarray, num_bits: int
    ) -> Outcomes:
        """Outcomes from their values, distinct and ascending (as a histogram payload
        holds them): a uint64 array, or Python integers of any width."""
        return cls(_packed(integers, num_bits), np.asarray(counts, np.int64), num_bits)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], num_bits: int) -> Outcomes:
        """Outcomes from a counts dictionary as Qiskit writes one (bitstrings with
        classical bit 0 rightmost, spaces between registers ignored, or ``0x`` hex);
        zero counts are dropped.

        Raises:
            TypeError: ``counts`` is not a mapping of strings to integers.
            InvalidInputError: a key is neither form, does not fit in ``num_bits``, or
                names the same outcome as another; a count is negative or past 2**63.
        """
        if isinstance(num_bits, bool) or not isinstance(num_bits, int) or num_bits < 1:
            raise InvalidInputError(f"num_bits must be a positive integer, got {num_bits!r}")
        keys, shots = _checked_counts(counts)
        bits = _bit_matrix(keys, num_bits)
        if bits is not None:
            padded = np.zeros((len(keys), 8 * num_bytes(num_bits)), np.uint8)
            padded[:, padded.shape[1] - num_bits :] = bits
            values = np.packbits(padded, axis=1)
        else:
            values = _packed([_outcome(key, num_bits) for key in keys], num_bits)
        order, first = _sorted_runs(values)
        if not first.all():
            repeat = int(np.argmin(first))
            i, j = order[repeat - 1], order[repeat]
            raise InvalidInputError(f"outcomes {keys[i]!r} and {keys[j]!r} are the same outcome")
        return cls(values[order], shots[order], num_bits)

    def __eq__(self, other: object) -> bool:
        """Equal when both hold the same outcomes and counts, in the same order, with the
        same layout and the same shots."""
        if not isinstance(other, Outcomes):
            return NotImplemented
        return (
            (self.num_bits, self.registers) == (other.num_bits, other.registers)
            and np.array_equal(self.values, other.values)
            and np.array_equal(self.counts, other.counts)
            and _same_memory(self.memory, other.memory)
        )

    @property
    def num_shots(self) -> int:
        """How many outcomes were measured in all."""
        return int(self.counts.sum())

    def integers(self) -> np.ndarray | list[int]:
        """Each distinct outcome as an integer: uint64 up to 64 bits, else Python ints."""
        size = self.values.shape[1]
        if size > 8:
            blob = self.values.tobytes()
            return [int.from_bytes(blob[i : i + size], "big") for i in range(0, len(blob), size)]
        padded = np.zeros((len(self.values), 8), np.uint8)
        padded[:, 8 - size :] = self.values
        return padded.view(">u8").ravel().astype(np.uint64)

    def bits(self, indices: Sequence[int]) -> np.ndarray:
        """The distinct outcomes' classical bits at ``indices`` (``indices[0]`` becoming
        the lowest bit), packed the same way: a register's ``BitArray`` rows."""
        if list(indices) == list(range(self.num_bits)):
            return self.values
        size = num_bytes(len(indices))
        unpacked = np.unpackbits(self.values, axis=1)
        picked = np.zeros((len(self.values), 8 * size), np.uint8)
        if len(indices):
            columns = unpacked.shape[1] - 1 - np.asarray(indices[::-1])
            picked[:, 8 * size - len(indices) :] = unpacked[:, columns]
        return np.packbits(picked, axis=1)

    def laid_out(self, positions: Sequence[int]) -> Outcomes:
        """These outcomes with bit ``k`` taken from bit ``positions[k]``, the other bits
        left out: outcomes that stay distinct (the bits left out are never measured)."""
        if list(positions) == list(range(self.num_bits)):
            return self
        values = self.bits(positions)
        order = _row_order(values)
        memory = None
        if self.memory is not None:
            memory = np.empty(len(order), np.intp)
            memory[order] = np.arange(len(order))
            memory = memory[self.memory]
        return Outcomes(values[order], self.counts[order], len(positions), memory=memory)

    def parities(self, bit_sets: Sequence[Sequence[int]]) -> np.ndarray:
        """``(k, len(bit_sets))``: 1 where a distinct outcome has an odd number of ones
        among the classical bits of a set, else 0."""
        masks = np.zeros((len(bit_sets), self.values.shape[1]), np.uint8)
        for row, indices in enumerate(bit_sets):
            for index in indices:
                masks[row, -1 - index // 8] |= np.uint8(1 << (index % 8))
        selected = _BYTE_PARITY[self.values[:, None, :] & masks[None, :, :]]
        return np.bitwise_xor.reduce(selected, axis=2)

    def shuffled(self, rng: np.random.Generator) -> Outcomes:
        """These outcomes with a shot order drawn from ``rng``: every outcome as often as
        it was counted, in random order (for histograms, which keep no order)."""
        return replace(
            self, memory=rng.permutation(np.repeat(np.arange(len(self.values)), self.counts))
        )

    def get_counts(self) -> dict[str, int]:
        """Counts by bitstring, as ``Result.get_counts`` writes them: classical bit 0
        rightmost, registers separated by spaces, the last register first."""
        return dict(zip(self._bitstrings(), self.counts.tolist(), strict=True))

    def get_memory(self) -> list[str]:
        """Each shot's bitstring in shot order (as :meth:`get_counts` writes them).

        Raises:
            InvalidInputError: shots were not kept.
        """
        return _per_shot(self._bitstrings(), self._kept_memory())

    def hex_counts(self) -> dict[str, int]:
        """Counts by ``0x`` hex outcome: what a ``qiskit.result.Result`` stores."""
        return dict(zip(self._hex(), self.counts.tolist(), strict=True))

    def hex_memory(self) -> list[str]:
        """Each shot's ``0x`` hex outcome in shot order.

        Raises:
            InvalidInputError: shots were not kept.
        """
        return _per_shot(self._hex(), self._kept_memory())

    def _kept_memory(self) -> np.ndarray:
        if self.memory is None:
            raise InvalidInputError("these outcomes kept no per-shot memory")
        return self.memory

    def _hex(self) -> list[str]:
        integers = self.integers()
        return list(map(hex, integers.tolist() if isinstance(integers, np.ndarray) else integers))

    def _bitstrings(self) -> list[str]:
        """Every distinct outcome as text, made at once as one ASCII buffer."""
        if not len(self.values):
            return []
        chars = _ASCII_BITS[self.values].view(np.uint8)[:, -self.num_bits :]
        pieces = _pieces(self.num_bits, [size for _, size in self.registers])
        width = sum(stop - start for start, stop in pieces) + len(pieces)
        rows = np.empty((len(self.values), width), np.uint8)
        column = 0
        for start, stop in pieces:  # each followed by a space, the last by a newline
            end = column + stop - start
            rows[:, column:end] = chars[:, start:stop]
            rows[:, end] = ord(" ")
            column = end + 1
        rows[:, -1] = ord("\n")
        return rows.tobytes().decode("ascii").split("\n")[:-1]


def _pieces(num_bits: int, sizes: list[int]) -> list[tuple[int, int]]:
    """The character spans of each register in a bitstring, the last register first, as
    Qiskit splits them (bits beyond the registers' sizes are not shown)."""
    bounds = list(itertools.pairwise(itertools.accumulate(reversed(sizes), initial=0)))
    # Nothing to split without registers, or with one that holds every bit.
    return bounds if bounds and bounds != [(0, num_bits)] else [(0, num_bits)]


def _same_memory(first: np.ndarray | None, second: np.ndarray | None) -> bool:
    if first is None or second is None:
        return first is second
    return np.array_equal(first, second)


def _per_shot(names: list[str], memory: np.ndarray) -> list[str]:
    return np.asarray(names, dtype=object)[memory].tolist() if len(memory) else []


def _no_values(num_bits: int) -> np.ndarray:
    return np.zeros((0, num_bytes(num_bits)), np.uint8)


def _hex_rows(texts: Sequence[str], num_bits: int) -> np.ndarray:
    """``0x`` hex outcomes as big-endian rows of bytes, one per text."""
    width = 2 * num_bytes(num_bits)
    digits = "".join([text[2:].zfill(width) for text in texts])
    return np.frombuffer(bytes.fromhex(digits), np.uint8).reshape(len(texts), width // 2)


def _packed(integers: np.ndarray | Sequence[int], num_bits: int) -> np.ndarray:
    """Integers below ``2**num_bits`` as big-endian rows of bytes."""
    size = num_bytes(num_bits)
    if isinstance(integers, np.ndarray) and size <= 8:
        octets = integers.astype(">u8").view(np.uint8).reshape(-1, 8)
        return np.ascontiguousarray(octets[:, 8 - size :])
    raw = b"".join([int(value).to_bytes(size, "big") for value in integers])
    return np.frombuffer(raw, np.uint8).reshape(len(integers), size)


def _row_order(values: np.ndarray) -> np.ndarray:
    """The order that sorts big-endian rows by value: by their first byte, then the next."""
    if values.shape[1] == 0:
        return np.arange(len(values))
    return np.lexsort(values.T[::-1])


def _sorted_runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts ``rows``, and where in that order each run of equal rows
    starts (``True`` at a row unlike the one before)."""
    order = _row_order(rows)
    ordered = rows[order]
    first = np.ones(len(rows), bool)
    first[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    return order, first


# -- counts dictionaries, as users write them --------------------------------------------


def _checked_counts(counts: Mapping[str, int]) -> tuple[list[str], np.ndarray]:
    """The keys with a positive count, and those counts."""
    if not isinstance(counts, Mapping):
        raise InvalidTypeError(f"counts must be a mapping, got {type(counts).__name__}")
    keys = list(counts)
    values = np.asarray(list(counts.values()))
    if values.size and values.dtype.kind not in "iu":
        for key, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidTypeError(f"outcome {key!r}: count {value!r} is not an integer")
        raise InvalidInputError("counts must be below 2**63")
    if values.size and values.min() < 0:
        key = keys[int(values.argmin())]
        raise InvalidInputError(f"outcome {key!r} has a negative count ({counts[key]})")
    kept = np.flatnonzero(values > 0)
    return [keys[i] for i in kept], values[kept].astype(np.int64)


def _bit_matrix(keys: list[str], num_bits: int) -> np.ndarray | None:
    """The keys as rows of 0/1, or None unless every key is a bitstring ``num_bits`` long."""
    try:
        text = "".join(keys)
    except TypeError:
        return None
    if len(text) != len(keys) * num_bits or not text.isascii():
        return None
    if np.any(np.fromiter(map(len, keys), np.int64, len(keys)) != num_bits):
        return None
    bits = np.frombuffer(text.encode("ascii"), np.uint8) - np.uint8(ord("0"))
    if bits.size and bits.max() > 1:
        return None
    return bits.reshape(len(keys), num_bits)


def _outcome(key: str, num_bits: int) -> int:
    if not isinstance(key, str):
        raise InvalidTypeError(f"outcomes must be strings, got {key!r}")
    digits = key.replace(" ", "")
    try:
        value = int(digits, 16) if digits.startswith("0x") else int(digits, 2)
    except ValueError:
        raise InvalidInputError(f"outcome {key!r} is neither a bitstring nor 0x hex") from None
    if value >> num_bits:
        raise InvalidInputError(f"outcome {key!r} does not fit in {num_bits} bits")
    return value
