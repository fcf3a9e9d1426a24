"""Outcomes, the typed value sampled results travel in: read from Aer exactly as Aer's own
``Result`` reads them, and rendered as Qiskit renders them (``Result``, ``BitArray``)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.primitives.containers import BitArray
from qiskit_aer import AerSimulator

from qiskit_divi.exceptions import InvalidInputError
from qiskit_divi.outcomes import Outcomes


def _three_registers() -> QuantumCircuit:
    """Seven qubits in superposition measured into registers of 2, 1 and 4 bits, some bits
    out of order, so every outcome has a different layout per register."""
    a, b, c = ClassicalRegister(2, "a"), ClassicalRegister(1, "b"), ClassicalRegister(4, "c")
    circuit = QuantumCircuit(QuantumRegister(7), a, b, c)
    circuit.h(range(7))
    circuit.cx(0, 6)
    circuit.measure([0, 1], [a[1], a[0]])
    circuit.measure(2, b[0])
    circuit.measure([3, 4, 5, 6], c)
    return circuit


@pytest.fixture(scope="module")
def aer_run():
    circuit = _three_registers()
    result = AerSimulator().run(circuit, shots=300, seed_simulator=4, memory=True).result()
    registers = tuple((creg.name, creg.size) for creg in circuit.cregs)
    return circuit, result, registers


def test_outcomes_from_aer_memory_render_as_aer_result_does(aer_run):
    circuit, result, registers = aer_run
    data = result.data(0)

    outcomes = Outcomes.from_hex_memory(data["memory"], circuit.num_clbits, registers)

    assert outcomes.get_counts() == result.get_counts()
    assert outcomes.get_memory() == result.get_memory()
    assert outcomes.hex_counts() == data["counts"]
    assert outcomes.hex_memory() == data["memory"]
    assert outcomes.num_shots == 300


def test_outcomes_from_aer_counts_render_as_aer_result_does(aer_run):
    circuit, result, registers = aer_run

    outcomes = Outcomes.from_hex_counts(result.data(0)["counts"], circuit.num_clbits, registers)

    assert outcomes.get_counts() == result.get_counts()
    assert outcomes.memory is None
    with pytest.raises(InvalidInputError, match="no per-shot memory"):
        outcomes.get_memory()


def test_distinct_outcomes_are_ascending_whatever_order_they_came_in(aer_run):
    circuit, result, registers = aer_run
    counts = result.data(0)["counts"]

    forward = Outcomes.from_hex_counts(counts, circuit.num_clbits, registers)
    backward = Outcomes.from_hex_counts(dict(reversed(counts.items())), circuit.num_clbits)

    integers = forward.integers()
    assert np.all(integers[1:] > integers[:-1])
    assert np.array_equal(backward.values, forward.values)
    assert np.array_equal(backward.counts, forward.counts)


def test_register_bits_are_what_bit_array_slices_out(aer_run):
    circuit, result, registers = aer_run
    outcomes = Outcomes.from_hex_memory(result.data(0)["memory"], circuit.num_clbits, registers)
    whole = BitArray(outcomes.values[:, None, :], circuit.num_clbits)

    for creg in circuit.cregs:
        indices = [circuit.find_bit(bit).index for bit in creg]
        expected = whole.slice_bits(indices)
        assert np.array_equal(outcomes.bits(indices)[:, None, :], expected.array)


def test_parities_count_the_ones_among_the_chosen_bits():
    counts = {format(k, "012b"): k + 1 for k in range(0, 4096, 7)}
    outcomes = Outcomes.from_counts(counts, 12)
    bit_sets = [[0], [11], [0, 5, 11], list(range(12)), [3, 9]]

    parities = outcomes.parities(bit_sets)

    for row, value in enumerate(outcomes.integers().tolist()):
        expected = [sum(value >> i & 1 for i in bits) % 2 for bits in bit_sets]
        assert parities[row].tolist() == expected


@given(st.integers(65, 300), st.data())
@settings(max_examples=40)
def test_registers_past_64_bits_keep_every_bit(num_bits, data):
    values = data.draw(st.sets(st.integers(0, 2**num_bits - 1), min_size=1, max_size=20))
    counts = {format(v, f"0{num_bits}b"): 1 + v % 3 for v in values}

    outcomes = Outcomes.from_counts(counts, num_bits)

    assert outcomes.get_counts() == counts
    assert outcomes.integers() == sorted(values)
    assert outcomes.hex_counts() == {hex(v): 1 + v % 3 for v in values}
    assert outcomes.parities([[num_bits - 1]]).ravel().tolist() == [
        v >> (num_bits - 1) for v in sorted(values)
    ]


def test_a_shuffle_lays_every_counted_outcome_out_once_per_count():
    outcomes = Outcomes.from_counts({"00": 3, "01": 1, "11": 6}, 2)

    shuffled = outcomes.shuffled(np.random.default_rng(5))

    memory = shuffled.get_memory()
    assert len(memory) == 10
    assert {key: memory.count(key) for key in memory} == outcomes.get_counts()
    assert shuffled == outcomes.shuffled(np.random.default_rng(5))
    assert shuffled != outcomes.shuffled(np.random.default_rng(6))


def test_laid_out_outcomes_take_each_bit_from_its_position_and_keep_their_shots():
    outcomes = Outcomes.from_counts({"001": 3, "100": 1, "010": 6}, 3).shuffled(
        np.random.default_rng(2)
    )

    swapped = outcomes.laid_out([2, 1, 0])  # bit 0 from bit 2 and back
    dropped = outcomes.laid_out([1, 0])  # bit 2 left out (never 1 but where bits 0-1 are 0)

    assert swapped.get_counts() == {"100": 3, "001": 1, "010": 6}
    assert swapped.get_memory() == [key[::-1] for key in outcomes.get_memory()]
    assert list(swapped.values[:, -1]) == sorted(swapped.values[:, -1])
    assert dropped.num_bits == 2 and dropped.get_counts() == {"10": 3, "00": 1, "01": 6}
    assert outcomes.laid_out([0, 1, 2]) is outcomes


def test_outcomes_compare_and_pickle_as_values(aer_run):
    circuit, result, registers = aer_run
    memory = result.data(0)["memory"]
    outcomes = Outcomes.from_hex_memory(memory, circuit.num_clbits, registers)

    assert pickle.loads(pickle.dumps(outcomes)) == outcomes
    assert Outcomes.from_hex_memory(memory, circuit.num_clbits, registers) == outcomes
    assert Outcomes.from_hex_memory(memory[::-1], circuit.num_clbits, registers) != outcomes


def test_no_outcome_renders_as_nothing():
    outcomes = Outcomes.empty(3)

    assert outcomes.get_counts() == {} and outcomes.hex_counts() == {}
    assert outcomes.num_shots == 0
    assert Outcomes.from_hex_memory([], 3).get_memory() == []
