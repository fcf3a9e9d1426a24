"""Which measurements are final, how many branches a dynamic circuit has, and which
measurement noise exact values follow."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit_aer.noise import NoiseModel, ReadoutError

from qiskit_divi.exceptions import InvalidCircuitError, InvalidInputError
from qiskit_divi.simulator.dynamic import (
    MAX_BRANCHES,
    ReadoutErrors,
    check_branches,
    is_dynamic,
    without_final_measurements,
)


def measured_ops(circuit: QuantumCircuit) -> list[tuple[int, int]]:
    """(qubit, clbit) of each top-level measurement, in order."""
    return [
        (circuit.find_bit(i.qubits[0]).index, circuit.find_bit(i.clbits[0]).index)
        for i in circuit.data
        if i.operation.name == "measure"
    ]


def test_measurements_nothing_follows_are_final() -> None:
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    stripped = without_final_measurements(circuit)
    assert measured_ops(stripped) == []
    assert [i.operation.name for i in stripped.data] == ["h", "cx", "barrier"]
    assert measured_ops(circuit) == [(0, 0), (1, 1), (2, 2)]  # the input is left alone


def test_a_measurement_a_later_gate_or_condition_needs_is_kept() -> None:
    qubits, bits = QuantumRegister(4), ClassicalRegister(3)
    circuit = QuantumCircuit(qubits, bits)
    circuit.h([0, 1, 2])
    circuit.measure(0, 0)  # read by the condition below
    circuit.measure(1, 1)  # its qubit is acted on again
    circuit.measure(2, 2)  # final: its bit is only overwritten later
    circuit.x(1)
    with circuit.if_test((bits[0], 1)):
        circuit.z(3)
    circuit.measure(1, 2)  # final
    circuit.measure(1, 1)  # final too: only final measurements follow it on qubit 1
    assert measured_ops(without_final_measurements(circuit)) == [(0, 0), (1, 1)]


def test_the_issues_feed_forward_keeps_its_measurement() -> None:
    circuit = QuantumCircuit(2, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(1)
    stripped = without_final_measurements(circuit)
    assert measured_ops(stripped) == [(0, 0)]
    assert is_dynamic(stripped)
    assert not is_dynamic(without_final_measurements(QuantumCircuit(2).measure_all(False)))


def test_a_condition_on_a_register_reads_all_its_bits() -> None:
    bits = ClassicalRegister(2)
    circuit = QuantumCircuit(QuantumRegister(2), bits)
    circuit.measure([0, 1], bits)
    with circuit.switch(bits) as case, case(3):
        circuit.x(0)
    assert measured_ops(without_final_measurements(circuit)) == [(0, 0), (1, 1)]


def read_measurements(count: int, loops: int = 1) -> QuantumCircuit:
    """``count`` measurements whose records a condition reads, ``loops`` times over."""
    bits = ClassicalRegister(count)
    circuit = QuantumCircuit(QuantumRegister(count + 1), bits, name=f"reads{count}x{loops}")
    with circuit.for_loop(range(loops)):
        circuit.h(range(count))
        circuit.measure(range(count), bits)
        with circuit.if_test((bits, 1)):
            circuit.x(count)
    return circuit


def test_branches_are_counted_per_record_read() -> None:
    log2 = int(np.log2(MAX_BRANCHES))
    check_branches("fits", read_measurements(log2))
    check_branches("fits", read_measurements(log2 // 2, loops=2))
    with pytest.raises(InvalidCircuitError, match=f"reads{log2 + 1}x1.*reads {log2 + 1} meas"):
        check_branches(f"reads{log2 + 1}x1", read_measurements(log2 + 1))
    with pytest.raises(InvalidCircuitError, match="reads 12 measurement records"):
        check_branches("loop", read_measurements(4, loops=3))


def test_measurements_nothing_reads_do_not_branch() -> None:
    circuit = QuantumCircuit(20, 20)
    circuit.h(range(20))
    circuit.measure(range(20), range(20))
    circuit.h(range(20))  # every measurement is mid-circuit, none is read
    check_branches("unread", without_final_measurements(circuit))


def test_readout_errors_are_read_per_qubit_with_a_default() -> None:
    noise = NoiseModel()
    default, third = ReadoutError([[0.9, 0.1], [0.2, 0.8]]), ReadoutError([[0.7, 0.3], [0, 1]])
    noise.add_all_qubit_readout_error(default)
    noise.add_readout_error(third, [3])
    readout = ReadoutErrors.of(noise)
    np.testing.assert_array_equal(readout(0), default.probabilities)
    np.testing.assert_array_equal(readout(3), third.probabilities)
    np.testing.assert_array_equal(ReadoutErrors.of(None)(5), np.eye(2))


def test_correlated_readout_errors_are_refused() -> None:
    noise = NoiseModel()
    noise.add_readout_error(ReadoutError(np.full((4, 4), 0.25)), [0, 1])
    with pytest.raises(InvalidInputError, match="readout errors on several qubits"):
        ReadoutErrors.of(noise)
