"""What travels in Qoro request and result bodies: QH1/QH2 histograms, packed circuits,
upload chunks and observable strings, in either wire dialect.

Pure functions shared by the client and the local server. Histograms are coded with
NumPy over whole arrays, straight to and from :class:`~qiskit_divi.outcomes.Outcomes`
(a million distinct outcomes decode in well under a tenth of a second, see
``benchmarks/codec.py``); every payload is checked for integrity, so a damaged one
raises instead of decoding to wrong counts. Expectation values decode to
:class:`ExpectationValues`, so every result says which kind it is.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import Any

import numpy as np

from ..exceptions import (
    CorruptResultError,
    InvalidInputError,
    InvalidTypeError,
    PayloadTooLargeError,
    ResultTooLargeError,
)
from ..outcomes import Outcomes
from .protocol import (
    CHUNK_OVERHEAD_BYTES,
    ENTRY_OVERHEAD_BYTES,
    GZS_PREFIX,
    MAX_BODY_BYTES,
    Dialect,
)

_MAGIC = {"qh1": b"QH1", "qh2": b"QH2"}
_QH1_MAX_BITS = 255
#: Widest register a payload may claim: far beyond any device, and it keeps a corrupt
#: width from asking for absurd amounts of memory.
_MAX_BITS = 1 << 20
#: Decoded outcomes up to this many bits are summed from their gaps as uint64 (no gap
#: can wrap around unseen); wider ones as exact Python integers.
_FAST_BITS = 63
#: Longest ULEB128 the header and counts may use (values below 2**63).
_MAX_VARINT_BYTES = 9
#: Largest circuit text :func:`unpack_circuit` inflates to: a guard against gzip bombs.
MAX_CIRCUIT_BYTES = 64 * 1024 * 1024
#: Most outcome bits results may decode to (distinct outcomes times their width; an
#: expectation value counts 64): one histogram alone, and all of one job's results
#: together (the client's budget). 2**30 bits are 128 MiB packed and 1 GiB as
#: bitstrings; a few hundred bytes of QH2 could otherwise claim gigabytes.
MAX_RESULT_BITS = 1 << 30
#: Wide values are assembled this many bytes of payload rows at a time, so that the
#: bit-level work stays a small multiple of the result itself.
_WIDE_BLOCK_BYTES = 4 * 1024 * 1024

Integers = np.ndarray | list[int]

# -- ULEB128 ------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varints(values: Integers) -> bytes:
    """ULEB128 of every value, concatenated, computed over whole arrays."""
    if not isinstance(values, np.ndarray):
        return _wide_varints(values)
    if values.size == 0:
        return b""
    values = values.astype(np.uint64, copy=False)
    n_bytes = np.ones(values.shape, np.int64)
    for k in range(1, 10):
        n_bytes += values >= np.uint64(1 << (7 * k))
    starts = np.cumsum(n_bytes) - n_bytes
    out = np.empty(int(n_bytes.sum()), np.uint8)
    for j in range(int(n_bytes.max())):
        has = n_bytes > j
        group = ((values[has] >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(np.uint8)
        more = (n_bytes[has] > j + 1).astype(np.uint8) << 7
        out[starts[has] + j] = group | more
    return out.tobytes()


def _wide_varints(values: list[int]) -> bytes:
    """ULEB128 of integers of any width: their bits regrouped in sevens, row by row."""
    if not values:
        return b""
    lengths = np.array([max(1, -(-v.bit_length() // 7)) for v in values])
    groups = int(lengths.max())
    size = -(-groups * 7 // 8)
    raw = np.frombuffer(b"".join(v.to_bytes(size, "little") for v in values), np.uint8)
    bits = np.unpackbits(raw.reshape(len(values), size), axis=1, bitorder="little")
    septets = bits[:, : groups * 7].reshape(len(values), groups, 7)
    out = np.packbits(septets, axis=2, bitorder="little")[:, :, 0]
    column = np.arange(groups)
    out |= (column < (lengths - 1)[:, None]).astype(np.uint8) << 7
    return out[column < lengths[:, None]].tobytes()


class _Reader:
    """Reads a QH payload front to back; every shortfall is a :class:`CorruptResultError`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.array = np.frombuffer(data, np.uint8)
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise CorruptResultError(f"histogram payload truncated in {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, what: str) -> int:
        value = 0
        for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
        raise CorruptResultError(f"histogram payload: {what} is wider than 63 bits")

    def uints(self, count: int, max_bytes: int, what: str) -> Integers:
        """``count`` consecutive ULEB128 values, none longer than ``max_bytes`` bytes."""
        if count == 0:
            return np.zeros(0, np.uint64)
        rest = self.array[self.pos :]
        ends = np.flatnonzero(rest < 0x80)[:count]
        if len(ends) < count:
            raise CorruptResultError(f"histogram payload truncated in {what}")
        starts = np.concatenate(([0], ends[:-1] + 1))
        lengths = ends - starts + 1
        longest = int(lengths.max())
        if longest > max_bytes:
            raise CorruptResultError(f"histogram payload: a value in {what} is too wide")
        end = int(ends[-1]) + 1
        self.pos += end
        septets = rest[:end] & 0x7F
        column = np.arange(end) - np.repeat(starts, lengths)
        if longest > _MAX_VARINT_BYTES:
            return _wide_values(septets, column, lengths)
        parts = septets.astype(np.uint64) << (column * 7).astype(np.uint64)
        return np.bitwise_or.reduceat(parts, starts)

    def done(self) -> bool:
        return self.pos == len(self.data)


def _wide_values(septets: np.ndarray, column: np.ndarray, lengths: np.ndarray) -> list[int]:
    """Integers of any width from their ULEB128 payload bits, a block of rows at a time."""
    per_block = max(1, _WIDE_BLOCK_BYTES // int(lengths.max()))
    ends = np.cumsum(lengths)
    values: list[int] = []
    for first in range(0, len(lengths), per_block):
        last = min(first + per_block, len(lengths))
        span = slice(int(ends[first] - lengths[first]), int(ends[last - 1]))
        values += _wide_block(septets[span], column[span], lengths[first:last])
    return values


def _wide_block(septets: np.ndarray, column: np.ndarray, lengths: np.ndarray) -> list[int]:
    """Integers of any width from their ULEB128 payload bits, one row per value."""
    rows = np.zeros((len(lengths), int(lengths.max())), np.uint8)
    rows[np.repeat(np.arange(len(lengths)), lengths), column] = septets
    bits = np.unpackbits(rows[:, :, None], axis=2, bitorder="little")[:, :, :7]
    raw = np.packbits(bits.reshape(len(lengths), -1), axis=1, bitorder="little")
    size, blob = raw.shape[1], raw.tobytes()
    return [int.from_bytes(blob[i : i + size], "little") for i in range(0, len(blob), size)]


# -- histograms ---------------------------------------------------------------------------


def encode_histogram(outcomes: Outcomes) -> dict[str, Any]:
    """Outcomes as the service sends them: ``{"encoding", "n_bits", "payload"}``.

    The wire knows no registers: outcomes travel as one run of ``num_bits`` bits.
    Registers wider than 255 bits use QH2.
    """
    n_bits = outcomes.num_bits
    if n_bits < 1:
        raise InvalidInputError(f"n_bits must be a positive integer, got {n_bits}")
    shots = outcomes.counts.astype(np.uint64)
    encoding = "qh1" if n_bits <= _QH1_MAX_BITS else "qh2"
    width = bytes([n_bits]) if encoding == "qh1" else _varint(n_bits)
    ones = shots == 1
    run_lengths, first = _runs(ones)
    flags = _varint(len(run_lengths)) + bytes([first]) + _varints(run_lengths)
    extras = shots[~ones] - np.uint64(2)
    payload = b"".join(
        (
            _MAGIC[encoding],
            width,
            _varint(len(shots)),
            _varint(int(shots.sum())),
            _varint(len(shots)),
            _varints(_gaps(outcomes.integers())),
            _varint(len(flags)),
            flags,
            _varint(len(extras)),
            _varints(extras),
        )
    )
    return {"encoding": encoding, "n_bits": n_bits, "payload": base64.b64encode(payload).decode()}


def decode_histogram(result: Mapping[str, Any], *, max_bits: int = MAX_RESULT_BITS) -> Outcomes:
    """The outcomes a ``{"encoding", "n_bits", "payload"}`` result holds, in ascending
    order (a result without a payload holds none).

    Raises:
        CorruptResultError: the payload fails any integrity check (magic, truncation,
            widths, distinct outcomes, shot total, trailing bytes).
        ResultTooLargeError: the outcomes would hold more than ``max_bits`` bits
            (checked before they are decoded).
    """
    if not result.get("payload"):
        return Outcomes.empty(0)
    try:
        data = base64.b64decode(result["payload"], validate=True)
    except (binascii.Error, TypeError, ValueError) as err:
        raise CorruptResultError(f"histogram payload is not valid base64: {err}") from err
    reader = _Reader(data)
    encoding, n_bits = _header(reader, result)
    unique = reader.uint("the outcome count")
    if unique > len(data) - reader.pos:  # every outcome takes a byte at least
        raise CorruptResultError(f"{encoding} payload truncated: too short for {unique} outcomes")
    if unique * n_bits > max_bits:
        raise ResultTooLargeError(
            f"{encoding} payload claims {unique} outcomes of {n_bits} bits, past the "
            f"{max_bits} bits left of the results limit",
            max_bits,
        )
    total = reader.uint("the shot total")
    if reader.uint("the gap count") != unique:
        raise CorruptResultError(f"{encoding} payload: gap count differs from {unique} outcomes")
    gaps = reader.uints(unique, max(1, math.ceil(n_bits / 7)), "the outcomes")
    outcomes = _checked_outcomes(gaps, n_bits)
    ones = _read_flags(reader, unique)
    shots = np.ones(unique, np.uint64)
    extras_len = reader.uint("the extra counts length")
    if extras_len != int((~ones).sum()):
        raise CorruptResultError(f"{encoding} payload: extra counts disagree with the flags")
    shots[~ones] = reader.uints(extras_len, _MAX_VARINT_BYTES, "the extra counts")
    shots[~ones] += np.uint64(2)
    if not reader.done():
        raise CorruptResultError(f"{encoding} payload has {len(data) - reader.pos} trailing bytes")
    if _exact_sum(shots, total) != total:
        raise CorruptResultError(f"{encoding} payload: counts do not sum to {total} shots")
    # Every count is below 2**63 (at most nine bytes of ULEB128), as is their sum.
    return Outcomes.from_integers(outcomes, shots.astype(np.int64), n_bits)


def _header(reader: _Reader, result: Mapping[str, Any]) -> tuple[str, int]:
    magic = reader.take(3, "the magic")
    encoding = next((name for name, m in _MAGIC.items() if m == magic), None)
    if encoding is None:
        raise CorruptResultError(f"histogram payload starts with {magic!r}, not QH1 or QH2")
    if result.get("encoding", encoding) != encoding:
        raise CorruptResultError(
            f"result says {_shown(result['encoding'])} but the payload is {encoding}"
        )
    n_bits = reader.take(1, "the width")[0] if encoding == "qh1" else reader.uint("the width")
    if not 1 <= n_bits <= _MAX_BITS or result.get("n_bits", n_bits) != n_bits:
        raise CorruptResultError(
            f"{encoding} payload is {n_bits} bits wide but the result says "
            f"{_shown(result.get('n_bits'))}"
        )
    return encoding, n_bits


def _checked_outcomes(gaps: Integers, n_bits: int) -> Integers:
    """Outcomes from their gaps: strictly ascending and narrower than ``n_bits``."""
    if isinstance(gaps, np.ndarray) and n_bits <= _FAST_BITS:
        outcomes: Integers = np.cumsum(gaps, dtype=np.uint64)
        # Every gap is below 2**63, so a wrap-around in the sum shows as a descent.
        ascending = bool(np.all(outcomes[1:] > outcomes[:-1]))
    else:
        outcomes = list(accumulate(int(g) for g in gaps))
        ascending = all(b > a for a, b in pairwise(outcomes))
    if not ascending:
        raise CorruptResultError("histogram payload repeats an outcome")
    if len(outcomes) and int(outcomes[-1]) >> n_bits:
        raise CorruptResultError(f"histogram payload has an outcome wider than {n_bits} bits")
    return outcomes


def _read_flags(reader: _Reader, unique: int) -> np.ndarray:
    """The run-length list of "count is exactly 1" flags, one per outcome."""
    section = _Reader(reader.take(reader.uint("the flags length"), "the flags"))
    num_runs = section.uint("the run count")
    # An encoder may leave out the first-run byte of an empty list.
    first = 0 if num_runs == 0 and section.done() else section.take(1, "the first flag")[0]
    if first > 1:
        raise CorruptResultError(f"histogram payload: first flag is {first}, not 0 or 1")
    runs = section.uints(num_runs, _MAX_VARINT_BYTES, "the flag runs")
    if not section.done() or _exact_sum(runs, unique) != unique:
        raise CorruptResultError(f"histogram payload: flag runs do not cover {unique} outcomes")
    values = (np.arange(num_runs) + first) % 2 == 1
    return np.repeat(values, np.asarray(runs, np.int64))


def _exact_sum(values: Integers, bound: int) -> int:
    """The sum of non-negative integers, exact even where uint64 would overflow."""
    if len(values) == 0:
        return 0
    if isinstance(values, np.ndarray) and len(values) * max(int(values.max()), bound) < 2**64:
        return int(values.sum(dtype=np.uint64))
    return sum(int(v) for v in values)


def _gaps(outcomes: Integers) -> Integers:
    if isinstance(outcomes, np.ndarray):
        return np.diff(outcomes, prepend=np.uint64(0))
    return [b - a for a, b in zip([0, *outcomes], outcomes, strict=False)]


def _runs(flags: np.ndarray) -> tuple[np.ndarray, int]:
    """Run lengths of a boolean array and the value of its first run."""
    if not flags.size:
        return np.zeros(0, np.uint64), 0
    edges = np.flatnonzero(flags[1:] != flags[:-1]) + 1
    bounds = np.concatenate(([0], edges, [flags.size]))
    return np.diff(bounds).astype(np.uint64), int(flags[0])


@dataclass(frozen=True, eq=False)
class ExpectationValues:
    """One circuit's expectation values: ``values[j]`` is that of the Pauli term
    ``terms[j]``, written as on the wire (qubit 0 leftmost)."""

    terms: tuple[str, ...]
    values: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExpectationValues):
            return NotImplemented
        return self.terms == other.terms and np.array_equal(self.values, other.values)

    def to_dict(self) -> dict[str, float]:
        """The values by term, as the service sends them."""
        return dict(zip(self.terms, self.values.tolist(), strict=True))


#: What one circuit of a job returns: sampled outcomes, or expectation values.
CircuitResult = Outcomes | ExpectationValues


def decode_result(results: Any, *, max_bits: int = MAX_RESULT_BITS) -> CircuitResult:
    """One circuit's ``results`` value: a histogram, or expectation values by term.

    Raises:
        CorruptResultError: it is neither, or a histogram fails its integrity checks.
        ResultTooLargeError: it would hold more than ``max_bits`` bits (see
            :func:`result_bits`).
    """
    if not isinstance(results, Mapping):
        raise CorruptResultError(f"a result must be an object, got {type(results).__name__}")
    if not results or "payload" in results or "encoding" in results:
        return decode_histogram(results, max_bits=max_bits)
    if 64 * len(results) > max_bits:
        raise ResultTooLargeError(
            f"{len(results)} expectation values, past the {max_bits} bits left of the "
            "results limit",
            max_bits,
        )
    values = np.array([_expectation_value(term, v) for term, v in results.items()], float)
    return ExpectationValues(tuple(results), values)


def result_bits(result: CircuitResult) -> int:
    """What a decoded result counts against :data:`MAX_RESULT_BITS`."""
    if isinstance(result, ExpectationValues):
        return 64 * len(result.values)
    return len(result.values) * result.num_bits


def _expectation_value(term: Any, value: Any) -> float:
    number = None if isinstance(value, bool) or not isinstance(value, int | float) else value
    try:
        finite = number is not None and math.isfinite(number)
    except OverflowError:  # an integer past the float range
        finite = False
    if not finite:
        raise CorruptResultError(f"expectation value of {term!r} is {_shown(value)}, not a number")
    return float(value)


def _shown(value: Any) -> str:
    """A value from an answer, for a message: scalars as they are, else only their type
    (a structure could be nested too deeply to print)."""
    if value is None or isinstance(value, str | int | float):
        return repr(value)
    return f"a {type(value).__name__}"


# -- circuits -----------------------------------------------------------------------------


def pack_circuit(qasm: str) -> str:
    """OpenQASM text as the service takes it (and any text it takes compressed, such as
    an observable group): base64 of gzip of UTF-8."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    data = compressor.compress(qasm.encode("utf-8")) + compressor.flush()
    return base64.b64encode(data).decode("ascii")


def unpack_circuit(packed: str) -> str:
    """The OpenQASM text of a packed circuit (or any text :func:`pack_circuit` packed).

    Raises:
        InvalidInputError: not base64, not one complete gzip stream, inflating past
            :data:`MAX_CIRCUIT_BYTES`, or not UTF-8 text.
    """
    try:
        data = base64.b64decode(packed, validate=True)
    except (binascii.Error, TypeError, ValueError) as err:
        raise InvalidInputError(f"packed circuit is not valid base64: {err}") from err
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(data, MAX_CIRCUIT_BYTES + 1)
    except zlib.error as err:
        raise InvalidInputError(f"packed circuit is not gzip data: {err}") from err
    if len(raw) > MAX_CIRCUIT_BYTES:
        raise InvalidInputError(f"packed circuit inflates past {MAX_CIRCUIT_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise InvalidInputError("packed circuit is not one complete gzip stream")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInputError(f"packed circuit is not UTF-8 text: {err}") from err


def chunk_cost(circuits: Mapping[str, str]) -> int:
    """A chunk's size by the service's accounting, which the body cap applies to:
    ``len(label) + len(data) + 6`` per entry, plus 2; for ASCII labels, one byte more
    than the compact JSON of the ``circuits`` object (a comma after the last entry too).
    """
    return CHUNK_OVERHEAD_BYTES + sum(map(_entry_cost, circuits.keys(), circuits.values()))


def _entry_cost(label: str, data: str) -> int:
    return len(label) + len(data) + ENTRY_OVERHEAD_BYTES


def chunk_circuits(packed: Mapping[str, str]) -> list[dict[str, str]]:
    """Packed circuits split greedily, in order, into ``add_circuits`` chunks whose
    :func:`chunk_cost` is at most :data:`MAX_BODY_BYTES`.

    Raises:
        PayloadTooLargeError: one circuit alone exceeds the cap (checked before any
            chunk is returned, so nothing has been sent).
    """
    chunks: list[dict[str, str]] = []
    chunk: dict[str, str] = {}
    size = CHUNK_OVERHEAD_BYTES
    for label, data in packed.items():
        cost = _entry_cost(label, data)
        if CHUNK_OVERHEAD_BYTES + cost > MAX_BODY_BYTES:
            raise PayloadTooLargeError(
                f"circuit {label!r} packs to {cost} bytes; one request carries at most "
                f"{MAX_BODY_BYTES - CHUNK_OVERHEAD_BYTES}"
            )
        if chunk and size + cost > MAX_BODY_BYTES:
            chunks.append(chunk)
            chunk, size = {}, CHUNK_OVERHEAD_BYTES
        chunk[label] = data
        size += cost
    if chunk:
        chunks.append(chunk)
    return chunks


# -- observables --------------------------------------------------------------------------


def encode_observables(terms: Sequence[str]) -> str:
    """Dense Pauli terms as an expectation job sends them: ``"XYZ;ZZI"``.

    Terms are big-endian on the wire (leftmost character on qubit 0); this function
    only checks them: non-empty, over ``I X Y Z``, all the same length.
    """
    if isinstance(terms, str):
        raise InvalidTypeError(
            f"observables must be a sequence of terms, not the string {terms!r}"
        )
    terms = list(terms)
    if not terms:
        raise InvalidInputError("no observables given")
    width = len(terms[0]) if isinstance(terms[0], str) else 0
    for term in terms:
        if not isinstance(term, str):
            raise InvalidTypeError(f"an observable term must be a string, got {term!r}")
        if not term or set(term) - set("IXYZ"):
            raise InvalidInputError(f"observable {term!r} is not a Pauli string over I, X, Y, Z")
        if len(term) != width:
            raise InvalidInputError(
                f"observable {term!r} acts on {len(term)} qubits but {terms[0]!r} on {width}"
            )
    return ";".join(terms)


def decode_observables(text: str) -> list[str]:
    """The terms of an ``"XYZ;ZZI"`` string, checked as :func:`encode_observables` does."""
    if not isinstance(text, str):
        raise InvalidTypeError(f"observables must be a string, got {type(text).__name__}")
    terms = text.split(";")
    encode_observables(terms)
    return terms


# -- uploads of the 2026 wire: whole request bodies under the cap --------------------------

#: Builds a whole ``add_circuits`` body around a payload (see :meth:`Dialect.upload_body`).
Envelope = Callable[[dict[str, Any]], dict[str, Any]]


def _json_len(value: Any) -> int:
    """Bytes of ``value`` as ``json.dumps`` renders it with its default separators."""
    return len(json.dumps(value))


def _listed(items_cost: int, count: int) -> int:
    """Bytes a JSON list or object gains from ``count`` entries that cost ``items_cost``
    in all, each counted with its ``", "`` separator (the last one has none)."""
    return items_cost - 2 if count else 0


class _CircuitUpload:
    """One upload of bound circuits being filled: its exact rendered size, kept as it grows.

    With per-circuit shots it also carries its ``shot_groups``, re-based to its first
    circuit; a circuit with the shots of the one before extends the last range.
    """

    def __init__(self, base: int, per_circuit_shots: bool) -> None:
        self.circuits: dict[str, str] = {}
        self.groups: list[list[int]] = []
        self._base = base
        self._grouped = per_circuit_shots
        self._circuits_cost = 0
        self._closed_groups_cost = 0  # every range but the last

    def size_with(self, label: str, packed: str, shots: int | None) -> int:
        circuits = self._circuits_cost + _json_len(label) + len(packed) + 6
        size = self._base + _listed(circuits, len(self.circuits) + 1)
        if not self._grouped:
            return size
        index = len(self.circuits)
        if self.groups and self.groups[-1][2] == shots:
            last = self.groups[-1]
            groups = self._closed_groups_cost + _json_len([last[0], index + 1, shots]) + 2
            count = len(self.groups)
        else:
            previous = _json_len(self.groups[-1]) + 2 if self.groups else 0
            groups = self._closed_groups_cost + previous + _json_len([index, index + 1, shots]) + 2
            count = len(self.groups) + 1
        return size + _listed(groups, count)

    def add(self, label: str, packed: str, shots: int | None) -> None:
        self._circuits_cost += _json_len(label) + len(packed) + 6
        index = len(self.circuits)
        self.circuits[label] = packed
        if not self._grouped:
            return
        if self.groups and self.groups[-1][2] == shots:
            self.groups[-1][1] = index + 1
        else:
            if self.groups:
                self._closed_groups_cost += _json_len(self.groups[-1]) + 2
            self.groups.append([index, index + 1, shots])  # type: ignore[list-item]

    def payload(self) -> dict[str, Any]:
        if not self._grouped:
            return {"circuits": self.circuits}
        return {"circuits": self.circuits, "shot_groups": self.groups}


def plan_circuit_uploads(
    packed: Mapping[str, str], envelope: Envelope, shots: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Bound circuits split greedily, in order, into upload payloads whose whole body
    (``envelope`` around the payload, rendered by ``json.dumps``) stays within
    :data:`MAX_BODY_BYTES`.

    With ``shots`` (label -> shots) each payload carries its own ``shot_groups``:
    half-open ranges over its circuits, tiling them, split where an upload ends.

    Raises:
        PayloadTooLargeError: one circuit alone cannot fit (raised before any payload
            is returned, so nothing has been sent).
    """
    empty: dict[str, Any] = {"circuits": {}}
    if shots is not None:
        empty["shot_groups"] = []
    base = _json_len(envelope(empty))
    uploads: list[_CircuitUpload] = []
    upload = _CircuitUpload(base, shots is not None)
    for label, data in packed.items():
        count = None if shots is None else shots[label]
        if upload.circuits and upload.size_with(label, data, count) > MAX_BODY_BYTES:
            uploads.append(upload)
            upload = _CircuitUpload(base, shots is not None)
        size = upload.size_with(label, data, count)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLargeError(
                f"circuit {label!r} makes a request of {size} bytes on its own; one request "
                f"carries at most {MAX_BODY_BYTES}"
            )
        upload.add(label, data, count)
    uploads.append(upload)
    return [u.payload() for u in uploads if u.circuits]


def plan_template_uploads(
    template: str,
    parameter_names: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    envelope: Envelope,
) -> list[dict[str, Any]]:
    """A packed template's ``parameter_sets`` rows split greedily into upload payloads
    within :data:`MAX_BODY_BYTES`; every payload repeats the template and the names.

    Raises:
        PayloadTooLargeError: the template with one row cannot fit in a request.
    """
    head = {"circuit_template": template, "parameter_names": list(parameter_names)}
    base = _json_len(envelope({**head, "parameter_sets": []}))
    payloads: list[dict[str, Any]] = []
    chunk: list[Mapping[str, Any]] = []
    cost = 0
    for row in rows:
        row_cost = _json_len(row) + 2
        if chunk and base + _listed(cost + row_cost, len(chunk) + 1) > MAX_BODY_BYTES:
            payloads.append({**head, "parameter_sets": chunk})
            chunk, cost = [], 0
        if base + _listed(cost + row_cost, len(chunk) + 1) > MAX_BODY_BYTES:
            raise PayloadTooLargeError(
                f"parameter set {row.get('label')!r} with its template makes a request of "
                f"{base + row_cost - 2} bytes; one request carries at most {MAX_BODY_BYTES}"
            )
        chunk.append(row)
        cost += row_cost
    payloads.append({**head, "parameter_sets": chunk})
    return payloads


# -- observable groups ------------------------------------------------------------------

_SPARSE_FACTOR = re.compile(r"([XYZ])(\d+)")


def sparse_term(term: str) -> str:
    """A dense term as the 2026 wire lists it: ``<P><qubit>`` for every non-identity
    position, ascending (``"ZIZ"`` -> ``"Z0Z2"``); the all-identity term is ``"I"``."""
    return "".join(f"{p}{i}" for i, p in enumerate(term) if p != "I") or "I"


def dense_term(sparse: str, n_qubits: int) -> str:
    """The dense term of a sparse one on ``n_qubits`` qubits (inverse of :func:`sparse_term`).

    Raises:
        InvalidInputError: not ``<P><qubit>`` factors in ascending qubit order below
            ``n_qubits``.
    """
    if sparse == "I":
        return "I" * n_qubits
    chars = ["I"] * n_qubits
    last, end = -1, 0
    for factor in _SPARSE_FACTOR.finditer(sparse):
        qubit = int(factor.group(2))
        if factor.start() != end or not last < qubit < n_qubits:
            break
        chars[qubit], last, end = factor.group(1), qubit, factor.end()
    if end != len(sparse) or not sparse:
        raise InvalidInputError(
            f"observable term {sparse!r} is not sparse Pauli factors in ascending qubit order "
            f"below {n_qubits}"
        )
    return "".join(chars)


def encode_observable_groups(groups: Sequence[Sequence[str]], dialect: Dialect) -> str:
    """Groups of dense terms (one group per circuit range) as ``observables`` travels.

    The 2025 wire takes one plain group (``"XYZ;ZZI"``); the 2026 wire compresses each
    group as ``@gzs<n_qubits>:<base64(gzip(sparse terms))>`` and joins them with ``|``.
    """
    if dialect is Dialect.V2025:
        if len(groups) != 1:
            raise InvalidInputError(
                "the 2025 wire takes one set of observables for all circuits; "
                "per-circuit observables need the 2026 wire (dialect='2026')"
            )
        return encode_observables(groups[0])
    texts = []
    for terms in groups:
        encode_observables(terms)
        sparse = ";".join(sparse_term(term) for term in terms)
        texts.append(f"{GZS_PREFIX}{len(terms[0])}:{pack_circuit(sparse)}")
    return "|".join(texts)


def decode_observable_groups(text: str) -> list[list[str]]:
    """The dense terms of each ``|`` group of ``observables``, in either dialect's form
    (a plain ``"XYZ;ZZI"`` group or an ``@gzs`` one).

    Raises:
        InvalidInputError: a group is malformed.
    """
    if not isinstance(text, str):
        raise TypeError(f"observables must be a string, got {type(text).__name__}")
    groups = []
    for group in text.split("|"):
        if not group.startswith(GZS_PREFIX):
            groups.append(decode_observables(group))
            continue
        width, colon, packed = group[len(GZS_PREFIX) :].partition(":")
        if not colon or not width.isascii() or not width.isdigit() or int(width) < 1:
            raise InvalidInputError(f"observable group {group[:40]!r} has no qubit count")
        sparse = unpack_circuit(packed)
        groups.append([dense_term(term, int(width)) for term in sparse.split(";")])
    return groups
