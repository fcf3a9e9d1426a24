"""The local server's HTTP face: every protocol :class:`~qiskit_divi.qoro.protocol.Endpoint`
as a Starlette app (``docs/protocol.rst`` describes them), in both wire dialects.

Requests are checked here (token, body size, JSON, circuits, templates, shots and
observables in either dialect's form, limits) before anything is stored; errors become
JSON ``{"detail": ...}`` answers with the status the protocol gives them. A job's dialect
shows in what its client sends (:func:`_init_dialect`), and decides only what its status
is called while it waits: SCHEDULED on the 2026 wire, PENDING on the 2025 one. Work that
blocks (SQLite) runs in Starlette's thread pool; circuits are parsed in worker processes
(:class:`~.workers.Checker`), never in this one.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
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
from ..qoro.codec import (
    chunk_cost,
    decode_observable_groups,
    encode_observables,
    pack_circuit,
    unpack_circuit,
)
from ..qoro.protocol import (
    API_ROOT,
    CREDIT_PAGE_SIZE_LIMIT,
    DEFAULT_SYSTEM,
    DEVICE_SETTINGS,
    GZS_PREFIX,
    MAX_BODY_BYTES,
    RESULTS_PAGE_LIMIT,
    SIMULATOR_SETTINGS,
    Dialect,
    Endpoint,
    JobType,
    QoroJobStatus,
)
from .config import DEFAULT_SYSTEMS, SystemConfig, check_systems, check_tokens
from .faults import FaultInjector, FaultPlan
from .limits import Limits, check_circuits, system_width
from .runner import Runner
from .store import Job, Store
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
    credits: Decimal | float | int | str | None = None,
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
        credits: keep a credit ledger: each token's account opens with this many
            credits, each job is charged when finalized (``store.job_cost``) and a job
            that cannot be paid ends INSUFFICIENT_CREDITS. ``None``: no ledger, unlimited.

    Raises:
        ServerDatabaseError: ``db_path`` cannot be used, or another server holds it.
    """
    tokens = check_tokens(tokens)
    by_name = check_systems(DEFAULT_SYSTEMS if systems is None else systems)
    workers = positive_int("workers", workers)
    limits = Limits() if limits is None else limits
    opening = None if credits is None else _credits(credits)
    store = Store(db_path)
    digests = frozenset(store.owner(token) for token in tokens)
    if opening is not None:
        store.open_accounts(sorted(digests), opening)
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
class _Upload:
    """One ``add_circuits`` body, read: its circuits (a template's rows bound), each
    circuit's shots or observables (dense terms), and what the job keeps of them."""

    circuits: dict[str, str]  # label -> packed OpenQASM 2
    shots: dict[str, int]
    observables: dict[str, str]
    job_shots: int | None  # the 2025 wire's one value per job
    job_observables: str | None
    dialect: str | None  # what the body shows of its client's dialect
    finalize: bool


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
            Endpoint.EXECUTION_CONFIG: self.execution_config,
            Endpoint.CREDITS: self.credits,
            Endpoint.CREDIT_TRANSACTIONS: self.credit_transactions,
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
            owner,
            tag=tag,
            job_type=job_type,
            system=system.name,
            shots=self._shots(data),
            dialect=_init_dialect(data, job_type, system),
            settings=_settings(data, system),
        )
        return JSONResponse({"job_id": job_id}, status_code=201)

    def add_circuits(self, owner: str, request: Request, body: bytes) -> Response:
        job = self.store.job(owner, request.path_params["job_id"])
        data = _json_object(body)
        upload = _read_upload(job, data, self._shots(data))
        if upload.dialect == Dialect.V2026.value or job.dialect == Dialect.V2026.value:
            if len(body) > MAX_BODY_BYTES:  # the 2026 cap counts the whole body
                raise _too_large()
        elif chunk_cost(upload.circuits) > MAX_BODY_BYTES:
            raise _too_large()
        self._check_shots(upload.shots)
        width, system = system_width(self.systems[job.system], self.limits)
        checked = {label: upload.circuits[label] for label in _checked_circuits(data, upload)}
        widths = {
            label: len(terms.split(";")[0])
            for label, terms in upload.observables.items()
            if label in checked
        }
        self.checker(check_circuits, checked, self.limits, width, system, widths)
        added = self.store.add_circuits(
            owner,
            job.id,
            upload.circuits,
            shots=upload.job_shots,
            observables=upload.job_observables,
            finalize=upload.finalize,
            max_circuits=1 if job.job_type is JobType.CIRCUIT_CUT else None,
            max_outcomes=self.limits.max_outcomes,
            circuit_shots=upload.shots,
            circuit_observables=upload.observables,
            dialect=upload.dialect,
        )
        if upload.finalize and self.store.job(owner, job.id).status is QoroJobStatus.PENDING:
            self.runner.submit(job.id)
        return JSONResponse(
            {"job_id": job.id, "circuits_added": added, "finalized": upload.finalize}
        )

    def status(self, owner: str, request: Request, body: bytes) -> Response:
        job = self.store.job(owner, request.path_params["job_id"])
        status = job.status
        if status is QoroJobStatus.PENDING and job.finalized and job.dialect != "2025":
            status = QoroJobStatus.SCHEDULED  # queued to run: the 2026 wire says so
        answer = {
            "job_id": job.id,
            "status": status.value,
            "job_type": job.job_type.value,
            "tag": job.tag,
            "qpu_system_name": job.system,
            "circuits": job.n_circuits,
            "run_time": None,
        }
        if job.error is not None:
            answer["error"] = job.error
        return JSONResponse(answer)

    def execution_config(self, owner: str, request: Request, body: bytes) -> Response:
        job = self.store.job(owner, request.path_params["job_id"])
        settings = job.settings or {}
        return JSONResponse(
            {key: settings.get(key) for key in (SIMULATOR_SETTINGS, DEVICE_SETTINGS)}
        )

    def credits(self, owner: str, request: Request, body: bytes) -> Response:
        self._require_ledger()
        return JSONResponse(self.store.balance(owner))

    def credit_transactions(self, owner: str, request: Request, body: bytes) -> Response:
        self._require_ledger()
        page = _query_int(request, "page", 1, minimum=1)
        size = _query_int(request, "page_size", 20, minimum=1)
        if size > CREDIT_PAGE_SIZE_LIMIT:
            raise InvalidInputError(f"page_size must be at most {CREDIT_PAGE_SIZE_LIMIT}")
        count, rows = self.store.transactions(owner, page=page, page_size=size)
        pages = max(1, math.ceil(count / size))

        def link(number: int) -> str | None:
            if not 1 <= number <= pages:
                return None
            return str(request.url.include_query_params(page=number, page_size=size))

        return JSONResponse(
            {
                "count": count,
                "total_pages": pages,
                "next": link(page + 1),
                "previous": link(page - 1),
                "results": rows,
            }
        )

    def _require_ledger(self) -> None:
        if not self.store.ledger:
            raise RequestRefusedError(
                404, "this server keeps no credit ledger (start it with --credits N)"
            )

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
        """The body's ``shots``, if it has them."""
        return None if data.get("shots") is None else self._checked_shots("shots", data["shots"])

    def _check_shots(self, shots: Mapping[str, int]) -> None:
        """Each circuit's own shots (from ``shot_groups``) within the server's limit."""
        for label, count in shots.items():
            self._checked_shots(f"shots of circuit {label!r}", count)

    def _checked_shots(self, name: str, value: object) -> int:
        try:
            shots = positive_int(name, value)
        except TypeError as err:
            raise InvalidInputError(str(err)) from err
        if shots > self.limits.max_shots:
            raise InvalidInputError(
                f"{name} must be at most {self.limits.max_shots} (the server's max_shots), "
                f"got {shots}"
            )
        return shots

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


def _credits(value: Decimal | float | int | str) -> Decimal:
    """An opening balance: a finite, non-negative decimal."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0 or isinstance(value, bool):
        raise InvalidInputError(f"credits must be a non-negative number, got {value!r}")
    return amount


def _init_dialect(data: Mapping[str, Any], job_type: JobType, system: SystemConfig) -> str | None:
    """The dialect a ``job/init/`` body shows, or ``None`` while it could be either.

    Only the 2025 wire has SIMULATE and CIRCUIT_CUT, puts sampling shots in the init, or
    names a simulator cluster as ``qpu_system_name``; only the 2026 one names it as
    ``simulator_cluster`` or opens an EXECUTE job without shots. An EXPECTATION job on a
    QPU system looks alike in both until its observables arrive.
    """
    if (
        job_type in (JobType.SIMULATE, JobType.CIRCUIT_CUT)
        or data.get("shots") is not None
        or (not system.is_qpu and data.get("qpu_system_name"))
    ):
        return Dialect.V2025.value
    if data.get("simulator_cluster") or job_type is JobType.EXECUTE:
        return Dialect.V2026.value
    return None


def _settings(data: Mapping[str, Any], system: SystemConfig) -> dict[str, Any] | None:
    """The run settings a ``job/init/`` body carries, each for its kind of system.

    The local server keeps and shows them (``execution_config/``); its engine needs none.
    """
    given = {key: data[key] for key in (SIMULATOR_SETTINGS, DEVICE_SETTINGS) if data.get(key)}
    for key, value in given.items():
        if not isinstance(value, dict):
            raise InvalidInputError(f"{key} must be an object, got {value!r}")
    wrong = SIMULATOR_SETTINGS if system.is_qpu else DEVICE_SETTINGS
    if wrong in given:
        raise InvalidInputError(f"{wrong} does not apply to {system.name!r}")
    return given or None


_IDENTIFIER = re.compile(r"[a-z][A-Za-z0-9_]*")


def _read_upload(job: Job, data: Mapping[str, Any], given_shots: int | None) -> _Upload:
    """An ``add_circuits`` body of ``job`` in either dialect's form (``given_shots``: its
    ``shots``, read)."""
    if data.get("mode", "append") != "append":
        raise InvalidInputError(f"mode {data['mode']!r} is not supported; use 'append'")
    finalize = _flag("finalized", data.get("finalized", "false"))
    template = "circuit_template" in data
    circuits = _template_rows(data) if template else _circuits(data.get("circuits"))
    text = data.get("observables")
    modern = (
        job.dialect == Dialect.V2026.value
        or template
        or any(key in data for key in ("shot_groups", "circuit_ham_map"))
        or (isinstance(text, str) and GZS_PREFIX in text)
    )
    if job.job_type is not JobType.ESTIMATE:
        if text is not None:
            raise InvalidInputError(
                f"observables are for EXPECTATION jobs, not {job.job_type.value}"
            )
        return _Upload(
            circuits=circuits,
            shots=_circuit_shots(data, circuits, given_shots, job, template),
            observables={},
            job_shots=None if modern else given_shots,
            job_observables=None,
            dialect=Dialect.V2026.value if modern else None,
            finalize=finalize,
        )
    if text is None:
        text = job.observables
    if text is None:
        raise InvalidInputError("EXPECTATION jobs need observables")
    if not isinstance(text, str):
        raise InvalidInputError(f"observables must be a string, got {text!r}")
    try:
        texts = [encode_observables(terms) for terms in decode_observable_groups(text)]
    except ValueError as err:
        raise InvalidInputError(f"observables: {err}") from err
    ham_map = data.get("circuit_ham_map")
    return _Upload(
        circuits=circuits,
        shots={},
        observables=_observables_by_circuit(texts, ham_map, circuits, job.n_circuits),
        job_shots=None,
        job_observables=None if modern else texts[0],
        dialect=Dialect.V2026.value if modern else Dialect.V2025.value,
        finalize=finalize,
    )


def _circuit_shots(
    data: Mapping[str, Any],
    circuits: Mapping[str, str],
    given: int | None,
    job: Job,
    template: bool,
) -> dict[str, int]:
    """Each sampled circuit's shots: from ``shot_groups``, this body's ``shots`` or the
    job's (given in ``job/init/`` or an earlier upload)."""
    groups = data.get("shot_groups")
    if groups is not None:
        if template or given is not None:
            raise InvalidInputError("shot_groups take the place of shots, and not in templates")
        return _shot_groups(groups, list(circuits))
    shots = given if given is not None else job.shots
    if shots is None:
        raise InvalidInputError(f"{job.job_type.value} jobs need shots (in job/init/ or here)")
    return dict.fromkeys(circuits, shots)


def _template_rows(data: Mapping[str, Any]) -> dict[str, str]:
    """A template's rows as packed circuits: each row's values put in its names' place."""
    template, names, rows = (
        data.get(key) for key in ("circuit_template", "parameter_names", "parameter_sets")
    )
    if not isinstance(template, str):
        raise InvalidInputError("circuit_template must be base64(gzip(OpenQASM 2)) text")
    if not isinstance(names, list) or not all(
        isinstance(n, str) and _IDENTIFIER.fullmatch(n) for n in names
    ):
        raise InvalidInputError("parameter_names must be a list of OpenQASM 2 identifiers")
    if not isinstance(rows, list) or not rows:
        raise InvalidInputError("parameter_sets must be a non-empty list of {label, values}")
    try:
        qasm = unpack_circuit(template)
    except ValueError as err:
        raise InvalidInputError(f"circuit_template: {err}") from err
    bound: dict[str, str] = {}
    for row in rows:
        label = row.get("label") if isinstance(row, dict) else None
        values = row.get("values") if isinstance(row, dict) else None
        if not isinstance(label, str) or not isinstance(values, list) or len(values) != len(names):
            raise InvalidInputError(
                f"parameter set {label!r} must be {{label, values}} with {len(names)} values"
            )
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        ):
            raise InvalidInputError(f"parameter set {label!r}: values must be finite numbers")
        if label in bound:
            raise InvalidInputError(f"parameter set label {label!r} repeats")
        bound[label] = pack_circuit(bind_template(qasm, dict(zip(names, values, strict=True))))
    return bound


def bind_template(qasm: str, values: Mapping[str, float]) -> str:
    """The OpenQASM 2 of a template with each parameter name, where it stands as a gate
    argument (inside the parentheses of a gate call), replaced by its value.

    Gate definitions are left as they are: their own parameters may share a name.
    """
    if not values:
        return qasm
    name = re.compile(r"\b(" + "|".join(map(re.escape, values)) + r")\b")
    argument = re.compile(r"\(([^()]*)\)")
    out, depth = [], 0
    for statement in re.split(r"(?<=[;{}])", qasm):
        stripped = statement.lstrip()
        if depth == 0 and not stripped.startswith(("gate ", "opaque ")):
            statement = argument.sub(
                lambda m: (
                    "(" + name.sub(lambda n: repr(float(values[n.group(1)])), m.group(1)) + ")"
                ),
                statement,
            )
        depth += statement.count("{") - statement.count("}")
        out.append(statement)
    return "".join(out)


def _shot_groups(groups: object, labels: list[str]) -> dict[str, int]:
    """Each circuit's shots from ``[[start, end, shots], ...]`` ranges that tile the upload."""
    if not isinstance(groups, list):
        raise InvalidInputError("shot_groups must be a list of [start, end, shots]")
    shots: dict[str, int] = {}
    expected_start = 0
    for group in groups:
        if (
            not isinstance(group, list)
            or len(group) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in group)
        ):
            raise InvalidInputError(f"shot group {group!r} is not [start, end, shots]")
        start, end, count = group
        if start != expected_start or not start < end <= len(labels) or count < 1:
            raise InvalidInputError(
                f"shot group {group!r}: the groups must tile this upload's {len(labels)} "
                "circuits in order, each with positive shots"
            )
        shots.update(dict.fromkeys(labels[start:end], int(count)))
        expected_start = end
    if expected_start != len(labels):
        raise InvalidInputError(f"shot_groups cover {expected_start} of {len(labels)} circuits")
    return shots


def _observables_by_circuit(
    texts: list[str], ham_map: object, circuits: Mapping[str, str], position: int
) -> dict[str, str]:
    """Each circuit's observables: one group for all, or the group whose
    ``circuit_ham_map`` range holds its place in the job."""
    if ham_map is None:
        if len(texts) != 1:
            raise InvalidInputError(f"{len(texts)} observable groups need a circuit_ham_map")
        return dict.fromkeys(circuits, texts[0])
    if (
        not isinstance(ham_map, list)
        or len(ham_map) != len(texts)
        or not all(
            isinstance(r, list)
            and len(r) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in r)
            and 0 <= r[0] < r[1]
            for r in ham_map
        )
    ):
        raise InvalidInputError(
            f"circuit_ham_map must list one [start, end) range per observable group ({len(texts)})"
        )
    observables = {}
    for index, label in enumerate(circuits, start=position):
        group = next((g for g, (a, b) in enumerate(ham_map) if a <= index < b), None)
        if group is None:
            raise InvalidInputError(f"circuit {label!r} (#{index}) is in no circuit_ham_map range")
        observables[label] = texts[group]
    return observables


def _checked_circuits(data: Mapping[str, Any], upload: _Upload) -> list[str]:
    """The circuits to check before storing: all, or a template's first row (its rows
    differ only in numbers)."""
    labels = list(upload.circuits)
    return labels[:1] if "circuit_template" in data else labels


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
