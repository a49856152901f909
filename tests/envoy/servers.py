"""The upstreams the gateway's tests run Envoy against, each as its own process.

- `echo`: the router's OpenAI-shaped echo backend (the remote side), plain or TLS;
- `local`: a small HTTP/1.1 server standing for the user's pods, killed and
  restarted by the failover test; its answers say `"served_by": "local"` and
  echo the headers it received, so a test sees any credential that leaked;
- `drop`: reads each request and closes the connection without answering;
- `token`: an OAuth2 token endpoint (client credentials) that counts its calls
  and keeps the forms it received, readable at `/calls`.

    python -m tests.envoy.servers echo --port 9000 [--tls CERT KEY]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import uvicorn

from hooks.router.echo import EchoBackend


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        return

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))


class LocalHandler(_Quiet):
    def do_GET(self) -> None:
        self._answer(200, self._echo(b""))

    def do_POST(self) -> None:
        self._answer(200, self._echo(self._body()))

    def _echo(self, body: bytes) -> dict[str, object]:
        return {
            "served_by": "local",
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode(errors="replace"),
        }


class DropHandler(_Quiet):
    """Reads a whole request, then closes the connection without an answer: a
    server that died while it held the request."""

    def do_GET(self) -> None:
        self.close_connection = True

    def do_POST(self) -> None:
        self._body()
        self.close_connection = True


class TokenHandler(_Quiet):
    calls: list[dict[str, list[str]]] = []  # noqa: RUF012 (one server per process)
    lock = threading.Lock()
    expires_in = 3600

    def do_GET(self) -> None:
        with self.lock:
            self._answer(200, {"calls": list(self.calls)})

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self._body().decode())
        form["authorization"] = [self.headers.get("authorization", "")]
        form["at"] = [str(time.time())]
        with self.lock:
            self.calls.append(form)
            number = len(self.calls)
        self._answer(
            200,
            {
                "access_token": f"token-{number}",
                "token_type": "Bearer",
                "expires_in": self.expires_in,
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["echo", "local", "drop", "token"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--expires-in", type=int, default=3600)
    args = parser.parse_args()
    if args.kind == "echo":
        cert, key = args.tls or (None, None)
        uvicorn.run(
            EchoBackend(keep_bodies=False),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
            ssl_certfile=cert,
            ssl_keyfile=key,
        )
        return
    handler = {"local": LocalHandler, "drop": DropHandler, "token": TokenHandler}[args.kind]
    TokenHandler.expires_in = args.expires_in
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", args.port), handler).serve_forever()


if __name__ == "__main__":
    main()
