"""A lean HTTP/1.1 client for the forwarding path: asyncio protocols and httptools.

Why not httpx: measured on the project's machine, httpx (with httpcore, anyio
and h11, all pure Python on this path) costs about a millisecond per proxied
request, which alone misses the router's budget (p50 under 1 ms added at 200
requests/s, bench/router.py). The router needs little of a general client:
one request, a body already in memory, a response streamed back as it
arrives, keep-alive. This module does exactly that with the same parser
uvicorn uses, at a fraction of the cost.

Guarantees the proxy relies on:
* the body is written once; only a connection that could not be opened
  (nothing was sent) is retried, by the caller;
* the response body is delivered chunk by chunk as the backend sends it
  (chunked encoding decoded here, re-encoded by the server), with flow
  control: reading pauses while the consumer lags;
* closing a response before its end aborts the connection, which the backend
  sees as a client disconnect; a completed keep-alive connection goes back to
  a per-backend idle pool, and idle connections are dropped after a few
  seconds, before common servers' keep-alive timeouts (uvicorn: 5 s) close
  them under a request.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import urlsplit

import httptools

IDLE_SECONDS = 4.0
_PAUSE_ABOVE = 8
"""Chunks buffered before reading from the backend pauses."""


class UpstreamError(Exception):
    """The backend could not be reached or broke the exchange."""


class ConnectFailed(UpstreamError):
    """No connection: nothing was sent, so the request may be tried again."""


class UpstreamTimeout(UpstreamError):
    """The backend did not answer (or connect) in time."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's requests go: the pool key and the request line's parts."""

    scheme: str
    host: str
    port: int
    netloc: bytes
    path: str


@lru_cache(maxsize=4096)
def parse_url(url: str) -> Target:
    """Split an absolute http(s) URL; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, parts.hostname, port, parts.netloc.encode("idna"), path)


class _Connection(asyncio.Protocol):
    """One connection to a backend, carrying one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._response: Response | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._paused = False
        self._interim = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        response = self._response
        if response is None:
            # Bytes nobody asked for: the connection cannot be trusted any more.
            self.abort()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            response.fail(UpstreamError(f"invalid HTTP response: {error}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self._response
        if response is not None and not response.complete:
            if response.head.done() and response.until_close:
                response.finish()
            else:
                response.fail(UpstreamError(f"backend closed the connection: {exc or 'EOF'}"))

    def pause_writing(self) -> None:  # large bodies: the transport buffers them
        pass

    def resume_writing(self) -> None:
        pass

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        response = self._response
        assert response is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            # Interim (e.g. 103 Early Hints): the final response follows.
            self._interim = True
            self._headers = []
            return
        response.status = status
        response.headers = self._headers
        names = {name for name, _ in self._headers}
        response.until_close = b"content-length" not in names and not any(
            name == b"transfer-encoding" and b"chunked" in value.lower()
            for name, value in self._headers
        )
        if not response.head.done():
            response.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        response = self._response
        assert response is not None
        response.push(body)
        if len(response.chunks) >= _PAUSE_ABOVE and not self._paused and self.transport:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        response = self._response
        assert response is not None
        if self._interim:
            self._interim = False
            return
        response.keep_alive = self.parser.should_keep_alive()
        response.finish()

    # Used by Response and the pool

    def start(self, response: Response) -> None:
        self._response = response
        self._headers = []

    def drained(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def release(self) -> None:
        self._response = None
        self.idle_since = time.monotonic()
        self.parser = httptools.HttpResponseParser(self)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Response:
    """A backend's response: status and headers now, the body as it arrives."""

    def __init__(self, connection: _Connection, pool: Pool, key: tuple[str, str, int]) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.complete = False
        self.keep_alive = False
        self.until_close = False
        self._error: UpstreamError | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._connection = connection
        self._pool = pool
        self._key = key
        self._closed = False

    # Fed by the connection

    def push(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self._wake()

    def finish(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, error: UpstreamError) -> None:
        self._error = error
        if not self.head.done():
            self.head.set_exception(error)
            # Retrieved or not, this exception is reported through the body too.
            self.head.exception()
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    # Read by the proxy

    async def read(self, timeout: float) -> tuple[bytes, bool]:
        """The next piece of the body as it arrives, and whether it is the last one.

        UpstreamError if the backend breaks off, UpstreamTimeout after `timeout`
        seconds without data.
        """
        while not self.chunks and not self.complete:
            if self._error is not None:
                raise self._error
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._wakeup
            except TimeoutError:
                raise UpstreamTimeout(f"no data from the backend for {timeout:.0f}s") from None
            finally:
                self._wakeup = None
        if not self.chunks:
            return b"", True
        chunk = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self._drain())
        self._connection.drained()
        return chunk, self.complete

    def _drain(self) -> list[bytes]:
        chunks = list(self.chunks)
        self.chunks.clear()
        return chunks

    def close(self) -> None:
        """Return the connection to the pool after a complete exchange; abort it otherwise."""
        if self._closed:
            return
        self._closed = True
        connection = self._connection
        if self.complete and self.keep_alive and not self.chunks and not connection.closed:
            connection.release()
            self._pool.put(self._key, connection)
        else:
            connection.abort()


class Pool:
    """Keep-alive connections per backend (scheme, host, port)."""

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    def put(self, key: tuple[str, str, int], connection: _Connection) -> None:
        self._idle.setdefault(key, []).append(connection)

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.closed or now - connection.idle_since > IDLE_SECONDS:
                connection.abort()
                continue
            assert connection.transport is not None
            if connection.transport.is_closing():
                continue
            return connection
        return None

    async def _connect(self, target: Target) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if target.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, protocol = await loop.create_connection(
                    _Connection,
                    target.host,
                    target.port,
                    ssl=tls,
                    server_hostname=target.host if tls else None,
                )
        except TimeoutError:
            raise ConnectFailed(
                f"connecting to {target.host}:{target.port} took over {self.connect_timeout}s"
            ) from None
        except OSError as error:
            raise ConnectFailed(f"cannot connect to {target.host}:{target.port}: {error}") from None
        return protocol

    async def request(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        """Send the request; the response with its head read and its body to come.

        `headers` must not contain Host, Content-Length or Transfer-Encoding.
        """
        target = parse_url(url)
        key = (target.scheme, target.host, target.port)
        connection = self._take(key) or await self._connect(target)
        response = Response(connection, self, key)
        connection.start(response)
        head = [
            f"{method} {target.path} HTTP/1.1\r\n".encode("latin-1"),
            b"host: " + target.netloc + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
        ]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        head.append(b"\r\n")
        assert connection.transport is not None
        if len(body) <= 65536:
            head.append(body)
            connection.transport.write(b"".join(head))
        else:
            connection.transport.writelines([b"".join(head), body])
        try:
            async with asyncio.timeout(self.read_timeout):
                await response.head
        except TimeoutError:
            response.close()
            waited = f"{self.read_timeout:.0f}s"
            raise UpstreamTimeout(f"no response from the backend in {waited}") from None
        except BaseException:
            response.close()
            raise
        return response

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.abort()
        self._idle.clear()
