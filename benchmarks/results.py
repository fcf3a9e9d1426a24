"""From a Qoro result to what a user holds: decoded outcomes as a SamplerV2 ``BitArray``
and as a counts dictionary, against references measured in the same run.

Run ``.venv/bin/python benchmarks/results.py`` (``--quick`` for a smoke run). The payload
is QH1 of N distinct random 40-bit outcomes; every time is the best of several
interleaved repetitions. Rows:

  decode        decode_histogram: the payload to typed outcomes, no text made
  BitArray      SamplerV2's finish step on the decoded result of a 40-bit register
                measured once per outcome (N shots): shots laid out in their job-seeded
                order and packed into the PUB's BitArray. Reference: Qiskit's
                ``BitArray.from_counts`` of the same counts as a bitstring dictionary
                (shots in counted order, not shuffled). Target: under 0.1 s for N = 10**6.
                A second line counts each outcome 1-4 times (about 2.5 N shots).
  counts dict   decode_histogram(...).get_counts(), as QoroService renders results.
                References: ``json.loads`` of the same counts as a JSON object, and the
                floor any ``dict[str, int]`` pays, ``dict(zip(keys, counts))`` over
                strings that already exist. Target: under 0.6 s for N = 10**6.
"""

from __future__ import annotations

import argparse
import json
import random

from codec import best_of
from qiskit import QuantumCircuit
from qiskit.primitives.containers import BitArray
from qiskit.primitives.containers.sampler_pub import SamplerPub

from qiskit_divi.outcomes import Outcomes
from qiskit_divi.primitives.pubs import sample_work
from qiskit_divi.primitives.sampler import _results
from qiskit_divi.qoro.codec import decode_histogram, encode_histogram
from qiskit_divi.qoro.execution import _Sampling, wire_jobs
from qiskit_divi.qoro.protocol import JobType

SEED = 2024
BITS = 40


def histogram(n_outcomes: int, most: int, rand: random.Random) -> dict[str, int]:
    """Distinct random outcomes, each counted 1 to ``most`` times."""
    outcomes: set[int] = set()
    while len(outcomes) < n_outcomes:
        outcomes.add(rand.getrandbits(BITS))
    return {format(k, f"0{BITS}b"): rand.randint(1, most) for k in outcomes}


def bit_array_row(counts: dict[str, int], repeats: int) -> None:
    """SamplerV2's finish step on a decoded Qoro result, against BitArray.from_counts."""
    decoded = decode_histogram(encode_histogram(Outcomes.from_counts(counts, BITS)))
    circuit = QuantumCircuit(BITS)
    circuit.measure_all()
    shots = sum(counts.values())
    pubs = [SamplerPub.coerce(circuit, shots)]
    work = sample_work(pubs)
    jobs, sampling = wire_jobs(work, JobType.SIMULATE), _Sampling(work, memory=True)

    def ours() -> BitArray:
        return _results(pubs, {}, sampling(["benchmark-job"], jobs, [[decoded]]))[0].data.meas

    assert ours().get_counts() == counts
    ours_time, qiskit_time = best_of(repeats, ours, lambda: BitArray.from_counts(counts, BITS))
    print(
        f"BitArray     {len(counts):>9,} x {BITS} bits, {shots:>9,} shots  {ours_time:7.3f} s  "
        f"{ours_time / qiskit_time:5.3f}x BitArray.from_counts ({qiskit_time:.2f} s)"
    )


def decode_rows(counts: dict[str, int], repeats: int) -> None:
    """The payload to typed outcomes, and on to a counts dictionary."""
    encoded = encode_histogram(Outcomes.from_counts(counts, BITS))
    assert decode_histogram(encoded).get_counts() == counts
    text = json.dumps(counts)
    keys, values = list(counts), list(counts.values())
    decode, to_dict, loads, floor = best_of(
        repeats,
        lambda: decode_histogram(encoded),
        lambda: decode_histogram(encoded).get_counts(),
        lambda: json.loads(text),
        lambda: dict(zip(keys, values, strict=True)),
    )
    n = len(counts)
    print(f"decode       {n:>9,} x {BITS} bits                    {decode:7.3f} s")
    print(
        f"counts dict  {n:>9,} x {BITS} bits                    {to_dict:7.3f} s  "
        f"{to_dict / loads:5.2f}x json.loads ({loads:.2f} s)  "
        f"{to_dict / floor:5.2f}x dict floor ({floor:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    args = parser.parse_args()
    n, repeats = (20_000, 1) if args.quick else (1_000_000, 3)
    rand = random.Random(SEED)
    once = histogram(n, 1, rand)
    decode_rows(once, repeats)
    bit_array_row(once, repeats)
    bit_array_row(histogram(n, 4, rand), repeats)


if __name__ == "__main__":
    main()
