"""The local server's HTTP face: every protocol :class:`~qiskit_divi.qoro.protocol.Endpoint`
as a Starlette app (``docs/protocol.rst`` describes them).

Requests are checked here (token, body size, JSON, circuits, observables) before
anything is stored; errors become JSON ``{"detail": ...}`` answers with the status the
protocol gives them. Work that blocks (parsing, SQLite) runs in Starlette's thread pool.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..circuits import parse_qasm
from ..exceptions import (
    CircuitTooWideError,
    InvalidCircuitError,
    InvalidInputError,
    JobConflictError,
    RequestRefusedError,
    UnknownJobError,
)
from ..options import positive_int
from ..qoro.codec import chunk_cost, decode_observables, encode_observables, unpack_circuit
from ..qoro.protocol import (
    API_ROOT,
    DEFAULT_SYSTEM,
    MAX_BODY_BYTES,
    RESULTS_PAGE_LIMIT,
    Endpoint,
    JobType,
    QoroJobStatus,
)
from .config import DEFAULT_SYSTEMS, SystemConfig, check_systems, check_tokens, token_digest
from .faults import FaultInjector, FaultPlan
from .runner import Runner
from .store import Store

#: Room a request body may take beyond :data:`MAX_BODY_BYTES` for everything besides the
#: circuits (the other keys, JSON spacing): the cap itself applies to the circuits, by
#: the service's own accounting, so a client that fills a chunk to it is not refused.
ENVELOPE_BYTES = 64 * 1024

Handler = Callable[[str, Request, bytes], Response]


def create_app(
    *,
    tokens: Sequence[str],
    db_path: str | Path,
    systems: Sequence[SystemConfig] | None = None,
    workers: int = 2,
    faults: FaultPlan | None = None,
    seed: int | None = None,
) -> Any:
    """The server as an ASGI app; its job runner starts and stops with the app's lifespan.

    Args:
        tokens: the bearer tokens accepted; each sees only its own jobs.
        db_path: the SQLite file jobs live in (created if missing).
        systems: what the server offers; :data:`DEFAULT_SYSTEMS` when ``None``.
        workers: how many jobs run at once.
        faults: a fault plan, to test clients against a misbehaving server.
        seed: makes sampling reproducible: a job's seed derives from it and the job's
            content, so the same submission gets the same counts.
    """
    digests = frozenset(token_digest(token) for token in check_tokens(tokens))
    by_name = check_systems(DEFAULT_SYSTEMS if systems is None else systems)
    workers = positive_int("workers", workers)
    store = Store(db_path)
    runner = Runner(store, by_name, workers=workers, seed=seed)
    api = _Api(store, runner, by_name, digests)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            await run_in_threadpool(runner.stop)
            store.close()

    app = Starlette(routes=api.routes(), exception_handlers=_EXCEPTION_HANDLERS, lifespan=lifespan)
    return app if faults is None else FaultInjector(app, faults)


@dataclass(frozen=True)
class _RunOptions:
    """A chunk's shots or observables, merged with what the job already has."""

    shots: int | None
    observables: str | None  # canonical wire text; None for sampling jobs
    observable_width: int | None


class _Api:
    def __init__(
        self,
        store: Store,
        runner: Runner,
        systems: Mapping[str, SystemConfig],
        digests: frozenset[str],
    ) -> None:
        self.store = store
        self.runner = runner
        self.systems = systems
        self.digests = digests

    def routes(self) -> list[Route]:
        """A route per protocol endpoint; the ping also answers at the root without a slash."""
        handlers: dict[Endpoint, Handler] = {
            Endpoint.PING: self.ping,
            Endpoint.QPU_SYSTEMS: self.qpu_systems,
            Endpoint.SIMULATOR_CLUSTERS: self.simulator_clusters,
            Endpoint.INIT_JOB: self.init_job,
            Endpoint.ADD_CIRCUITS: self.add_circuits,
            Endpoint.STATUS: self.status,
            Endpoint.RESULTS: self.results,
            Endpoint.CANCEL: self.cancel,
            Endpoint.DELETE: self.delete,
        }
        ping = Route(API_ROOT, self._endpoint(self.ping), methods=[Endpoint.PING.method])
        return [ping] + [
            Route(endpoint.route(), self._endpoint(handler), methods=[endpoint.method])
            for endpoint, handler in handlers.items()
        ]

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate, read the body within the cap, then run the handler in a thread."""

        async def endpoint(request: Request) -> Response:
            owner = self._owner(request)
            body = await _read_body(request)
            return await run_in_threadpool(handler, owner, request, body)

        return endpoint

    def _owner(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        digest = token_digest(token.strip())
        if scheme.lower() != "bearer" or digest not in self.digests:
            raise RequestRefusedError(
                401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return digest

    # -- endpoints ------------------------------------------------------------------------

    def ping(self, owner: str, request: Request, body: bytes) -> Response:
        return JSONResponse({"status": "ok"})

    def qpu_systems(self, owner: str, request: Request, body: bytes) -> Response:
        return JSONResponse([asdict(s.record()) for s in self.systems.values() if s.is_qpu])

    def simulator_clusters(self, owner: str, request: Request, body: bytes) -> Response:
        return JSONResponse([asdict(s.record()) for s in self.systems.values() if not s.is_qpu])

    def init_job(self, owner: str, request: Request, body: bytes) -> Response:
        data = _json_object(body)
        job_type = _job_type(data.get("job_type"))
        system = self._target(data)
        if job_type is JobType.ESTIMATE and not system.supports_expval:
            raise InvalidInputError(f"system {system.name!r} does not run EXPECTATION jobs")
        tag = data.get("tag", "default")
        if not isinstance(tag, str):
            raise InvalidInputError(f"tag must be a string, got {tag!r}")
        if not isinstance(data.get("use_packing", False), bool):
            raise InvalidInputError(
                f"use_packing must be true or false, got {data['use_packing']!r}"
            )
        job_id = self.store.create_job(
            owner, tag=tag, job_type=job_type, system=system.name, shots=_shots(data)
        )
        return JSONResponse({"job_id": job_id}, status_code=201)

    def add_circuits(self, owner: str, request: Request, body: bytes) -> Response:
        job = self.store.job(owner, request.path_params["job_id"])
        data = _json_object(body)
        circuits = _circuits(data.get("circuits"))
        if chunk_cost(circuits) > MAX_BODY_BYTES:
            raise _too_large()
        if data.get("mode", "append") != "append":
            raise InvalidInputError(f"mode {data['mode']!r} is not supported; use 'append'")
        finalize = _flag("finalized", data.get("finalized", "false"))
        options = _run_options(job.job_type, job.shots, job.observables, data)
        system = self.systems[job.system]
        for label, payload in circuits.items():
            _check_circuit(label, payload, system, options)
        added = self.store.add_circuits(
            owner,
            job.id,
            circuits,
            shots=options.shots,
            observables=options.observables,
            finalize=finalize,
            max_circuits=1 if job.job_type is JobType.CIRCUIT_CUT else None,
        )
        if finalize:
            self.runner.submit(job.id)
        return JSONResponse({"job_id": job.id, "circuits_added": added, "finalized": finalize})

    def status(self, owner: str, request: Request, body: bytes) -> Response:
        job = self.store.job(owner, request.path_params["job_id"])
        answer = {
            "job_id": job.id,
            "status": job.status.value,
            "job_type": job.job_type.value,
            "tag": job.tag,
            "qpu_system_name": job.system,
            "circuits": job.n_circuits,
        }
        if job.error is not None:
            answer["error"] = job.error
        return JSONResponse(answer)

    def results(self, owner: str, request: Request, body: bytes) -> Response:
        limit = _query_int(request, "limit", RESULTS_PAGE_LIMIT, minimum=1)
        offset = _query_int(request, "offset", 0, minimum=0)
        job, page = self.store.results(
            owner, request.path_params["job_id"], limit=limit, offset=offset
        )
        if job.status is not QoroJobStatus.COMPLETED:
            detail = f"job {job.id} is {job.status.value}; results exist once it has COMPLETED"
            raise RequestRefusedError(
                400, f"{detail} (error: {job.error})" if job.error else detail
            )
        more = offset + limit < job.n_circuits
        return JSONResponse(
            {
                "count": job.n_circuits,
                "next": str(request.url.include_query_params(limit=limit, offset=offset + limit))
                if more
                else None,
                "results": [{"label": label, "results": result} for label, result in page],
            }
        )

    def cancel(self, owner: str, request: Request, body: bytes) -> Response:
        job_id = request.path_params["job_id"]
        cancelled = self.store.cancel(owner, job_id)
        return JSONResponse(
            {"status": "CANCELLED", "job_id": job_id, "circuits_cancelled": cancelled}
        )

    def delete(self, owner: str, request: Request, body: bytes) -> Response:
        self.store.delete(owner, request.path_params["job_id"])
        return Response(status_code=204)

    def _target(self, data: Mapping[str, Any]) -> SystemConfig:
        """The system ``job/init/`` names, by either dialect's key."""
        names = [data[key] for key in ("qpu_system_name", "simulator_cluster") if data.get(key)]
        if not all(isinstance(name, str) for name in names):
            raise InvalidInputError(f"a system name must be a string, got {names!r}")
        if len(set(names)) > 1:
            raise InvalidInputError("qpu_system_name and simulator_cluster name different systems")
        name = names[0] if names else DEFAULT_SYSTEM
        if name not in self.systems:
            offered = ", ".join(map(repr, self.systems))
            raise InvalidInputError(f"unknown system {name!r}; this server offers {offered}")
        return self.systems[name]


# -- request parsing ------------------------------------------------------------------------


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 unread when Content-Length or the bytes sent pass the cap."""
    limit = MAX_BODY_BYTES + ENVELOPE_BYTES
    declared = request.headers.get("content-length")  # a number: uvicorn checked it
    if declared is not None and int(declared) > limit:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large()
    return bytes(body)


def _too_large() -> RequestRefusedError:
    return RequestRefusedError(
        413,
        f"request too large: a chunk of circuits may take {MAX_BODY_BYTES} bytes; "
        "send them in smaller add_circuits chunks",
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as err:  # bad syntax or encoding, or nested too deep
        raise InvalidInputError(f"malformed JSON body: {err}") from err
    if not isinstance(data, dict):
        raise InvalidInputError(f"the JSON body must be an object, got {type(data).__name__}")
    return data


def _job_type(value: object) -> JobType:
    if not isinstance(value, str):
        raise InvalidInputError(f"job_type must be a string, got {value!r}")
    try:
        return JobType.from_wire(value)
    except ValueError as err:
        raise InvalidInputError(str(err)) from err


def _shots(data: Mapping[str, Any]) -> int | None:
    if data.get("shots") is None:
        return None
    try:
        return positive_int("shots", data["shots"])
    except TypeError as err:
        raise InvalidInputError(str(err)) from err


def _flag(name: str, value: object) -> bool:
    """The wire's ``"true"``/``"false"`` strings (JSON booleans are taken too)."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise InvalidInputError(f'{name} must be "true" or "false", got {value!r}')


def _circuits(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(label, str) and isinstance(payload, str) for label, payload in value.items()
    ):
        raise InvalidInputError(
            "circuits must be an object mapping labels to base64(gzip(OpenQASM 2)) strings"
        )
    return value


def _query_int(request: Request, name: str, default: int, *, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = _natural(raw)
    if value is None or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {raw!r}")
    return value


def _natural(text: str) -> int | None:
    """A decimal of ASCII digits as an int (``str.isdigit`` also takes "²")."""
    return int(text) if text.isascii() and text.isdigit() else None


def _run_options(
    job_type: JobType, shots: int | None, observables: str | None, data: Mapping[str, Any]
) -> _RunOptions:
    """Shots for sampling jobs, observables for expectation jobs: given now or before."""
    given_shots = _shots(data)
    given_observables = data.get("observables")
    if job_type is not JobType.ESTIMATE:
        if given_observables is not None:
            raise InvalidInputError(f"observables are for EXPECTATION jobs, not {job_type.value}")
        if given_shots is None and shots is None:
            raise InvalidInputError(f"{job_type.value} jobs need shots (in job/init/ or here)")
        return _RunOptions(given_shots, None, None)
    text = observables if given_observables is None else given_observables
    if text is None:
        raise InvalidInputError("EXPECTATION jobs need observables")
    if not isinstance(text, str):
        raise InvalidInputError(f"observables must be a string, got {text!r}")
    try:
        terms = decode_observables(text)
    except ValueError as err:
        raise InvalidInputError(f"observables: {err}") from err
    return _RunOptions(given_shots, encode_observables(terms), len(terms[0]))


def _check_circuit(label: str, payload: str, system: SystemConfig, options: _RunOptions) -> None:
    """Refuse a circuit the job could not run, naming it.

    The runner parses the circuit again when the job runs, possibly after a restart:
    a ``QuantumCircuit`` does not go into the database, its OpenQASM does.
    """
    try:
        qasm = unpack_circuit(payload)
    except ValueError as err:
        raise InvalidCircuitError(label, str(err)) from err
    circuit = parse_qasm(label, qasm)
    limit = system.num_qubits
    if limit is not None and circuit.num_qubits > limit:
        raise CircuitTooWideError(
            label, f"{circuit.num_qubits} qubits, but {system.name!r} has {limit}"
        )
    width = options.observable_width
    if width is None and "measure" not in circuit.count_ops():
        raise InvalidCircuitError(label, "measures nothing: a sampling job would count nothing")
    if width is not None and width != circuit.num_qubits:
        raise InvalidCircuitError(
            label, f"{circuit.num_qubits} qubits, but the observables act on {width}"
        )


# -- errors as answers --------------------------------------------------------------------


def _answer(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestRefusedError)
    return _answer(exc.status, exc.detail, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _answer(exc.status_code, exc.detail, exc.headers)


def _status(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        return _answer(status, str(exc))

    return handler


async def _internal_error(request: Request, exc: Exception) -> Response:
    return _answer(500, f"internal server error ({type(exc).__name__}); the server keeps running")


_EXCEPTION_HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    RequestRefusedError: _refusal,
    HTTPException: _http_error,
    InvalidInputError: _status(400),
    UnknownJobError: _status(404),
    JobConflictError: _status(409),
    Exception: _internal_error,
}
