"""The OpenQASM 2 export every Qoro path uses: text that readers with only the paper's
qelib1.inc take, and that means the circuit it came from."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2
from qiskit.circuit import Clbit, Gate, Instruction, Parameter
from qiskit.circuit.library import UnitaryGate, get_standard_gate_name_mapping
from qiskit.quantum_info import DensityMatrix, Operator, Statevector

from qiskit_divi.circuits import QasmLayout, parse_qasm, to_qasm, to_qasm_template
from qiskit_divi.exceptions import InvalidCircuitError

#: Standard instructions that are no unitary gate on some qubits.
_NOT_GATES = {"measure", "reset", "barrier", "delay", "global_phase"}


def _standard_gate(name: str) -> QuantumCircuit:
    gate = get_standard_gate_name_mapping()[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    gate = gate.base_class(*rng.uniform(-np.pi, np.pi, len(gate.params)))
    circuit = QuantumCircuit(gate.num_qubits, name=name)
    circuit.append(gate, range(gate.num_qubits))
    return circuit


@pytest.mark.parametrize(
    "name", sorted(set(get_standard_gate_name_mapping()) - _NOT_GATES), ids=str
)
def test_every_standard_gate_reads_back_as_itself_with_only_qelib1(name):
    circuit = _standard_gate(name)
    text = to_qasm(name, circuit)
    # Strictly (Qiskit's legacy gates defined in the text) and as the local server reads it.
    for read in (qasm2.loads(text), parse_qasm(name, text)):
        assert Operator(read).equiv(Operator(circuit))


def test_circuits_of_qelib1_gates_are_written_as_qiskit_writes_them():
    circuit = QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.rx(0.25, 2)
    circuit.measure(range(3), range(3))
    assert to_qasm("plain", circuit) == qasm2.dumps(circuit)


def test_a_legacy_gate_is_defined_once_before_it_is_used():
    circuit = QuantumCircuit(3, 3)
    for pair in [(0, 1), (1, 2), (0, 2)]:
        circuit.rzz(0.5, *pair)
    circuit.measure(range(3), range(3))
    text = to_qasm("qaoa", circuit)
    assert text.count("gate rzz(") == 1
    assert text.index("gate rzz(") < text.index("rzz(0.5) q[0],q[1];")


def _initialized(state: object) -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="initialized")
    circuit.h(0)
    circuit.initialize(state, [0, 1])
    circuit.cx(0, 1)
    return circuit


def _measuring_instruction() -> QuantumCircuit:
    inner = QuantumCircuit(1, 1, name="measure_x")
    inner.h(0)
    inner.measure(0, 0)
    circuit = QuantumCircuit(2, 1, name="custom")
    circuit.x(1)
    circuit.append(inner.to_instruction(), [0], [0])
    return circuit


def _prepared() -> QuantumCircuit:
    circuit = QuantumCircuit(1, name="prepared")
    circuit.prepare_state([1 / np.sqrt(2), -1j / np.sqrt(2)], 0)
    return circuit


@pytest.mark.parametrize(
    "circuit",
    [
        _initialized([0.6, 0, 0, 0.8]),
        _initialized([0.5, 0.5j, -0.5, -0.5j]),  # complex amplitudes
        _initialized("+1"),  # a label
        _initialized(2),  # a basis state
        _prepared(),
    ],
    ids=["real", "complex", "label", "integer", "prepare_state"],
)
def test_instructions_openqasm2_cannot_call_are_written_as_their_definitions(circuit):
    text = to_qasm(circuit.name, circuit)
    strict = qasm2.loads(text)
    served = parse_qasm(circuit.name, text)
    assert "initialize" not in text and "state_preparation" not in text
    expected = DensityMatrix(circuit).probabilities()
    for read in (strict, served):
        assert DensityMatrix(read).probabilities() == pytest.approx(expected, abs=1e-12)


def test_an_instruction_holding_a_measurement_is_written_as_its_contents():
    text = to_qasm("custom", _measuring_instruction())
    read = qasm2.loads(text)
    steps = [
        (
            step.name,
            [read.find_bit(q).index for q in step.qubits],
            [read.find_bit(c).index for c in step.clbits],
        )
        for step in read.data
    ]
    assert steps == [("x", [1], []), ("h", [0], []), ("measure", [0], [0])]


def test_gates_with_matrices_travel_as_gate_definitions():
    circuit = QuantumCircuit(1, 1)
    circuit.append(UnitaryGate([[0, 1], [1, 0]]), [0])
    circuit.measure(0, 0)
    text = to_qasm("flip", circuit)
    assert "gate unitary" in text
    assert Statevector(qasm2.loads(text).remove_final_measurements(inplace=False)).equiv(
        Statevector([0, 1])
    )


def test_text_qelib1_readers_would_refuse_is_refused_naming_the_circuit():
    # Named like a 4-qubit legacy gate, which Qiskit's exporter calls without a definition.
    clash = QuantumCircuit(2, name="c3x")
    clash.h(0)
    circuit = QuantumCircuit(2, name="clash")
    circuit.append(clash.to_gate(), [0, 1])
    circuit.measure_all()
    with pytest.raises(InvalidCircuitError, match=r"'clash'.*'c3x' takes 4 quantum arguments"):
        to_qasm("clash", circuit)


def test_an_instruction_without_a_definition_is_still_refused_by_name():
    circuit = QuantumCircuit(1, 1)
    circuit.append(Instruction("mystery", 1, 0, []), [0])
    with pytest.raises(InvalidCircuitError, match=r"'odd'.*'mystery'.*opaque"):
        to_qasm("odd", circuit)
    circuit = QuantumCircuit(1)
    circuit.append(Gate("enigma", 1, []), [0])
    with pytest.raises(InvalidCircuitError, match=r"'odd'.*'enigma'.*opaque"):
        to_qasm("odd", circuit)


# -- parametric templates -----------------------------------------------------------------


def _filled(template, values) -> QuantumCircuit:
    """The template as the local server fills it in for one row of values."""
    from qiskit_divi.server.app import bind_template

    return parse_qasm(
        "row",
        bind_template(template.qasm, dict(zip(template.parameter_names, values, strict=True))),
    )


def test_a_template_filled_in_is_the_bound_circuit():
    from qiskit.circuit import ParameterVector

    t = ParameterVector("t", 3)
    theta, pi, c = Parameter("theta"), Parameter("pi"), Parameter("c")
    circuit = QuantumCircuit(2, 2)
    circuit.ry(t[0], 0)
    circuit.rz(2 * t[1] - 0.5, 1)
    circuit.rzz(theta / 3 + t[2], 0, 1)
    circuit.u(t[0], -t[1], 1.0, 0)
    circuit.rx(1e-7 * pi + c, 1)
    circuit.cx(0, 1)
    template = to_qasm_template("sweep", circuit)
    # ParameterVector elements, OpenQASM's ``pi`` and a register's name are renamed.
    assert template.parameter_names == ("p0", "p1", "p2", "p3", "p4", "theta")
    assert "ry(p2) q[0];" in template.qasm
    rng = np.random.default_rng(3)
    for values in rng.uniform(-4, 4, (5, circuit.num_parameters)):
        bound = circuit.assign_parameters(values)
        assert Operator(_filled(template, values)).equiv(Operator(bound))


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda c, a, b: c.ry(a * b, 0), "not linear"),
        (lambda c, a, b: c.ry(a**2, 0), "not linear"),
        (lambda c, a, b: c.ry(1j * a, 0), "complex coefficient"),
        (lambda c, a, b: c.append(_custom(a), [0]), "only a standard gate"),
    ],
)
def test_what_no_template_can_carry_is_refused_by_name(build, reason):
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(1, name="odd")
    circuit.rx(b, 0)
    build(circuit, a, b)
    with pytest.raises(InvalidCircuitError, match=f"circuit 'odd'.*{reason}"):
        to_qasm_template("odd", circuit)


def test_a_circuit_without_parameters_is_no_template():
    with pytest.raises(InvalidCircuitError, match="no parameters"):
        to_qasm_template("plain", QuantumCircuit(1))


def _custom(parameter: Parameter):
    inner = QuantumCircuit(1, name="wrapped")
    inner.rz(parameter, 0)
    return inner.to_gate()


# -- the classical layout the text declares


def _with_bits(build) -> QuantumCircuit:
    """Two qubits, four classical bits (some maybe in no register), registers by ``build``."""
    bits = [Clbit() for _ in range(4)]
    circuit = QuantumCircuit(QuantumRegister(2, "q"), bits)
    for register in build(bits):
        circuit.add_register(register)
    circuit.x(0)
    circuit.measure([0, 1], [bits[0], bits[3]])
    return circuit


def _registers(*pieces: tuple[str, list[int]]):
    return lambda bits: [ClassicalRegister(bits=[bits[i] for i in at], name=n) for n, at in pieces]


@pytest.mark.parametrize(
    "build",
    [
        _registers(("a", [0, 1]), ("b", [2, 3])),
        _registers(),
        _registers(("r", [3, 1])),
        _registers(("a", [0, 1, 2]), ("b", [1, 2, 3])),
        _registers(("c", [2, 3]), ("d", [0])),
    ],
    ids=["registers", "loose", "loose and a register", "overlapping", "out of bit order"],
)
def test_the_classical_layout_is_where_the_exporter_measures_each_bit(build):
    circuit = _with_bits(build)
    text = qasm2.dumps(circuit)
    declared = qasm2.loads(text).cregs
    sizes = [register.size for register in declared]
    offsets = dict(
        zip((r.name for r in declared), itertools.accumulate([0, *sizes]), strict=False)
    )
    written = [offsets[name] + int(i) for name, i in re.findall(r"-> (\w+)\[(\d+)\];", text)]

    layout = QasmLayout.of(circuit)

    assert layout.width == sum(sizes)
    assert written == [layout.positions[0], layout.positions[3]]  # what _with_bits measures
