"""Loopback HTTP servers and free ports for the tests that run real programs."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """What a loopback server saw, and the body it answers (or files by path)."""

    port: int = 0
    paths: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return self.paths.count(path)


@contextmanager
def http_server(files: dict[str, bytes] | None = None) -> Iterator[Served]:
    """A threaded HTTP server on 127.0.0.1: GET of a known path gives its bytes, any
    other GET or POST answers `model says hi`, and every request path is recorded."""
    served = Served(files=dict(files or {}))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            with served.lock:
                served.paths.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if served.files and self.path not in served.files:
                self.send_error(404)
                return
            body = served.files.get(self.path, b"model says hi\n")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
