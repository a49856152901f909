"""The FastAPI application that serves every controller's hooks.

Each hook is served at `POST /<controller>/<hook>`. The handler reads the clock
once, parses the request, calls the pure hook and serialises its answer. Error
policy: a body that does not decode is a 400 with a message; an exception in a
hook is a 500 and a log line naming the parent, so Metacontroller keeps every
child and retries. No error path ever answers with a child list.

Parsing and the hook run in a worker thread, so the event loop keeps serving
`/healthz`, `/metrics` and other parents while one request is worked on. A request
still running `hook_deadline_seconds` after it arrived (below Metacontroller's
timeout) is answered with a 500 naming the parent; its thread finishes on its own.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import ValidationError

from hooks.contract import CustomizeRequest
from hooks.k8s.objects import ref_of
from hooks.registry import Controller, HookName, call_hook
from hooks.settings import Settings

log = logging.getLogger("hooks.app")
JSON_TYPE = "application/json"
HOOK_THREADS = 8
"""Worker threads for hooks; Metacontroller runs 5 workers per controller by default."""


class HookMetrics:
    """Prometheus series of the hook routes, in a registry owned by one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("controller", "hook")
        self.requests = Counter(
            "aihooks_hook_requests",
            "Hook requests answered",
            (*labels, "code"),
            registry=self.registry,
        )
        self.errors = Counter(
            "aihooks_hook_errors",
            "Hook requests that failed",
            (*labels, "reason"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "aihooks_hook_duration_seconds",
            "Time to answer a hook request",
            labels,
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
        )


def _clock() -> datetime:
    return datetime.now(UTC)


def create_app(
    controllers: Sequence[Controller] | None = None,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = _clock,
) -> FastAPI:
    """Build the application; tests pass their own controllers, settings and clock."""
    if controllers is None:
        from hooks.systems import CONTROLLERS

        controllers = CONTROLLERS
    settings = settings or Settings.from_env()
    metrics = HookMetrics()
    # Idle workers cost nothing; the app may be started and stopped several times.
    workers = ThreadPoolExecutor(max_workers=HOOK_THREADS, thread_name_prefix="hook")
    app = FastAPI(title="aihooks", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.metrics = metrics

    async def authorize(request: Request) -> None:
        if settings.hook_token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.hook_token}".encode()):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token")

    hooks_router = APIRouter(dependencies=[Depends(authorize)])
    for controller in controllers:
        for hook_name, hook in controller.hooks().items():
            hooks_router.add_api_route(
                f"/{controller.name}/{hook_name}",
                _endpoint(controller, hook_name, hook, settings, metrics, clock, workers),
                methods=["POST"],
                name=f"{controller.name}.{hook_name}",
            )
    app.include_router(hooks_router)
    app.include_router(_health_router(metrics))
    return app


@dataclass
class _Attempt:
    """What a worker thread has learnt of a request, for the log line of a missed deadline."""

    parent: str = "an undecoded parent"


def _endpoint(
    controller: Controller,
    hook_name: HookName,
    hook: Callable[..., Any],
    settings: Settings,
    metrics: HookMetrics,
    clock: Callable[[], datetime],
    workers: ThreadPoolExecutor,
) -> Callable[[Request], Any]:
    request_type = CustomizeRequest if hook_name == "customize" else controller.request_type
    labels = (controller.name, hook_name)
    where = {"controller": labels[0], "hook": hook_name}

    def answer(body: bytes, now: datetime, attempt: _Attempt) -> Response:
        try:
            parsed = request_type.model_validate_json(body)
        except ValidationError as error:
            metrics.errors.labels(*labels, "undecodable").inc()
            metrics.requests.labels(*labels, "400").inc()
            detail = error.errors(include_url=False, include_context=False, include_input=False)
            log.warning("undecodable hook request", extra=where)
            return _json_error(400, "undecodable hook request", detail)
        root = getattr(parsed, "parent", None) or getattr(parsed, "object", {})
        attempt.parent = ref_of(root)
        try:
            result = call_hook(hook, parsed, now=now, settings=settings)
        except Exception:
            metrics.errors.labels(*labels, "exception").inc()
            metrics.requests.labels(*labels, "500").inc()
            log.exception(
                "hook failed; Metacontroller keeps the children and retries",
                extra={**where, "parent": attempt.parent},
            )
            return _json_error(500, f"hook failed for {attempt.parent}", None)
        return Response(content=result.to_bytes(), media_type=JSON_TYPE)

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        now = clock()
        body = await request.body()
        attempt = _Attempt()
        work = asyncio.get_running_loop().run_in_executor(workers, answer, body, now, attempt)
        budget = settings.hook_deadline_seconds - (time.perf_counter() - started)
        try:
            response = await asyncio.wait_for(work, timeout=max(budget, 0.0))
        except TimeoutError:
            metrics.errors.labels(*labels, "deadline").inc()
            metrics.requests.labels(*labels, "500").inc()
            log.error(
                "hook ran past its deadline; Metacontroller keeps the children and retries",
                extra={**where, "parent": attempt.parent},
            )
            return _json_error(500, f"hook ran past its deadline for {attempt.parent}", None)
        if response.status_code == 200:
            metrics.requests.labels(*labels, "200").inc()
            metrics.latency.labels(*labels).observe(time.perf_counter() - started)
        return response

    return endpoint


def _json_error(code: int, message: str, detail: Any) -> Response:
    return Response(
        content=json.dumps({"error": message, "detail": detail}, default=str),
        status_code=code,
        media_type=JSON_TYPE,
    )


def _health_router(metrics: HookMetrics) -> APIRouter:
    router = APIRouter()

    # Served on the event loop itself, never queued behind hook threads.
    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
