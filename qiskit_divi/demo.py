"""``qiskit-divi demo``: the package's main paths, end to end, on the embedded defaults.

It runs a QAOA batch on the parallel simulator (noiseless, then with a fake IBM
backend's noise), and the same kind of work through the Qoro path against a local
server on loopback, so a fresh install shows every face working with no account.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import QAOAAnsatz
from qiskit.quantum_info import SparsePauliOp

from .qoro.backend import QoroBackend

_SHOTS = 1000


def run_demo(print_line: Callable[[str], None] = print) -> None:
    """Run every section in turn; raises if any result is off."""
    _simulator_section(print_line)
    _qoro_section(print_line)


def _simulator_section(say: Callable[[str], None]) -> None:
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    from .backends import ParallelSimulator

    say("== ParallelSimulator (Divi's documented API) ==")
    batch = _qaoa_batch(count=200, num_qubits=10)
    simulator = ParallelSimulator(shots=_SHOTS, seed=42)
    started = time.perf_counter()
    results = simulator.submit_circuits(batch)
    elapsed = time.perf_counter() - started
    say(
        f"{len(results)} QAOA circuits x {_SHOTS} shots on {simulator.n_processes} "
        f"processes: {elapsed:.2f} s"
    )
    best = max(results[0]["results"].items(), key=lambda item: item[1])
    say(f"{results[0]['label']}: most frequent cut {best[0]} ({best[1]} shots)")

    ghz = {"ghz": _ghz(3)}
    ideal = ParallelSimulator(shots=_SHOTS, seed=7).submit_circuits(ghz)[0]["results"]
    noisy_backend = ParallelSimulator(shots=_SHOTS, seed=7, qiskit_backend=FakeManilaV2())
    noisy = noisy_backend.submit_circuits(ghz)[0]["results"]
    say(
        f"GHZ-3 fidelity proxy P(000)+P(111): noiseless {_ghz_weight(ideal):.3f}, "
        f"FakeManilaV2 noise {_ghz_weight(noisy):.3f}"
    )
    simulator.close()
    noisy_backend.close()


def _qoro_section(say: Callable[[str], None]) -> None:
    from .backends import JobType, QoroService
    from .provider import DiviProvider
    from .server import LocalServer

    with LocalServer(tokens=("demo-token",), seed=11) as server:
        say(f"== Qoro path, against a local Qoro-compatible server at {server.url} ==")
        service = QoroService(auth_token=server.token, api_url=server.url, shots=_SHOTS)
        service.test_connection()
        job_id = service.submit_circuits(_qaoa_batch(count=20, num_qubits=6))
        service.poll_job_status(job_id, loop_until_complete=True, progress=False)
        results = service.get_job_results(job_id)
        say(f"QoroService: job {job_id} gave {len(results)} histograms")

        expectation_job = service.submit_circuits(
            {"bell": _bell(measure=False)}, job_type=JobType.ESTIMATE, observables="ZZ;XX;ZI"
        )
        service.poll_job_status(expectation_job, loop_until_complete=True, progress=False)
        values = service.get_job_results(expectation_job)[0]["results"]
        shown = ", ".join(f"<{term}> = {value:.3f}" for term, value in values.items())
        say(f"QoroService ESTIMATE on a Bell state: {shown}")

        provider = DiviProvider(auth_token=server.token, api_url=server.url)
        qoro = provider.get_backend("qoro")
        job = qoro.run([_bell(), _ghz(3)], shots=_SHOTS)
        counts = job.result(timeout=120).get_counts()
        say(f"DiviProvider().get_backend('qoro') = {qoro.name}: job {job.job_id()}")
        say(f"  bell {dict(sorted(counts[0].items()))}  ghz {dict(sorted(counts[1].items()))}")
        again = provider.retrieve_job(job.job_id()).result().get_counts()
        say(f"  retrieve_job({job.job_id()!r}) gives the same counts: {again == counts}")
        _estimator_line(say, qoro)


def _estimator_line(say: Callable[[str], None], backend: QoroBackend) -> None:
    from .primitives import EstimatorV2

    estimator = EstimatorV2(backend)
    observable = SparsePauliOp.from_list([("ZZ", 1.0), ("XX", 0.5)])
    evs = estimator.run([(_bell(measure=False), observable)]).result()[0].data.evs
    say(f"EstimatorV2 on {backend.name}: <ZZ + 0.5 XX> = {float(evs):.3f}")


def _qaoa_batch(count: int, num_qubits: int) -> dict[str, QuantumCircuit]:
    """A sweep of one-layer MaxCut QAOA circuits on a ring, as a variational loop sends."""
    edges = [(i, (i + 1) % num_qubits) for i in range(num_qubits)]
    cost = SparsePauliOp.from_sparse_list([("ZZ", list(e), 1.0) for e in edges], num_qubits)
    ansatz = QAOAAnsatz(cost, reps=1)
    ansatz.measure_all()
    ansatz = ansatz.decompose(reps=2)
    rng = np.random.default_rng(0)
    return {
        f"qaoa_{i}": ansatz.assign_parameters(rng.uniform(0, np.pi, ansatz.num_parameters))
        for i in range(count)
    }


def _bell(measure: bool = True) -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def _ghz(num_qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits, name=f"ghz{num_qubits}")
    circuit.h(0)
    for qubit in range(1, num_qubits):
        circuit.cx(0, qubit)
    circuit.measure_all()
    return circuit


def _ghz_weight(counts: Mapping[str, int]) -> float:
    width = len(next(iter(counts)))
    return (counts.get("0" * width, 0) + counts.get("1" * width, 0)) / sum(counts.values())
