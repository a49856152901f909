"""Forwarding one request to a backend and relaying its answer, without buffering.

The request body has already been read whole (the router needs its `model`);
it is sent once. Only a connection that could not be opened (nothing was sent)
is tried again, up to `connect_attempts`: a model reported ready may take a
moment to accept connections. The answer streams back chunk by chunk as the
backend produces it (`upstream.py`; body bytes untouched, so `Content-Length`
and `Content-Encoding` stay true), which is what server-sent events need.
Hop-by-hop headers (RFC 9110 §7.6.1, plus those named in `Connection`) are
dropped in both directions. Cancelling the coroutine (the client went away)
closes the upstream connection, which the backend sees as a disconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from hooks.router import errors
from hooks.router.config import RouterConfig
from hooks.router.errors import Rejection
from hooks.router.types import Send
from hooks.router.upstream import (
    ConnectFailed,
    Pool,
    Response,
    UpstreamError,
    UpstreamTimeout,
)

log = logging.getLogger("hooks.router.proxy")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Recomputed or meaningless once the router has read the body.
_REQUEST_ONLY = frozenset({b"host", b"content-length", b"expect"})
# The router's server sets its own.
_RESPONSE_ONLY = frozenset({b"date", b"server"})
_CONNECT_BACKOFF = 0.25


def _dropped(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b","))
    return HOP_BY_HOP | named if named else HOP_BY_HOP


def request_headers(
    headers: Iterable[tuple[bytes, bytes]], client: str | None, *, keep_authorization: bool = True
) -> list[tuple[bytes, bytes]]:
    """The client's end-to-end headers, plus `X-Forwarded-For`; without `Authorization`
    when it carried the router's own client key."""
    headers = list(headers)
    drop = _dropped(headers) | _REQUEST_ONLY
    if not keep_authorization:
        drop = drop | {b"authorization"}
    forwarded_for = None
    result = []
    for name, value in headers:
        lower = name.lower()
        if lower in drop:
            continue
        if lower == b"x-forwarded-for":
            forwarded_for = value
            continue
        result.append((lower, value))
    if client:
        chain = forwarded_for + b", " + client.encode() if forwarded_for else client.encode()
        result.append((b"x-forwarded-for", chain))
    elif forwarded_for:
        result.append((b"x-forwarded-for", forwarded_for))
    return result


def response_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    headers = list(headers)
    drop = _dropped(headers) | _RESPONSE_ONLY
    return [(name.lower(), value) for name, value in headers if name.lower() not in drop]


def backend_url(base: str, path: str, query: bytes) -> str:
    """`base` (the model's backendUrl, possibly with a path prefix) joined with the request's
    path and query."""
    url = base.rstrip("/") + path
    return f"{url}?{query.decode('latin-1')}" if query else url


def new_pool(config: RouterConfig) -> Pool:
    """The connection pool every forward shares."""
    return Pool(
        connect_timeout=config.connect_timeout_seconds, read_timeout=config.read_timeout_seconds
    )


class Upstream:
    """Opens requests to backends; the caller relays and closes the response."""

    def __init__(self, pool: Pool, config: RouterConfig) -> None:
        self.pool = pool
        self.read_timeout = config.read_timeout_seconds
        self._attempts = config.connect_attempts

    async def open(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response | Rejection:
        """The backend's response with its body still to be read, or why there is none."""
        attempt = 1
        while True:
            try:
                return await self.pool.request(method, url, headers, body)
            except ValueError as error:
                return _unavailable(f"the model's backendUrl cannot be used: {error}")
            except ConnectFailed as error:
                # Nothing reached the backend: trying again cannot send the body twice.
                if attempt >= self._attempts:
                    return _unavailable(str(error))
                await asyncio.sleep(_CONNECT_BACKOFF * attempt)
                attempt += 1
            except UpstreamTimeout as error:
                return Rejection(504, errors.BACKEND_TIMEOUT, f"the model's backend: {error}")
            except UpstreamError as error:
                return _unavailable(f"the model's backend failed: {error}")

    async def aclose(self) -> None:
        self.pool.close()


async def relay(response: Response, send: Send, timeout: float) -> bool:
    """Stream the backend's answer to the client; False if the backend broke off midway
    (the client then sees a truncated response, never a made-up ending)."""
    try:
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": response_headers(response.headers),
            }
        )
        last = False
        while not last:
            chunk, last = await response.read(timeout)
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
        return True
    except UpstreamError as error:
        log.warning("backend broke off its response", extra={"error": str(error)})
        return False
    finally:
        response.close()


def _unavailable(message: str) -> Rejection:
    return Rejection(502, errors.BACKEND_UNAVAILABLE, message)
