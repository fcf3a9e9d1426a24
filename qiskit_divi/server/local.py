"""The local server in-process: uvicorn in a background thread on a free loopback port.

For tests and notebooks: ``with LocalServer() as server:`` gives a URL and a token that
``QoroService(api_url=server.url, auth_token=server.token)`` can use, and stops the
server, its workers and its engines when the block ends.
"""

from __future__ import annotations

import atexit
import collections
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from ..exceptions import LocalServerError
from ..qoro.protocol import API_ROOT
from .app import create_app
from .config import SystemConfig, check_tokens
from .faults import Fault, FaultInjector, FaultPlan
from .limits import Limits

_HOST = "127.0.0.1"
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 60.0


class LocalServer:
    """A Qoro-compatible server on ``127.0.0.1`` for the life of a ``with`` block.

    Args:
        tokens: bearer tokens the server accepts; :attr:`token` is the first.
        db_path: SQLite file to keep jobs in across restarts; ``None`` for a temporary
            one, removed on exit.
        systems: what the server offers; ``None`` for :data:`DEFAULT_SYSTEMS`.
        workers: jobs run at once.
        faults: a :class:`FaultPlan`, or a bare rate (seeded by ``seed``), to test a
            client's retries.
        seed: seeds sampling (per job, from the job's content) and a bare fault rate.
        limits: what one job may ask; :class:`~qiskit_divi.server.Limits`' defaults when
            ``None``.
        credits: each token's opening credit balance; ``None`` for no ledger (unlimited).
    """

    def __init__(
        self,
        tokens: Sequence[str] = ("test-token",),
        db_path: str | Path | None = None,
        systems: Sequence[SystemConfig] | None = None,
        workers: int = 2,
        faults: FaultPlan | float | None = None,
        seed: int | None = None,
        limits: Limits | None = None,
        credits: float | int | str | None = None,
    ) -> None:
        self._tokens = check_tokens(tokens)
        self._db_path = None if db_path is None else Path(db_path)
        self._systems = systems
        self._workers = workers
        self._faults = FaultPlan(faults, seed) if isinstance(faults, (int, float)) else faults
        self._seed = seed
        self._limits = limits
        self._credits = credits
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._app: Any = None
        self._port = 0

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._server is not None else "stopped"
        return f"<LocalServer {state}>"

    @property
    def url(self) -> str:
        """The API's base URL, ``http://127.0.0.1:<port>/api``."""
        if self._server is None:
            raise LocalServerError("the local server is not running")
        return f"http://{_HOST}:{self._port}{API_ROOT}"

    @property
    def token(self) -> str:
        return self._tokens[0]

    @property
    def db_path(self) -> Path:
        """Where the jobs are kept (a temporary file unless one was given)."""
        if self._db_path is not None:
            return self._db_path
        if self._tmpdir is None:
            raise LocalServerError("the local server is not running")
        return Path(self._tmpdir.name) / "qoro-server.sqlite3"

    @property
    def injected_faults(self) -> collections.Counter[Fault]:
        """Faults dealt so far, by kind (empty without a fault plan)."""
        if isinstance(self._app, FaultInjector):
            return collections.Counter(self._app.injected)
        return collections.Counter()

    def start(self) -> LocalServer:
        """Start serving; returns once the server answers requests."""
        if self._server is not None:
            raise LocalServerError("the local server is already running")
        if self._db_path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="qiskit-divi-server-")
        try:
            self._app = create_app(
                tokens=self._tokens,
                db_path=self.db_path,
                systems=self._systems,
                workers=self._workers,
                faults=self._faults,
                seed=self._seed,
                limits=self._limits,
                credits=self._credits,
            )
            self._serve_in_thread()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _serve_in_thread(self) -> None:
        # Naming IPPROTO_TCP matters: asyncio turns Nagle's algorithm off only on sockets
        # that say they are TCP, and with it on every kept-alive request waits ~40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind((_HOST, 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app, log_level="warning", lifespan="on", timeout_graceful_shutdown=None
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"qoro-local-server-{self._port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise LocalServerError("the local server did not start; see the log above")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving; running jobs finish, or run again at the next start."""
        atexit.unregister(self.stop)
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(_STOP_TIMEOUT)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(_STOP_TIMEOUT)
        self._server = self._thread = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
