"""The Qoro codec's throughput, against plain-JSON references measured in the same run.

Run ``.venv/bin/python benchmarks/codec.py`` (``--quick`` for a smoke run). Every time
is the best of several interleaved repetitions. Rows:

  decode QH1          decode_histogram of N distinct outcomes rendered as a counts
                      dictionary (``.get_counts()``), against json.loads of the same
                      counts as a JSON object, and against the floor any decoder
                      returning a dict pays: dict(zip(keys, counts)) over strings that
                      already exist; "typed" is decode_histogram alone (the Outcomes
                      every face starts from)
  encode QH1          encode_histogram of the same outcomes (as the local server encodes
                      the engine's), against json.dumps of the counts
  decode/encode QH2   the exact-integer path of registers wider than 63 bits
  pack + chunk        pack_circuit and chunk_circuits of 10,000 QAOA circuits, against
                      json.dumps of their plain text (the upload without compression)
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable

from qiskit import QuantumCircuit, qasm2

from qiskit_divi.outcomes import Outcomes
from qiskit_divi.qoro.codec import chunk_circuits, decode_histogram, encode_histogram, pack_circuit

SEED = 2024


def best_of(repeats: int, *runs: Callable[[], object]) -> list[float]:
    """The best time of each run over ``repeats`` interleaved rounds."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def histogram(n_outcomes: int, n_bits: int, rand: random.Random) -> dict[str, int]:
    """Distinct random outcomes with counts from 1 to 4 (about a quarter of them 1)."""
    outcomes: set[int] = set()
    while len(outcomes) < n_outcomes:
        outcomes.add(rand.getrandbits(n_bits))
    return {format(k, f"0{n_bits}b"): rand.randint(1, 4) for k in outcomes}


def qaoa_qasm(n_qubits: int, layers: int, rand: random.Random) -> str:
    circuit = QuantumCircuit(n_qubits, n_qubits)
    circuit.h(range(n_qubits))
    for _ in range(layers):
        for q in range(n_qubits):
            circuit.rzz(rand.uniform(0, math.pi), q, (q + 1) % n_qubits)
        for q in range(n_qubits):
            circuit.rx(rand.uniform(0, math.pi), q)
    circuit.measure(range(n_qubits), range(n_qubits))
    return qasm2.dumps(circuit)


def histogram_rows(label: str, counts: dict[str, int], n_bits: int, repeats: int) -> None:
    outcomes = Outcomes.from_counts(counts, n_bits)
    encoded = encode_histogram(outcomes)
    assert decode_histogram(encoded).get_counts() == counts
    text = json.dumps(counts)
    keys, values = list(counts), list(counts.values())
    decode, typed, loads, floor = best_of(
        repeats,
        lambda: decode_histogram(encoded).get_counts(),
        lambda: decode_histogram(encoded),
        lambda: json.loads(text),
        lambda: dict(zip(keys, values, strict=True)),
    )
    encode, dumps = best_of(
        repeats, lambda: encode_histogram(outcomes), lambda: json.dumps(counts)
    )
    n = len(counts)
    print(
        f"decode {label:<22} {decode:7.3f} s  {n / decode / 1e6:5.2f} M/s  "
        f"{decode / loads:5.2f}x json.loads  {decode / floor:5.2f}x dict floor  "
        f"(typed {typed:.3f} s)"
    )
    print(
        f"encode {label:<22} {encode:7.3f} s  {n / encode / 1e6:5.2f} M/s  "
        f"{encode / dumps:5.2f}x json.dumps"
    )
    print(
        f"       payload {len(encoded['payload']) / 1e6:.2f} MB base64 "
        f"vs {len(text) / 1e6:.2f} MB JSON"
    )


def packing_row(n_circuits: int, repeats: int, rand: random.Random) -> None:
    circuits = {f"circuit_{i}": qaoa_qasm(10, 2, rand) for i in range(n_circuits)}

    def pack_and_chunk() -> list[dict[str, str]]:
        return chunk_circuits({label: pack_circuit(qasm) for label, qasm in circuits.items()})

    chunks = pack_and_chunk()
    packed, plain = best_of(repeats, pack_and_chunk, lambda: json.dumps(circuits))
    raw = sum(len(q) for q in circuits.values())
    sent = sum(len(label) + len(data) for chunk in chunks for label, data in chunk.items())
    print(
        f"pack + chunk {n_circuits} circuits   {packed:7.3f} s  "
        f"{n_circuits / packed:7.0f} circuits/s  "
        f"{packed / plain:5.1f}x json.dumps; {raw / 1e6:.1f} MB of QASM -> "
        f"{sent / 1e6:.1f} MB in {len(chunks)} requests"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    args = parser.parse_args()
    n, wide_n, circuits, repeats = (
        (20_000, 2_000, 500, 1) if args.quick else (1_000_000, 100_000, 10_000, 3)
    )
    rand = random.Random(SEED)
    histogram_rows(f"QH1 {n:,} x 24 bits", histogram(n, 24, rand), 24, repeats)
    histogram_rows(f"QH1 {n:,} x 48 bits", histogram(n, 48, rand), 48, repeats)
    histogram_rows(f"QH2 {wide_n:,} x 300 bits", histogram(wide_n, 300, rand), 300, repeats)
    packing_row(circuits, repeats, rand)


if __name__ == "__main__":
    main()
