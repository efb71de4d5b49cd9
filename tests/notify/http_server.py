"""A real HTTP server on localhost for webhook tests: it records every request and answers from
a script (status, headers), then 200 "ok" once the script runs out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Hook:
    """The running server: its base URL, the answers still to give and what it received."""

    url: str
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold: threading.Event | None = None
    """When set, each request is answered only once this event is set (a slow webhook)."""

    def at(self, path: str) -> str:
        """The URL of `path` on this server."""
        return self.url + path


class _Handler(BaseHTTPRequestHandler):
    hook: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.hook.lock:
            self.hook.received.append(
                Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status, headers = self.hook.answers.pop(0) if self.hook.answers else (200, {})
        if self.hook.hold is not None:
            self.hook.hold.wait(60)
        payload = b"ok" if status < 300 else f"error {status} at {self.path}".encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `received` instead."""


@contextmanager
def http_server(*answers: tuple[int, dict[str, str]], port: int = 0) -> Iterator[Hook]:
    """A server on localhost (`port`, else a free one) answering `answers` in order, then 200."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    hook = Hook(f"http://127.0.0.1:{server.server_address[1]}", list(answers))
    server.RequestHandlerClass = type("Handler", (_Handler,), {"hook": hook})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
