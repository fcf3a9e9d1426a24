"""The tests' one fault server: a loopback HTTP server that answers from a script, for
the transport faults requests-mock cannot reach (retries, hangs, trickled or dropped
answers) and the local server's seeded fault injection cannot aim at one request.

requests-mock replaces the transport adapter, so urllib3's retry machinery never runs
under it; this server lets the client's real session, adapters and policies run.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status and JSON body, or a hang, or a dropped connection.

    ``trickle`` sends the answer a byte every that many seconds from ``trickle_from``
    (0: the status line; past the headers: the body), until it is sent, the client
    hangs up, or the server stops; ``pad`` appends that many spaces to the body.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    drop: bool = False
    trickle: float | None = None
    trickle_from: int = 0
    pad: int = 0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Serves ``/api/...`` on 127.0.0.1; each (method, path) answers its queued replies."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.unscripted: list[str] = []
        self._script: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._release = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.scripted = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self._script[(method, "/api/" + path)].extend(replies)

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path == "/api/" + path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        path = handler.path.split("?")[0]
        self.seen.append(Seen(handler.command, handler.path, dict(handler.headers), body))
        queue = self._script.get((handler.command, path))
        if not queue:
            self.unscripted.append(f"{handler.command} {handler.path}")
            reply = Reply(599, {"detail": "unscripted"})
        else:
            reply = queue.popleft()
        if reply.hang:
            self._release.wait(timeout=10)
        if reply.drop or reply.hang:
            handler.close_connection = True
            return
        data = json.dumps(reply.body).encode() if reply.body is not None else b""
        data += b" " * reply.pad
        if reply.trickle is not None:
            self._trickle(handler, reply, data)
            return
        handler.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _trickle(self, handler: BaseHTTPRequestHandler, reply: Reply, body: bytes) -> None:
        """Send the whole answer slowly, never slower than a byte per ``trickle`` s."""
        head = (
            f"HTTP/1.1 {reply.status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        answer = head + body
        handler.close_connection = True
        try:
            handler.wfile.write(answer[: reply.trickle_from])
            handler.wfile.flush()
            for byte in answer[reply.trickle_from :]:
                if self._release.wait(reply.trickle):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:  # the client hung up
            return


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.scripted.answer(self)  # type: ignore[attr-defined]

    do_POST = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""
