"""qiskit-divi's primitives on the parallel simulator against Aer's and Qiskit's reference.

Run ``.venv/bin/python benchmarks/primitives.py`` (``--quick`` for a smoke run). Each
time is the best of several interleaved repetitions of ``run(...).result()``, all on the
same PUB, after one warm-up call each (a variational loop calls again and again, so our
backend's process pool is warm). Ratios divide by Aer's primitive; lower is faster.
Aer's primitives run with Aer's default threading ("Aer"), and again pinned to one
thread ("Aer 1t"), since OpenMP threads suffer badly on a busy machine.

Rows:
  EstimatorV2, exact: a hardware-efficient ansatz (RY/RZ layers, CX ladder), a
      30-term random Pauli Hamiltonian, 50 parameter sets; ours vs
      ``qiskit_aer.primitives.EstimatorV2`` (exact too) and
      ``qiskit.primitives.StatevectorEstimator``.
  SamplerV2: the same ansatz measured, 200 parameter sets, 1024 shots; ours vs
      ``qiskit_aer.primitives.SamplerV2``.
  SamplerV2 over many PUBs: 120 PUBs of one parameter set each, all of that circuit
      (consecutive PUBs of one circuit run as one Aer circuit) or each of its own copy.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from qiskit_divi import EstimatorV2, ParallelSimulatorBackend, SamplerV2

SEED = 1234
TERMS = 30
ONE_THREAD = {"max_parallel_threads": 1}


def hardware_efficient_ansatz(num_qubits: int, reps: int = 2) -> QuantumCircuit:
    """RY and RZ on every qubit, then a CX ladder, ``reps`` times, and a last rotation layer."""
    theta = ParameterVector("theta", 2 * num_qubits * (reps + 1))
    circuit = QuantumCircuit(num_qubits)
    angles = iter(theta)
    for layer in range(reps + 1):
        for qubit in range(num_qubits):
            circuit.ry(next(angles), qubit)
            circuit.rz(next(angles), qubit)
        if layer < reps:
            for qubit in range(num_qubits - 1):
                circuit.cx(qubit, qubit + 1)
    return circuit


def hamiltonian(num_qubits: int, rng: np.random.Generator) -> SparsePauliOp:
    labels = ["".join(rng.choice(list("IXYZ"), num_qubits)) for _ in range(TERMS)]
    return SparsePauliOp(labels, rng.normal(size=TERMS))


def best_times(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each callable over interleaved repetitions, after one warm-up."""
    for run in contenders.values():
        run()
    best = dict.fromkeys(contenders, np.inf)
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def estimator_row(
    backend: ParallelSimulatorBackend, num_qubits: int, sets: int, repeats: int
) -> str:
    rng = np.random.default_rng(SEED + num_qubits)
    circuit = hardware_efficient_ansatz(num_qubits)
    pub = (
        circuit,
        hamiltonian(num_qubits, rng),
        rng.uniform(-np.pi, np.pi, (sets, circuit.num_parameters)),
    )
    ours, aer, reference = EstimatorV2(backend), AerEstimatorV2(), StatevectorEstimator()
    aer_1t = AerEstimatorV2(options={"backend_options": ONE_THREAD})
    evs = {
        "ours": lambda: ours.run([pub]).result()[0].data.evs,
        "aer": lambda: aer.run([pub]).result()[0].data.evs,
        "aer 1t": lambda: aer_1t.run([pub]).result()[0].data.evs,
    }
    times = best_times(evs, repeats)
    # The statevector reference is slow: timed once, after its own warm-up.
    times |= best_times({"statevector": lambda: reference.run([pub]).result()}, 1)
    error = np.abs(evs["ours"]() - evs["aer"]()).max()
    return (
        f"| EstimatorV2 exact, {num_qubits}q x {sets} sets x {TERMS} terms {_columns(times)} "
        f"| {times['statevector']:.3f} | {times['ours'] / times['statevector']:.3f} "
        f"| max diff {error:.1e} |"
    )


def sampler_row(
    backend: ParallelSimulatorBackend, num_qubits: int, sets: int, shots: int, repeats: int
) -> str:
    rng = np.random.default_rng(SEED - num_qubits)
    circuit = hardware_efficient_ansatz(num_qubits).measure_all(inplace=False)
    pub = (circuit, rng.uniform(-np.pi, np.pi, (sets, circuit.num_parameters)))
    ours = SamplerV2(backend, options={"seed": SEED})
    aer = AerSamplerV2(seed=SEED)
    aer_1t = AerSamplerV2(seed=SEED, options={"backend_options": ONE_THREAD})
    bits = {
        "ours": lambda: ours.run([pub], shots=shots).result()[0].data.meas,
        "aer": lambda: aer.run([pub], shots=shots).result()[0].data.meas,
        "aer 1t": lambda: aer_1t.run([pub], shots=shots).result()[0].data.meas,
    }
    times = best_times(bits, repeats)
    same = np.array_equal(bits["ours"]().array, bits["aer"]().array)
    return (
        f"| SamplerV2, {num_qubits}q x {sets} sets x {shots} shots {_columns(times)} "
        f"| | | {'identical bits' if same else 'bits DIFFER'} |"
    )


def sampler_pubs_row(
    backend: ParallelSimulatorBackend,
    num_qubits: int,
    pubs: int,
    shots: int,
    repeats: int,
    *,
    shared: bool,
) -> str:
    """Many PUBs of one parameter set each, as a batch of evaluations sends them: all of
    one circuit (``shared``), or each of its own circuit object."""
    rng = np.random.default_rng(SEED + pubs)
    circuit = hardware_efficient_ansatz(num_qubits).measure_all(inplace=False)
    batch = [
        (circuit if shared else circuit.copy(), rng.uniform(-np.pi, np.pi, circuit.num_parameters))
        for _ in range(pubs)
    ]
    ours = SamplerV2(backend, options={"seed": SEED})
    aer = AerSamplerV2(seed=SEED)
    aer_1t = AerSamplerV2(seed=SEED, options={"backend_options": ONE_THREAD})
    results = {
        "ours": lambda: ours.run(batch, shots=shots).result(),
        "aer": lambda: aer.run(batch, shots=shots).result(),
        "aer 1t": lambda: aer_1t.run(batch, shots=shots).result(),
    }
    times = best_times(results, repeats)
    ours_bits = [pub.data.meas.array for pub in results["ours"]()]
    aer_bits = [pub.data.meas.array for pub in results["aer"]()]
    same = all(np.array_equal(a, b) for a, b in zip(ours_bits, aer_bits, strict=True))
    kind = "one circuit" if shared else "own circuits"
    return (
        f"| SamplerV2, {num_qubits}q x {pubs} PUBs ({kind}) x {shots} shots {_columns(times)} "
        f"| | | {'identical bits' if same else 'bits DIFFER'} |"
    )


def _columns(times: dict[str, float]) -> str:
    """Ours, Aer, Aer on one thread: times and ratios."""
    ours, aer, aer_1t = times["ours"], times["aer"], times["aer 1t"]
    return f"| {ours:.3f} | {aer:.3f} | {aer_1t:.3f} | {ours / aer:.2f} | {ours / aer_1t:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    args = parser.parse_args()
    repeats = 1 if args.quick else 5
    backend = ParallelSimulatorBackend()
    backend.engine.warm_up()
    print(f"{backend.n_processes} processes; seconds, best of {repeats}")
    print(
        "| workload | ours (s) | Aer (s) | Aer 1t (s) | ours / Aer | ours / Aer 1t "
        "| statevector (s) | ours / sv | check |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    if args.quick:
        print(estimator_row(backend, 8, 10, repeats))
        print(sampler_row(backend, 8, 20, 256, repeats))
        print(sampler_pubs_row(backend, 8, 20, 256, repeats, shared=True))
    else:
        for num_qubits in (12, 16):
            print(estimator_row(backend, num_qubits, 50, repeats))
        for num_qubits in (6, 12):
            print(sampler_row(backend, num_qubits, 200, 1024, repeats))
        for num_qubits in (6, 12):
            for shared in (True, False):
                print(sampler_pubs_row(backend, num_qubits, 120, 1024, repeats, shared=shared))
    backend.close()


if __name__ == "__main__":
    main()
