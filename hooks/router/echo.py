"""A tiny OpenAI-shaped backend: for the router's tests, its benchmark and local trials.

It answers `/v1/chat/completions`, `/v1/completions` (JSON, or server-sent
events when `"stream": true`) and `/v1/embeddings`, echoing what it received
(path, query, headers, model) and counting requests and client disconnects.
Two non-standard body fields shape the answer: `x_chunks` (events in a
stream, default 3) and `x_delay` (seconds before each event, or before a JSON
answer).

    python -m hooks.router.echo --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from hooks.router.types import Receive, Scope, Send


@dataclass
class EchoStats:
    requests: int = 0
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    disconnects: int = 0
    streams_finished: int = 0
    keep_bodies: bool = True


class EchoBackend:
    def __init__(self, *, keep_bodies: bool = True) -> None:
        self.stats = EchoStats(keep_bodies=keep_bodies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/health":
            await _send(send, 200, b'{"status":"ok"}')
            return
        self.stats.requests += 1
        if self.stats.keep_bodies:
            self.stats.bodies.append(body)
            self.stats.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            await _send(send, 400, b'{"error":{"message":"bad json"}}')
            return
        delay = float(data.get("x_delay", 0))
        if data.get("stream"):
            await self._stream(scope, receive, send, data, delay)
            return
        if delay:
            await asyncio.sleep(delay)
        answer: dict[str, Any]
        if path == "/v1/embeddings":
            answer = {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 0.5, 1.0]}],
            }
        else:
            answer = {
                "id": "cmpl-echo",
                "object": "chat.completion",
                "model": data.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "echo"}}],
                "echo": {
                    "path": path,
                    "query": scope["query_string"].decode(),
                    "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                },
            }
        await _send(send, 200, json.dumps(answer).encode())

    async def _stream(
        self, scope: Scope, receive: Receive, send: Send, data: dict[str, Any], delay: float
    ) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream"),
                        (b"cache-control", b"no-cache"),
                    ],
                }
            )
            for index in range(int(data.get("x_chunks", 3))):
                if delay:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await gone.wait()
                if gone.is_set():
                    self.stats.disconnects += 1
                    return
                event = {
                    "id": "cmpl-echo",
                    "object": "chat.completion.chunk",
                    "index": index,
                    "choices": [{"index": 0, "delta": {"content": f"part{index} "}}],
                }
                chunk = f"data: {json.dumps(event)}\n\n".encode()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send(
                {"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False}
            )
            self.stats.streams_finished += 1
        finally:
            watcher.cancel()


async def _send(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def bound_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def serving(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on this event loop; yields its base URL."""
    sock = bound_socket(host, port)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="auto",
            log_level="warning",
            proxy_headers=False,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    uvicorn.run(EchoBackend(keep_bodies=False), host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
