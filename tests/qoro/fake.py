"""A small in-memory Qoro Service behind requests-mock, for tests of whole workflows.

It takes either wire dialect: shots in ``job/init/`` or with the circuits, observables
plain or as ``@gzs`` groups (one group per job here), and lists ``qoro_maestro`` as a
simulator cluster.

It keeps the jobs it is sent and answers their status and results from them: each
sampling circuit measures half its shots as all zeros and half as all ones, each
expectation circuit gives every term the value 0.5. Tests script the rest (statuses,
failures) per job.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import requests_mock

from qiskit_divi.circuits import parse_qasm
from qiskit_divi.outcomes import Outcomes
from qiskit_divi.qoro.codec import (
    decode_observable_groups,
    decode_observables,
    encode_histogram,
    encode_observables,
    unpack_circuit,
)
from qiskit_divi.qoro.protocol import RESULTS_PAGE_LIMIT

from .wire import API_URL, TOKEN, qpu_systems_body

_JOB = re.escape(API_URL) + r"/job/(?P<id>[^/]+)"


@dataclass
class FakeJob:
    init: dict[str, Any]
    circuits: dict[str, str] = field(default_factory=dict)
    observables: str | None = None
    shots: int | None = None
    finalized: bool = False
    statuses: deque[str] = field(default_factory=lambda: deque(["COMPLETED"]))
    reason: str | None = None

    @property
    def status(self) -> str:
        return self.statuses[0]

    def poll(self) -> str:
        """The status now; scripted statuses advance one per poll, the last one stays."""
        status = self.statuses[0]
        if len(self.statuses) > 1:
            self.statuses.popleft()
        return status

    def results(self) -> list[dict[str, Any]]:
        shots = self.shots or self.init.get("shots", 0)
        entries = []
        for label, qasm in self.circuits.items():
            if self.observables is not None:
                results: dict = dict.fromkeys(decode_observables(self.observables), 0.5)
            else:
                n_bits = parse_qasm(label, qasm).num_clbits
                counts = {"0" * n_bits: shots // 2, "1" * n_bits: shots - shots // 2}
                results = encode_histogram(Outcomes.from_counts(counts, n_bits))
            entries.append({"label": label, "results": results})
        return entries


class FakeQoro:
    """Registers the service's endpoints on a requests-mock ``Mocker``."""

    def __init__(self, http: requests_mock.Mocker) -> None:
        self.jobs: dict[str, FakeJob] = {}
        http.get(API_URL, json=self._ping)
        http.get(f"{API_URL}/qpusystem/", json=qpu_systems_body())
        http.get(f"{API_URL}/simulatorcluster/", json=[{"name": "qoro_maestro"}])
        http.post(f"{API_URL}/job/init/", json=self._init)
        http.post(re.compile(_JOB + "/add_circuits/$"), json=self._add)
        http.get(re.compile(_JOB + "/status/$"), json=self._status)
        http.get(re.compile(_JOB + r"/resultsV2/\?"), json=self._results)
        http.post(re.compile(_JOB + "/cancel/$"), json=self._cancel)
        http.delete(re.compile(_JOB + "$"), json=self._delete)

    def fail(self, job_id: str, reason: str) -> None:
        self.jobs[job_id].statuses = deque(["FAILED"])
        self.jobs[job_id].reason = reason

    def _job(self, request, context) -> FakeJob | None:
        job = self.jobs.get(_job_id(request))
        if job is None:
            context.status_code = 404
        return job

    def _ping(self, request, context):
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            context.status_code = 401
            return {"detail": "Invalid token."}
        return {}

    def _init(self, request, context):
        job_id = f"00000000-0000-4000-8000-{len(self.jobs) + 1:012d}"
        self.jobs[job_id] = FakeJob(init=request.json())
        context.status_code = 201
        return {"job_id": job_id}

    def _add(self, request, context):
        job = self._job(request, context)
        body = request.json()
        job.circuits.update({k: unpack_circuit(v) for k, v in body["circuits"].items()})
        if body.get("observables") is not None:
            (terms,) = decode_observable_groups(body["observables"])
            job.observables = encode_observables(terms)
        job.shots = body.get("shots", job.shots)
        job.finalized = body["finalized"] == "true"
        return {}

    def _status(self, request, context):
        job = self._job(request, context)
        if job is None:
            return {"detail": "Not found."}
        return {"status": job.poll(), **({"error": job.reason} if job.reason else {})}

    def _results(self, request, context):
        job = self._job(request, context)
        offset = int(request.qs["offset"][0])
        entries = job.results()
        more = offset + RESULTS_PAGE_LIMIT < len(entries)
        page = entries[offset : offset + RESULTS_PAGE_LIMIT]
        return {"results": page, "next": f"{request.url}&more" if more else None}

    def _cancel(self, request, context):
        job = self._job(request, context)
        if job.status in ("COMPLETED", "FAILED", "CANCELLED"):
            context.status_code = 409
            return {"detail": "job already finished"}
        job.statuses = deque(["CANCELLED"])
        cancelled = len(job.circuits)
        return {"status": "CANCELLED", "job_id": _job_id(request), "circuits_cancelled": cancelled}

    def _delete(self, request, context):
        self.jobs.pop(_job_id(request))
        context.status_code = 204
        return None


def _job_id(request) -> str:
    return re.match(_JOB, request.url)["id"]  # type: ignore[index]
