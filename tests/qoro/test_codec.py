"""The QH1/QH2 histogram codec, circuit packing, upload chunking and observable strings."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiskit_divi.exceptions import CorruptResultError, InvalidInputError, PayloadTooLargeError
from qiskit_divi.outcomes import Outcomes
from qiskit_divi.qoro import codec
from qiskit_divi.qoro.codec import (
    ExpectationValues,
    chunk_circuits,
    chunk_cost,
    decode_histogram,
    decode_observables,
    decode_result,
    encode_histogram,
    encode_observables,
    pack_circuit,
    unpack_circuit,
)
from qiskit_divi.qoro.protocol import MAX_BODY_BYTES

from .wire import qh_result, qh_sections, uleb
from simulator.circuits import BELL_QASM


def encode(counts, n_bits):
    """Counts as Qiskit writes them, encoded as the service sends them."""
    return encode_histogram(Outcomes.from_counts(counts, n_bits))


def decode(result):
    """A result's outcomes, rendered as counts by bitstring."""
    return decode_histogram(result).get_counts()


# -- histograms: agreement with the spec, round trips -------------------------------------


def test_encoder_matches_a_payload_built_by_hand_from_the_spec():
    counts = {0b000: 500, 0b011: 1, 0b110: 1, 0b111: 498}
    expected = qh_result(qh_sections(counts, 3), 3)

    encoded = encode({format(k, "03b"): v for k, v in counts.items()}, 3)

    assert encoded == expected


def test_decoder_renders_outcome_integers_with_classical_bit_0_rightmost():
    result = qh_result(qh_sections({1: 7, 4: 3}, 3), 3)

    assert decode(result) == {"001": 7, "100": 3}


def _histograms(min_bits: int, max_bits: int):
    @st.composite
    def build(draw):
        n_bits = draw(st.integers(min_bits, max_bits))
        outcomes = draw(st.sets(st.integers(0, 2**n_bits - 1), max_size=40))
        counts = {
            format(k, f"0{n_bits}b"): draw(st.one_of(st.just(1), st.integers(1, 2**40)))
            for k in outcomes
        }
        return counts, n_bits

    return build()


@given(_histograms(1, 255))
@settings(max_examples=300)
def test_qh1_round_trip(histogram):
    counts, n_bits = histogram

    encoded = encode(counts, n_bits)

    assert encoded["encoding"] == "qh1"
    assert decode(encoded) == counts


@given(_histograms(256, 600))
@settings(max_examples=60)
def test_qh2_round_trip(histogram):
    counts, n_bits = histogram

    encoded = encode(counts, n_bits)

    assert encoded["encoding"] == "qh2"
    assert decode(encoded) == counts


def test_large_histogram_round_trips_through_the_vectorised_path():
    n_bits = 24
    counts = {format(k * 37 % 2**n_bits, f"0{n_bits}b"): 1 + k % 5 for k in range(50_000)}

    assert decode(encode(counts, n_bits)) == counts


def test_wide_outcomes_of_64_bits_keep_every_bit():
    counts = {"1" * 64: 3, "1" + "0" * 63: 1, "0" * 63 + "1": 2}

    assert decode(encode(counts, 64)) == counts


@pytest.mark.parametrize("result", [{}, {"encoding": "qh1", "n_bits": 3, "payload": ""}])
def test_missing_or_empty_payload_is_an_empty_histogram(result):
    assert decode(result) == {}


def test_empty_histogram_round_trips():
    assert decode(encode({}, 4)) == {}


def test_encoder_accepts_register_spaces_and_hex_keys():
    encoded = encode({"01 10": 5, "0x3": 2}, 4)

    assert decode(encoded) == {"0110": 5, "0011": 2}


def test_encoder_drops_zero_counts():
    assert decode(encode({"00": 0, "11": 4}, 2)) == {"11": 4}


@pytest.mark.parametrize(
    ("counts", "n_bits", "error", "match"),
    [
        ({"01": 1}, 0, InvalidInputError, "num_bits"),
        ({"012": 1}, 3, InvalidInputError, "'012'"),
        ({"101": 1}, 2, InvalidInputError, "'101' does not fit in 2 bits"),
        ({"01": -1}, 2, InvalidInputError, "'01' has a negative count"),
        ({"01": 1.5}, 2, TypeError, "'01': count 1.5"),
        ({"01": 1, "1": 2}, 2, InvalidInputError, "'01' and '1' are the same outcome"),
        ({3: 1}, 2, TypeError, "outcomes must be strings"),
    ],
)
def test_encoder_rejects_bad_counts_naming_the_item(counts, n_bits, error, match):
    with pytest.raises(error, match=match):
        encode(counts, n_bits)


# -- histograms: integrity --------------------------------------------------------------

_GOOD = {0b001: 4, 0b010: 1, 0b101: 1, 0b111: 9}


def _damaged(**sections: bytes) -> dict:
    return qh_result({**qh_sections(_GOOD, 3), **sections}, 3)


@pytest.mark.parametrize(
    ("result", "match"),
    [
        (_damaged(magic=b"QH9"), "not QH1 or QH2"),
        (_damaged(total=uleb(16)), "do not sum to 16"),
        (_damaged(unique=uleb(5)), "gap count differs"),
        (_damaged(gaps=uleb(4) + bytes([1, 1, 0, 2])), "repeats an outcome"),
        (_damaged(gaps=uleb(4) + bytes([1, 1, 3, 3])), "wider than 3 bits"),
        (_damaged(width=bytes([2])), "3 bits wide|wider than 2 bits|says 3"),
        ({**_damaged(magic=b"QH2", width=uleb(2**40)), "encoding": "qh2"}, "1099511627776 bits"),
        (_damaged(flags=uleb(5) + uleb(3) + bytes([0]) + bytes([1, 2, 2])), "do not cover"),
        (_damaged(flags=uleb(5) + uleb(3) + bytes([2]) + bytes([1, 2, 1])), "first flag is 2"),
        (_damaged(extras=uleb(1) + uleb(2)), "disagree with the flags"),
        (_damaged(extras=uleb(2) + uleb(2) + uleb(7) + b"\x00"), "1 trailing bytes"),
        ({**_damaged(), "n_bits": 4}, "result says 4"),
        ({**_damaged(), "encoding": "qh2"}, "'qh2' but the payload is qh1"),
        ({**_damaged(), "payload": "not base64!"}, "not valid base64"),
    ],
)
def test_corrupt_payload_raises_instead_of_a_wrong_histogram(result, match):
    with pytest.raises(CorruptResultError, match=match):
        decode_histogram(result)


def test_every_truncation_of_a_payload_is_detected():
    payload = base64.b64decode(_damaged()["payload"])

    for cut in range(1, len(payload)):
        result = {"n_bits": 3, "payload": base64.b64encode(payload[:cut]).decode()}
        with pytest.raises(CorruptResultError):
            decode_histogram(result)


def test_outcomes_that_overflow_64_bits_are_corrupt_not_wrapped():
    gaps = [2**62] * 5
    sections = qh_sections({0: 1}, 63)
    sections.update(
        unique=uleb(5),
        total=uleb(5),
        gaps=uleb(5) + b"".join(uleb(g) for g in gaps),
        flags=uleb(3) + uleb(1) + bytes([1]) + uleb(5),
    )

    with pytest.raises(CorruptResultError):
        decode_histogram(qh_result(sections, 63))


@given(st.binary(max_size=64), st.sampled_from([b"QH1", b"QH2"]))
@settings(max_examples=300)
def test_arbitrary_bytes_never_raise_anything_but_corrupt_result(tail, magic):
    result = {"payload": base64.b64encode(magic + tail).decode()}
    with contextlib.suppress(CorruptResultError):
        decode_histogram(result)


def test_decode_result_tells_histograms_from_expectation_values():
    values = decode_result({"ZZ": 1, "XI": -0.25})
    histogram = decode_result(qh_result(qh_sections({3: 2}, 2), 2))
    empty = decode_result({})

    assert isinstance(values, ExpectationValues) and values.to_dict() == {"ZZ": 1.0, "XI": -0.25}
    assert isinstance(histogram, Outcomes) and histogram.get_counts() == {"11": 2}
    assert isinstance(empty, Outcomes) and empty.get_counts() == {}


@pytest.mark.parametrize("results", [[1, 2], {"ZZ": "high"}, {"ZZ": True}, None])
def test_decode_result_rejects_what_is_neither(results):
    with pytest.raises(CorruptResultError):
        decode_result(results)


# -- circuits ---------------------------------------------------------------------------


@given(st.text())
def test_pack_round_trips_any_text(text):
    assert unpack_circuit(pack_circuit(text)) == text


def test_pack_is_gzip_in_base64_and_deterministic():
    packed = pack_circuit(BELL_QASM)

    assert gzip.decompress(base64.b64decode(packed)).decode() == BELL_QASM
    assert pack_circuit(BELL_QASM) == packed


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("packed", "match"),
    [
        ("***", "not valid base64"),
        (_b64(b"plain text, not gzip"), "not gzip data"),
        (_b64(gzip.compress(BELL_QASM.encode())[:-12]), "not one complete gzip stream"),
        (_b64(gzip.compress(b"x") + b"junk"), "not one complete gzip stream"),
        (_b64(gzip.compress(b"\xff\xfe qasm")), "not UTF-8"),
    ],
)
def test_unpack_names_what_is_wrong(packed, match):
    with pytest.raises(InvalidInputError, match=match):
        unpack_circuit(packed)


def test_unpack_refuses_to_inflate_a_bomb(monkeypatch):
    monkeypatch.setattr(codec, "MAX_CIRCUIT_BYTES", 1000)

    with pytest.raises(InvalidInputError, match="inflates past 1000 bytes"):
        unpack_circuit(pack_circuit("h q[0];\n" * 200))


# -- chunking ---------------------------------------------------------------------------


def _entry(label: str, cost: int) -> tuple[str, str]:
    """A label and packed text whose entry costs exactly ``cost`` bytes."""
    return label, "A" * (cost - len(label) - 6)


def test_chunk_filled_exactly_to_the_cap_stays_one_chunk():
    half = (MAX_BODY_BYTES - 2) // 2
    packed = dict([_entry("a", half), _entry("b", MAX_BODY_BYTES - 2 - half)])

    chunks = chunk_circuits(packed)

    assert chunks == [packed]
    assert chunk_cost(chunks[0]) == MAX_BODY_BYTES
    assert len(json.dumps(chunks[0], separators=(",", ":"))) == MAX_BODY_BYTES - 1


def test_one_byte_over_the_cap_starts_a_new_chunk():
    half = (MAX_BODY_BYTES - 2) // 2
    packed = dict([_entry("a", half), _entry("b", MAX_BODY_BYTES - 1 - half)])

    assert chunk_circuits(packed) == [{"a": packed["a"]}, {"b": packed["b"]}]


def test_chunks_keep_every_circuit_in_order_and_each_fits():
    packed = dict(_entry(f"c{i:03d}", 100_000 + 997 * i) for i in range(40))

    chunks = chunk_circuits(packed)

    assert [label for chunk in chunks for label in chunk] == list(packed)
    assert len(chunks) > 3
    assert all(len(json.dumps(c, separators=(",", ":"))) <= MAX_BODY_BYTES for c in chunks)


def test_largest_single_circuit_fits_and_one_more_byte_is_rejected():
    assert len(chunk_circuits(dict([_entry("big", MAX_BODY_BYTES - 2)]))) == 1

    with pytest.raises(PayloadTooLargeError, match="'big'"):
        chunk_circuits(dict([_entry("ok", 10), _entry("big", MAX_BODY_BYTES - 1)]))


# -- observables ------------------------------------------------------------------------


def test_observables_round_trip():
    assert encode_observables(["XYZ", "ZZI", "III"]) == "XYZ;ZZI;III"
    assert decode_observables("XYZ;ZZI;III") == ["XYZ", "ZZI", "III"]


@pytest.mark.parametrize(
    ("terms", "error", "match"),
    [
        ([], InvalidInputError, "no observables"),
        (["XZ", "XQ"], InvalidInputError, "'XQ' is not a Pauli string"),
        (["xz"], InvalidInputError, "'xz'"),
        (["XZ", ""], InvalidInputError, "''"),
        (["XZ", "XZZ"], InvalidInputError, "'XZZ' acts on 3 qubits but 'XZ' on 2"),
        ("XZ;ZZ", TypeError, "not the string"),
        (["XZ", 3], TypeError, "got 3"),
    ],
)
def test_bad_observables_are_named(terms, error, match):
    with pytest.raises(error, match=match):
        encode_observables(terms)


def test_decode_observables_checks_too():
    with pytest.raises(InvalidInputError, match="acts on 1 qubits"):
        decode_observables("XX;Z")
