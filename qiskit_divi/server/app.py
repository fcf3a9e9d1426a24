"""The local server's HTTP face: every protocol :class:`~qiskit_divi.qoro.protocol.Endpoint`
as a Starlette app (``docs/protocol.rst`` describes them).

Requests are checked here (token, body size, JSON, circuits, observables, limits) before
anything is stored; errors become JSON ``{"detail": ...}`` answers with the status the
protocol gives them. Work that blocks (SQLite) runs in Starlette's thread pool; circuits
are parsed in worker processes (:class:`~.workers.Checker`), never in this one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..exceptions import (
    InvalidInputError,
    JobConflictError,
    RequestRefusedError,
    UnknownJobError,
)
from ..options import positive_int
from ..qoro.codec import chunk_cost, decode_observables, encode_observables
from ..qoro.protocol import (
    API_ROOT,
    DEFAULT_SYSTEM,
    MAX_BODY_BYTES,
    RESULTS_PAGE_LIMIT,
    Endpoint,
    JobType,
    QoroJobStatus,
)
from .config import DEFAULT_SYSTEMS, SystemConfig, check_systems, check_tokens
from .faults import FaultInjector, FaultPlan
from .limits import Limits, check_circuits, system_width
from .runner import Runner
from .store import Store
from .workers import Checker

#: Room a request body may take beyond :data:`MAX_BODY_BYTES` for everything besides the
#: circuits (the other keys, JSON spacing): the cap itself applies to the circuits, by
#: the service's own accounting, so a client that fills a chunk to it is not refused.
ENVELOPE_BYTES = 64 * 1024
#: Worker processes that check chunks of circuits (parse them) for the request threads.
CHECKERS = 2
#: The largest integer SQLite stores (shots, ``limit`` and ``offset`` must fit).
_SQL_MAX_INT = 2**63 - 1

Handler = Callable[[str, Request, bytes], Response]


def create_app(
    *,
    tokens: Sequence[str],
    db_path: str | Path,
    systems: Sequence[SystemConfig] | None = None,
    workers: int = 2,
    faults: FaultPlan | None = None,
    seed: int | None = None,
    limits: Limits | None = None,
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
        limits: what one job may ask (:class:`~.limits.Limits`); its defaults when ``None``.

    Raises:
        ServerDatabaseError: ``db_path`` cannot be used, or another server holds it.
    """
    tokens = check_tokens(tokens)
    by_name = check_systems(DEFAULT_SYSTEMS if systems is None else systems)
    workers = positive_int("workers", workers)
    limits = Limits() if limits is None else limits
    store = Store(db_path)
    digests = frozenset(store.owner(token) for token in tokens)
    runner = Runner(store, by_name, workers=workers, seed=seed, limits=limits)
    checker = Checker(
        workers=CHECKERS,
        memory_mb=limits.job_memory_mb,
        seconds=limits.job_seconds,
        preload=check_circuits.__module__,
    )
    api = _Api(store, runner, checker, by_name, digests, limits)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runner.start()
        checker.start()
        try:
            yield
        finally:
            await run_in_threadpool(checker.stop)
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
        checker: Checker,
        systems: Mapping[str, SystemConfig],
        digests: frozenset[str],
        limits: Limits,
    ) -> None:
        self.store = store
        self.runner = runner
        self.checker = checker
        self.systems = systems
        self.digests = digests
        self.limits = limits

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
            body = await _read_body(request, self.limits.body_seconds)
            return await run_in_threadpool(handler, owner, request, body)

        return endpoint

    def _owner(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        digest = self.store.owner(token.strip())
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
            owner, tag=tag, job_type=job_type, system=system.name, shots=self._shots(data)
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
        options = _run_options(job.job_type, job.shots, job.observables, self._shots(data), data)
        width, system = system_width(self.systems[job.system], self.limits)
        self.checker(
            check_circuits, circuits, self.limits, width, system, options.observable_width
        )
        added = self.store.add_circuits(
            owner,
            job.id,
            circuits,
            shots=options.shots,
            observables=options.observables,
            finalize=finalize,
            max_circuits=self._max_circuits(job.job_type, options.shots or job.shots),
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

    def _shots(self, data: Mapping[str, Any]) -> int | None:
        if data.get("shots") is None:
            return None
        try:
            shots = positive_int("shots", data["shots"])
        except TypeError as err:
            raise InvalidInputError(str(err)) from err
        if shots > self.limits.max_shots:
            raise InvalidInputError(
                f"shots must be at most {self.limits.max_shots} (the server's max_shots), "
                f"got {shots}"
            )
        return shots

    def _max_circuits(self, job_type: JobType, shots: int | None) -> int | None:
        """How many circuits a job may hold: one to cut, and shots x circuits outcomes."""
        if job_type is JobType.CIRCUIT_CUT:
            return 1
        return None if shots is None else self.limits.max_outcomes // shots

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


async def _read_body(request: Request, seconds: float) -> bytes:
    """The body, refused with 413 unread when Content-Length or the bytes sent pass the cap,
    and with 408 when it takes longer than ``seconds`` to arrive (nothing is stored)."""
    limit = MAX_BODY_BYTES + ENVELOPE_BYTES
    declared = request.headers.get("content-length")  # a number: uvicorn checked it
    if declared is not None and int(declared) > limit:
        raise _too_large()
    body = bytearray()
    with anyio.move_on_after(seconds) as waited:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _too_large()
    if waited.cancelled_caught:
        raise RequestRefusedError(
            408,
            f"the request body did not arrive within {seconds:g} s (the server's body_seconds)",
        )
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
    if value is None or not minimum <= value <= _SQL_MAX_INT:
        raise InvalidInputError(
            f"{name} must be an integer from {minimum} to {_SQL_MAX_INT}, got {raw[:40]!r}"
        )
    return value


def _natural(text: str) -> int | None:
    """A decimal of ASCII digits as an int (``str.isdigit`` also takes "²"); ``None`` for
    other text and for more digits than any valid value has (``int()`` is never asked)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(_SQL_MAX_INT)):
        return None
    return int(text)


def _run_options(
    job_type: JobType,
    shots: int | None,
    observables: str | None,
    given_shots: int | None,
    data: Mapping[str, Any],
) -> _RunOptions:
    """Shots for sampling jobs, observables for expectation jobs: given now or before."""
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


async def _storage_error(request: Request, exc: Exception) -> Response:
    return _answer(
        503,
        f"the server cannot write its database now ({exc}); nothing was stored, try again",
        {"Retry-After": "5"},
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    return _answer(500, f"internal server error ({type(exc).__name__}); the server keeps running")


_EXCEPTION_HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    RequestRefusedError: _refusal,
    HTTPException: _http_error,
    InvalidInputError: _status(400),
    UnknownJobError: _status(404),
    JobConflictError: _status(409),
    sqlite3.Error: _storage_error,
    Exception: _internal_error,
}
