"""The Qoro path end to end: Qiskit backends, primitives and Divi's QoroService.

With QORO_API_KEY set (and, optionally, QORO_API_URL), this talks to that Qoro
Service. Without it, it starts qiskit-divi's local Qoro-compatible server on
127.0.0.1 and runs everything there, so it works with no account.

Run: python examples/qoro_path.py
"""

import os

from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_divi import DiviProvider, EstimatorV2, SamplerV2
from qiskit_divi.backends import JobType, QoroService


def bell_pair() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def tour(provider: DiviProvider, service: QoroService, polling_interval: float) -> None:
    bell = bell_pair()
    print("backends:", ", ".join(backend.name for backend in provider.backends()))

    # Qiskit: a QoroBackend; one run() is one Qoro job, whose id is the job's id.
    qoro = provider.get_backend("qoro", polling_interval=polling_interval)
    job = qoro.run(bell, shots=1000)
    print(f"backend.run  job {job.job_id()}: {job.result().get_counts()}")
    again = provider.retrieve_job(job.job_id())
    print(f"retrieve_job same counts: {again.result().get_counts() == job.result().get_counts()}")

    # Qiskit primitives on the same system: sampling, and server-side expectation values.
    sampled = SamplerV2(qoro).run([bell], shots=1000).result()[0].data.meas
    print(f"SamplerV2    {sampled.get_counts()}")
    state = bell.remove_final_measurements(inplace=False)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    values = EstimatorV2(qoro).run([(state, observables)]).result()[0].data.evs
    print(f"EstimatorV2  <ZZ>, <XX>, <ZI> = {values.round(3).tolist()}")

    # Divi's documented API: labelled circuits, job ids, plain dictionaries.
    job_id = service.submit_circuits({"bell": bell}, job_type=JobType.SIMULATE)
    service.poll_job_status(job_id, loop_until_complete=True)
    (entry,) = service.get_job_results(job_id)
    print(f"QoroService  job {job_id}: {entry['results']}")


def main() -> None:
    if os.environ.get("QORO_API_KEY"):
        print(f"using the Qoro Service at {os.environ.get('QORO_API_URL', 'its default URL')}")
        tour(DiviProvider(), QoroService(), polling_interval=3.0)
        return

    from qiskit_divi.server import LocalServer  # needs the 'server' extra

    print("QORO_API_KEY is not set: running against a local Qoro-compatible server")
    with LocalServer() as server:
        provider = DiviProvider(auth_token=server.token, api_url=server.url)
        service = QoroService(auth_token=server.token, api_url=server.url, polling_interval=0.1)
        tour(provider, service, polling_interval=0.1)


if __name__ == "__main__":
    main()
