"""The whole request path in-process: the router app and an echo backend on loopback."""

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.router.app import Router, create_app
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.echo import EchoBackend, serving
from hooks.router.metrics import RouterMetrics
from hooks.router.proxy import Upstream, new_pool
from hooks.router.state import ModelView
from tests.unit.router.factory import inference_model, insufficient_message, run


@dataclass
class RecordingDemand:
    records: list[tuple[str, bool]] = field(default_factory=list)

    def record(self, view: ModelView) -> None:
        self.records.append((view.model_name, view.ready))


@dataclass
class Rig:
    router: Router
    catalog: Catalog
    backend: EchoBackend
    backend_url: str
    url: str
    client: httpx.AsyncClient
    demand: RecordingDemand

    def metric(self, name: str, **labels: str) -> float:
        value = self.router.metrics.registry.get_sample_value(name, labels)
        return value or 0.0

    def put(self, **kwargs: Any) -> None:
        self.catalog.put_model(inference_model(backend=self.backend_url, **kwargs))


@asynccontextmanager
async def rig(**config: Any) -> AsyncIterator[Rig]:
    backend = EchoBackend()
    async with serving(backend) as backend_url:
        # The echo backend is on loopback, which only an allowed CIDR admits.
        settings = RouterConfig(
            **{"connect_attempts": 1, "allowed_backends": ("127.0.0.1/32",), **config}
        )
        catalog = Catalog()
        catalog.replace_models([inference_model(backend=backend_url, ready=True)])
        catalog.synced = True
        demand = RecordingDemand()
        router = create_app(
            config=settings,
            catalog=catalog,
            demand=demand,
            upstream=Upstream(new_pool(settings), settings),
            metrics=RouterMetrics(),
        )
        async with serving(router) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Rig(router, catalog, backend, backend_url, url, client, demand)


async def eventually(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    return error


def test_forwards_a_request_once_with_its_path_query_and_end_to_end_headers() -> None:
    async def scenario() -> None:
        async with rig() as r:
            response = await r.client.post(
                "/v1/chat/completions?api-version=1",
                json={"model": "llama", "messages": []},
                headers={
                    "authorization": "Bearer sk-1",
                    "connection": "x-hop",
                    "x-hop": "secret",
                    "x-forwarded-for": "203.0.113.9",
                },
            )
            assert response.status_code == 200
            echo = response.json()["echo"]
            assert echo["path"] == "/v1/chat/completions"
            assert echo["query"] == "api-version=1"
            assert echo["headers"]["authorization"] == "Bearer sk-1"
            assert echo["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
            assert "x-hop" not in echo["headers"]
            assert r.backend.stats.requests == 1
            assert json.loads(r.backend.stats.bodies[0]) == {"model": "llama", "messages": []}
            # Demand at the start and at the end of the request.
            assert r.demand.records == [("llama", True), ("llama", True)]
            for path in ("/v1/completions", "/v1/embeddings"):
                assert (await r.client.post(path, json={"model": "llama"})).status_code == 200
            assert (
                r.metric(
                    "aihooks_router_requests_total",
                    model="llama",
                    endpoint="chat_completions",
                    code="200",
                )
                == 1
            )

    run(scenario())


def test_a_stream_arrives_in_chunks_as_the_backend_sends_them() -> None:
    async def scenario() -> None:
        async with rig() as r:
            arrivals = []
            body = {"model": "llama", "stream": True, "x_chunks": 3, "x_delay": 0.15}
            async with r.client.stream("POST", "/v1/chat/completions", json=body) as response:
                assert response.headers["content-type"] == "text/event-stream"
                async for chunk in response.aiter_raw():
                    arrivals.append((time.monotonic(), chunk))
            text = b"".join(c for _, c in arrivals).decode()
            assert text.count("data: ") == 4
            assert text.endswith("data: [DONE]\n\n")
            assert len(arrivals) >= 3
            gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
            assert sum(1 for gap in gaps if gap > 0.1) >= 2

    run(scenario())


def test_a_client_that_disconnects_mid_stream_disconnects_the_backend() -> None:
    async def scenario() -> None:
        async with rig() as r:
            body = {"model": "llama", "stream": True, "x_chunks": 50, "x_delay": 0.05}
            async with r.client.stream("POST", "/v1/chat/completions", json=body) as response:
                async for _ in response.aiter_raw():
                    break
            await eventually(lambda: r.backend.stats.disconnects == 1)
            assert r.backend.stats.streams_finished == 0
            await eventually(
                lambda: (
                    r.metric("aihooks_router_rejections_total", reason="client_disconnected") == 1
                )
            )

    run(scenario())


@pytest.mark.parametrize(
    ("reason", "body", "code"),
    [
        ("not JSON", b"{model: llama", "invalid_request"),
        ("not UTF-8", b"\xff\xfe{", "invalid_request"),
        ("empty", b"", "invalid_request"),
        ("an array", b'["llama"]', "invalid_request"),
        ("no model", b'{"messages": []}', "invalid_request"),
        ("model not a string", b'{"model": 7}', "invalid_request"),
        ("empty model", b'{"model": ""}', "invalid_request"),
        ("deeply nested", b"[" * 100000 + b"]" * 100000, "invalid_request"),
    ],
)
def test_malformed_requests_are_400_in_the_openai_format(
    reason: str, body: bytes, code: str
) -> None:
    async def scenario() -> None:
        async with rig() as r:
            response = await r.client.post("/v1/chat/completions", content=body)
            assert response.status_code == 400, reason
            assert error_of(response)["code"] == code
            assert r.backend.stats.requests == 0

    run(scenario())


def test_unknown_models_paths_methods_and_large_bodies() -> None:
    async def scenario() -> None:
        async with rig(max_body_bytes=1024) as r:
            unknown = await r.client.post("/v1/chat/completions", json={"model": "gpt-5"})
            assert unknown.status_code == 404
            assert error_of(unknown)["code"] == "model_not_found"
            assert (await r.client.get("/v1/chat/completions")).status_code == 405
            assert (await r.client.post("/v1/models")).status_code == 405
            assert (await r.client.post("/v2/anything", json={})).status_code == 404
            large = await r.client.post(
                "/v1/chat/completions", json={"model": "llama", "pad": "x" * 2000}
            )
            assert large.status_code == 413
            assert error_of(large)["code"] == "body_too_large"
            assert r.backend.stats.requests == 0

    run(scenario())


def test_models_health_and_metrics() -> None:
    async def scenario() -> None:
        async with rig() as r:
            r.catalog.put_model(inference_model("b", model="alpha", backend=r.backend_url))
            r.catalog.put_model(inference_model("c", model="gone", deleting=True))
            models = (await r.client.get("/v1/models")).json()
            assert models == {
                "object": "list",
                "data": [
                    {"id": "alpha", "object": "model", "created": 1767225600, "owned_by": "ns"},
                    {"id": "llama", "object": "model", "created": 1767225600, "owned_by": "ns"},
                ],
            }
            assert (await r.client.get("/healthz")).status_code == 200
            assert (await r.client.get("/readyz")).status_code == 200
            r.catalog.synced = False
            assert (await r.client.get("/readyz")).status_code == 503
            text = (await r.client.get("/metrics")).text
            for series in (
                "aihooks_router_requests_total",
                "aihooks_router_held_requests",
                "aihooks_router_wake_seconds",
                'aihooks_router_rejections_total{reason="insufficient_memory"} 0.0',
            ):
                assert series in text

    run(scenario())


def test_a_request_for_a_model_at_zero_is_held_until_it_is_ready() -> None:
    async def scenario() -> None:
        async with rig() as r:
            r.put(ready=False, reason="ScaledToZero", message="Scaled to zero: no request yet")
            request = asyncio.create_task(
                r.client.post("/v1/chat/completions", json={"model": "llama"})
            )
            await eventually(lambda: r.metric("aihooks_router_held_requests", model="llama") == 1)
            assert r.demand.records[0] == ("llama", False)  # demand recorded at once
            assert r.backend.stats.requests == 0
            r.put(ready=False, reason="Deploying")
            await asyncio.sleep(0.05)
            assert not request.done()
            r.put(ready=True, reason="Deployed")
            response = await asyncio.wait_for(request, 3)
            assert response.status_code == 200
            assert r.backend.stats.requests == 1
            assert r.metric("aihooks_router_held_requests", model="llama") == 0
            assert r.metric("aihooks_router_holds_total", model="llama", outcome="ready") == 1
            assert r.metric("aihooks_router_wake_seconds_count", model="llama") == 1

    run(scenario())


def test_queue_overflow_is_429_and_timeout_is_503_both_with_retry_after() -> None:
    async def scenario() -> None:
        async with rig(max_queue=1, max_wait_seconds=0.5, retry_after_seconds=9) as r:
            r.put(ready=False, reason="ScaledToZero")
            first = asyncio.create_task(
                r.client.post("/v1/chat/completions", json={"model": "llama"})
            )
            await eventually(lambda: r.metric("aihooks_router_held_requests", model="llama") == 1)
            second = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert second.status_code == 429
            assert second.headers["retry-after"] == "9"
            assert error_of(second)["code"] == "queue_full"
            timed_out = await asyncio.wait_for(first, 3)
            assert timed_out.status_code == 503
            assert timed_out.headers["retry-after"] == "9"
            assert error_of(timed_out)["code"] == "wake_timeout"
            assert r.backend.stats.requests == 0
            assert r.metric("aihooks_router_rejections_total", reason="queue_full") == 1
            assert r.metric("aihooks_router_rejections_total", reason="wake_timeout") == 1

    run(scenario())


def test_held_requests_are_answered_503_when_the_router_drains() -> None:
    async def scenario() -> None:
        async with rig(max_wait_seconds=60, retry_after_seconds=4) as r:
            r.put(ready=False, reason="ScaledToZero")
            held = asyncio.create_task(
                r.client.post("/v1/chat/completions", json={"model": "llama"})
            )
            await eventually(lambda: r.metric("aihooks_router_held_requests", model="llama") == 1)
            started = time.monotonic()
            r.router.drain()
            response = await asyncio.wait_for(held, 3)
            assert time.monotonic() - started < 1
            assert response.status_code == 503
            assert response.headers["retry-after"] == "4"
            assert error_of(response)["code"] == "shutting_down"
            assert r.metric("aihooks_router_holds_total", model="llama", outcome="shutting_down")
            assert r.backend.stats.requests == 0

    run(scenario())


def test_insufficient_memory_is_429_with_the_details_body() -> None:
    async def scenario() -> None:
        async with rig(insufficient_memory_retry_after_seconds=120) as r:
            r.put(ready=False, reason="InsufficientMemory", message=insufficient_message())
            response = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert response.status_code == 429
            assert response.headers["retry-after"] == "120"
            error = error_of(response)
            assert error["type"] == "insufficient_memory"
            assert error["code"] == "insufficient_memory"
            assert error["details"] == {
                "requested": "80Gi",
                "available": "40Gi",
                "blocking": ["big"],
            }
            # Still demand: the hook re-evaluates with the new request time.
            assert r.demand.records == [("llama", False)]

    run(scenario())


def test_a_held_request_learns_of_a_shortage_or_a_deletion() -> None:
    async def scenario() -> None:
        async with rig() as r:
            r.put(ready=False, reason="Pending", message="Waiting for dependencies: tokenizer")
            short = asyncio.create_task(
                r.client.post("/v1/chat/completions", json={"model": "llama"})
            )
            await eventually(lambda: r.metric("aihooks_router_held_requests", model="llama") == 1)
            r.put(ready=False, reason="InsufficientMemory", message=insufficient_message())
            assert (await asyncio.wait_for(short, 3)).status_code == 429
            r.put(ready=False, reason="Pending")
            deleted = asyncio.create_task(
                r.client.post("/v1/chat/completions", json={"model": "llama"})
            )
            await eventually(lambda: r.metric("aihooks_router_held_requests", model="llama") == 1)
            r.catalog.delete_model(inference_model())
            assert (await asyncio.wait_for(deleted, 3)).status_code == 404

    run(scenario())


def test_a_client_that_gives_up_while_held_frees_its_place() -> None:
    async def scenario() -> None:
        async with rig(max_queue=1) as r:
            r.put(ready=False, reason="ScaledToZero")
            async with httpx.AsyncClient(base_url=r.url) as impatient:
                request = asyncio.create_task(
                    impatient.post("/v1/chat/completions", json={"model": "llama"})
                )
                await eventually(
                    lambda: r.metric("aihooks_router_held_requests", model="llama") == 1
                )
                request.cancel()
            await eventually(lambda: r.metric("aihooks_router_held_requests", model="llama") == 0)
            assert r.metric("aihooks_router_holds_total", model="llama", outcome="cancelled") == 1
            r.put(ready=True, reason="Deployed")
            ok = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert ok.status_code == 200
            assert r.backend.stats.requests == 1

    run(scenario())


def test_failed_disabled_unreachable_and_external_models() -> None:
    async def scenario() -> None:
        async with rig() as r:
            r.put(ready=False, reason="Failed", message="Dependency cycle: a -> a")
            failed = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert (failed.status_code, error_of(failed)["code"]) == (503, "model_failed")
            assert "Dependency cycle" in error_of(failed)["message"]
            r.put(max_replicas=0, reason="ScaledToZero")
            disabled = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert (disabled.status_code, error_of(disabled)["code"]) == (503, "model_disabled")
            r.catalog.put_model(inference_model(ready=True, backend="http://127.0.0.1:1"))
            down = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert (down.status_code, error_of(down)["code"]) == (502, "backend_unavailable")
            r.catalog.put_model(inference_model(image=None, backend=r.backend_url))
            external = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert external.status_code == 200

    run(scenario())


class _Captured:
    """Drives the ASGI app directly, without a server (fast enough for property tests)."""

    def __init__(self, body: bytes) -> None:
        self.messages = [{"type": "http.request", "body": body, "more_body": False}]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            return self.messages.pop()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=64)
    | st.builds(
        lambda v: json.dumps(v).encode(),
        st.dictionaries(st.text(max_size=6), st.none() | st.integers() | st.text(max_size=6)),
    )
)
def test_no_body_makes_the_router_fail(body: bytes) -> None:
    catalog = Catalog()
    catalog.replace_models([inference_model(backend="http://127.0.0.1:1", ready=True)])
    config = RouterConfig(connect_attempts=1, allowed_backends=("127.0.0.1/32",))
    app = create_app(
        config=config,
        catalog=catalog,
        demand=RecordingDemand(),
        upstream=Upstream(new_pool(config), config),
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
    }
    captured = _Captured(body)
    run(app(scope, captured.receive, captured.send))
    assert captured.sent[0]["status"] in (400, 404, 502)
    assert captured.sent[-1]["more_body"] is False
