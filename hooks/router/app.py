"""The router's ASGI application: the OpenAI-compatible routes, health and metrics.

A plain ASGI callable rather than a framework app: the forwarding path is the
product and every microsecond on it is added latency (see bench/router.py).
The factory takes the catalog, the demand recorder, the upstream client and
the background loops as arguments, so tests run the whole path in-process
with an in-memory catalog and a loopback backend.

Per inference request: read the body (bounded), find `model`, record demand,
then `decide`: forward, reject, or hold until the catalog reports a change
of that model (watch-fed, no polling) and decide again, within the queue
limit and the maximum wait. Everything after the body is read is guarded: a
client that disconnects cancels the hold or the forwarding, which closes the
upstream connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hooks.router import errors
from hooks.router.access import ClientKey, ClientKeys
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.decide import Forward, Hold, decide, shutting_down, timed_out, unknown_model
from hooks.router.errors import Rejection
from hooks.router.metrics import OTHER_MODEL, RouterMetrics
from hooks.router.proxy import Upstream, backend_url, relay, request_headers
from hooks.router.state import ModelView
from hooks.router.throttle import demand_interval
from hooks.router.types import Receive, Scope, Send

log = logging.getLogger("hooks.router.app")

ENDPOINTS = {
    "/v1/chat/completions": "chat_completions",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
CLIENT_CLOSED = 499
"""Status recorded in metrics for requests whose client went away (nginx's convention)."""

T = TypeVar("T")
Loop = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Awaitable[None]]


class Demand(Protocol):
    def record(self, view: ModelView) -> None: ...


class Router:
    """The ASGI callable."""

    def __init__(
        self,
        *,
        config: RouterConfig,
        catalog: Catalog,
        demand: Demand,
        upstream: Upstream,
        metrics: RouterMetrics,
        background: Sequence[Loop] = (),
        closers: Sequence[Closer] = (),
        keys: ClientKeys | None = None,
    ) -> None:
        self.config = config
        self.keys = keys
        self.catalog = catalog
        self.demand = demand
        self.upstream = upstream
        self.metrics = metrics
        self._background = background
        self._closers = closers
        self._tasks: list[asyncio.Task[None]] = []
        self._waiting: dict[str, int] = {}
        self._draining = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # Lifespan: the background loops live as long as the server.

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for loop in self._background:
            task = asyncio.create_task(loop())
            task.add_done_callback(_report_crash)
            self._tasks.append(task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.upstream.aclose()
        for close in self._closers:
            await close()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain(self) -> None:
        """Answer every held request 503 now: the server is going away (safe from a
        signal handler). The server finishes the requests already forwarded."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._draining.set)

    # HTTP

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        method = scope["method"]
        endpoint = ENDPOINTS.get(path)
        client: ClientKey | None = None
        if self.keys is not None and path.startswith("/v1/"):
            client = self.keys.find(_header(scope, b"authorization"))
            if client is None:
                await self._reject(send, _invalid_key(), OTHER_MODEL, endpoint or "other")
                return
        if endpoint is not None:
            if method != "POST":
                await _answer(send, _method_not_allowed(path, "POST"))
                return
            await self._inference(scope, receive, send, endpoint, client)
        elif path == "/v1/models":
            if method != "GET":
                await _answer(send, _method_not_allowed(path, "GET"))
                return
            await _json(send, 200, self._models(client))
        elif path == "/healthz":
            await _json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            synced = self.catalog.synced
            await _json(send, 200 if synced else 503, {"status": "ok" if synced else "syncing"})
        elif path == "/metrics":
            content_type = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
            await _send(send, 200, content_type, self._scrape())
        else:
            await _answer(
                send, Rejection(404, errors.NOT_FOUND, f"Unknown request URL: {method} {path}.")
            )

    def _scrape(self) -> bytes:
        return generate_latest(self.metrics.registry)

    def _models(self, client: ClientKey | None) -> dict[str, Any]:
        """The served models, those of the client's namespaces when keys are required."""
        return {
            "object": "list",
            "data": [
                {
                    "id": v.model_name,
                    "object": "model",
                    "created": v.created,
                    "owned_by": v.namespace,
                }
                for v in self.catalog.served()
                if not v.deleting and (client is None or client.may_use(v.namespace))
            ],
        }

    async def _inference(
        self, scope: Scope, receive: Receive, send: Send, endpoint: str, client: ClientKey | None
    ) -> None:
        body = await _read_body(scope, receive, self.config.max_body_bytes)
        if body is None:
            self._count(OTHER_MODEL, endpoint, CLIENT_CLOSED, errors.CLIENT_DISCONNECTED)
            return
        if isinstance(body, Rejection):
            await self._reject(send, body, OTHER_MODEL, endpoint)
            return
        model = model_of(body)
        if isinstance(model, Rejection):
            await self._reject(send, model, OTHER_MODEL, endpoint)
            return
        view = self.catalog.get(model)
        if (
            view is None
            or view.deleting
            or (client is not None and not client.may_use(view.namespace))
        ):
            await self._reject(send, unknown_model(model), OTHER_MODEL, endpoint)
            return
        decision = decide(
            view, model, waiting=self._waiting.get(model, 0), queued=False, config=self.config
        )
        if isinstance(decision, Rejection) and decision.reason == errors.BACKEND_NOT_ALLOWED:
            # Not even demand: a model the router will not forward to is never woken.
            await self._reject(send, decision, model, endpoint)
            return
        self.demand.record(view)
        if isinstance(decision, Rejection):
            await self._reject(send, decision, model, endpoint)
            return
        status = await _until_disconnect(
            receive, self._serve(scope, send, model, endpoint, body, decision)
        )
        if status is None:
            self._count(model, endpoint, CLIENT_CLOSED, errors.CLIENT_DISCONNECTED)

    async def _serve(
        self,
        scope: Scope,
        send: Send,
        model: str,
        endpoint: str,
        body: bytes,
        decision: Forward | Hold,
    ) -> int:
        if isinstance(decision, Hold):
            settled = await self._hold(model)
            if isinstance(settled, Rejection):
                await self._reject(send, settled, model, endpoint)
                return settled.status
            decision = settled
        url = backend_url(decision.backend_url, scope["path"], scope["query_string"])
        peer = scope.get("client")
        # The router's own key is the client's credential for the router, not the backend's.
        headers = request_headers(
            scope["headers"], peer[0] if peer else None, keep_authorization=self.keys is None
        )
        response = await self.upstream.open(scope["method"], url, headers, body)
        if isinstance(response, Rejection):
            await self._reject(send, response, model, endpoint)
            return response.status
        await relay(response, send, self.upstream.read_timeout)
        self.metrics.requests.labels(model, endpoint, str(response.status)).inc()
        view = self.catalog.get(model)
        if view is not None and not view.deleting:
            # A long generation is demand until its end, not only at its start.
            self.demand.record(view)
        return response.status

    async def _hold(self, model: str) -> Forward | Rejection:
        """Wait for the model to be ready (or for a reason to give up); one queue slot."""
        config = self.config
        self._waiting[model] = self._waiting.get(model, 0) + 1
        gauge = self.metrics.held.labels(model)
        gauge.inc()
        started = time.monotonic()
        deadline = started + config.max_wait_seconds
        outcome = "cancelled"
        try:
            while True:
                changed = self.catalog.changed(model)
                view = self.catalog.get(model)
                decision = decide(
                    view, model, waiting=self._waiting[model], queued=True, config=config
                )
                if isinstance(decision, Forward):
                    outcome = "ready"
                    self.metrics.wake_seconds.labels(model).observe(time.monotonic() - started)
                    return decision
                if isinstance(decision, Rejection):
                    outcome = decision.reason
                    return decision
                if self._draining.is_set():
                    outcome = errors.SHUTTING_DOWN
                    return shutting_down(model, config=config)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    outcome = errors.WAKE_TIMEOUT
                    return timed_out(view, model, waited=config.max_wait_seconds, config=config)
                assert view is not None
                # Held requests are demand: keep it fresh while the model takes its time.
                self.demand.record(view)
                wait = min(remaining, demand_interval(view.cooldown, config).total_seconds())
                await _first(changed.wait(), self._draining.wait(), timeout=wait)
        finally:
            self._waiting[model] -= 1
            if not self._waiting[model]:
                del self._waiting[model]
            gauge.dec()
            self.metrics.holds.labels(model, outcome).inc()

    async def _reject(self, send: Send, rejection: Rejection, model: str, endpoint: str) -> None:
        self._count(model, endpoint, rejection.status, rejection.reason)
        await _answer(send, rejection)

    def _count(self, model: str, endpoint: str, status: int, reason: str) -> None:
        self.metrics.requests.labels(model, endpoint, str(status)).inc()
        self.metrics.rejections.labels(reason).inc()


def create_app(
    *,
    config: RouterConfig,
    catalog: Catalog,
    demand: Demand,
    upstream: Upstream,
    metrics: RouterMetrics | None = None,
    background: Sequence[Loop] = (),
    closers: Sequence[Closer] = (),
    keys: ClientKeys | None = None,
) -> Router:
    """The router app; `background` loops (watch feeds, demand writer, observer) run
    between the server's startup and shutdown, `closers` run after them; with `keys`,
    `/v1/` requests need one of them."""
    return Router(
        config=config,
        catalog=catalog,
        demand=demand,
        upstream=upstream,
        metrics=metrics or RouterMetrics(),
        background=background,
        closers=closers,
        keys=keys,
    )


def model_of(body: bytes) -> str | Rejection:
    """The `model` of an OpenAI request body, or the 400 that explains what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return Rejection(
            400,
            errors.INVALID_REQUEST,
            "We could not parse the JSON body of your request. The body must be a JSON object.",
        )
    if not isinstance(data, dict):
        return Rejection(400, errors.INVALID_REQUEST, "The request body must be a JSON object.")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        return Rejection(
            400,
            errors.INVALID_REQUEST,
            "You must provide a model parameter (a non-empty string).",
            param="model",
        )
    return model


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | Rejection | None:
    """The whole body; None if the client disconnected first."""
    too_large = Rejection(
        413, errors.BODY_TOO_LARGE, f"The request body is larger than {limit} bytes."
    )
    for name, value in scope["headers"]:
        if name == b"content-length":
            with contextlib.suppress(ValueError):
                if int(value) > limit:
                    return too_large
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _until_disconnect(receive: Receive, work: Awaitable[T]) -> T | None:
    """Run work in this task; cancel it if the client disconnects (then return None)."""
    current = asyncio.current_task()
    assert current is not None
    state = {"finished": False, "gone": False}

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not state["finished"]:
                    state["gone"] = True
                    current.cancel()
                return

    watcher = asyncio.create_task(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not state["gone"]:
            raise
        current.uncancel()
        return None
    finally:
        state["finished"] = True
        watcher.cancel()


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


def _invalid_key() -> Rejection:
    return Rejection(
        401,
        errors.INVALID_API_KEY,
        "Incorrect or missing API key: send Authorization: Bearer <key> with a key of this router.",
    )


def _method_not_allowed(path: str, allowed: str) -> Rejection:
    return Rejection(405, errors.METHOD_NOT_ALLOWED, f"{path} only accepts {allowed}.")


async def _answer(send: Send, rejection: Rejection) -> None:
    await _send(send, rejection.status, rejection.headers(), rejection.body())


async def _json(send: Send, status: int, value: Any) -> None:
    body = json.dumps(value, separators=(",", ":")).encode()
    await _send(send, status, [(b"content-type", b"application/json")], body)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _report_crash(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("a background loop of the router stopped", exc_info=error)


async def _first(*waits: Coroutine[Any, Any, Any], timeout: float) -> None:
    """Until the first of the waits returns, or the timeout; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
