import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hooks.app import create_app
from hooks.contract import CompositeRequest, CompositeResponse
from hooks.registry import Controller
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.sample_system import CONTROLLERS, WIDGET_CONTROLLER, widget


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(CONTROLLERS, Settings(), clock=lambda: NOW)
    with TestClient(app) as test_client:
        yield test_client


def _sync_body(spec: dict[str, object]) -> dict[str, object]:
    return {"controller": {}, "parent": widget(spec), "children": {"ConfigMap.v1": {}}}


def test_sync_answers_children_and_status(client: TestClient) -> None:
    response = client.post("/widget/sync", json=_sync_body({"image": "img"}))
    assert response.status_code == 200
    body = response.json()
    assert body["children"][0]["data"] == {"image": "img"}
    assert body["status"]["conditions"][0]["lastTransitionTime"] == "2026-01-15T10:30:00Z"
    assert body["resyncAfterSeconds"] == 30


def test_undecodable_request_is_400_with_message(client: TestClient) -> None:
    response = client.post("/widget/sync", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"] == "undecodable hook request"
    missing_parent = client.post("/widget/sync", json={"children": {}})
    assert missing_parent.status_code == 400
    assert "children" not in missing_parent.json()


def test_hook_exception_is_500_naming_the_parent(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="hooks.app"):
        response = client.post("/widget/sync", json=_sync_body({"image": "explode"}))
    assert response.status_code == 500
    assert "children" not in response.json()
    assert response.json()["error"] == "hook failed for Widget ns/w1"
    assert any(getattr(r, "parent", None) == "Widget ns/w1" for r in caplog.records)


def test_customize_and_decorator_routes(client: TestClient) -> None:
    customize = client.post("/widget/customize", json={"controller": {}, "parent": widget({})})
    assert customize.json() == {
        "relatedResources": [{"apiVersion": "v1", "resource": "nodes", "names": ["a"]}]
    }
    decorated = client.post("/widget-nodes/sync", json={"object": {"kind": "Node"}})
    assert decorated.json() == {"labels": {"old": None, "widget": "yes"}, "attachments": []}


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.post("/widget/finalize", json={}).status_code == 404
    assert client.get("/widget/sync").status_code == 405


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/widget/sync", json=_sync_body({"image": "img"}))
    client.post("/widget/sync", content=b"x")
    text = client.get("/metrics").text
    assert 'aihooks_hook_requests_total{code="200",controller="widget",hook="sync"} 1.0' in text
    assert (
        'aihooks_hook_errors_total{controller="widget",hook="sync",reason="undecodable"} 1.0'
        in text
    )
    assert 'aihooks_hook_duration_seconds_count{controller="widget",hook="sync"} 1.0' in text


def test_bearer_token() -> None:
    app = create_app(CONTROLLERS, Settings(hook_token="s3cret"), clock=lambda: NOW)
    with TestClient(app) as client:
        body = _sync_body({"image": "img"})
        assert client.post("/widget/sync", json=body).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.post("/widget/sync", json=body, headers=wrong).status_code == 401
        right = {"Authorization": "Bearer s3cret"}
        assert client.post("/widget/sync", json=body, headers=right).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_clock_is_read_once_per_request() -> None:
    calls: list[datetime] = []

    def clock() -> datetime:
        calls.append(NOW)
        return NOW

    with TestClient(create_app(CONTROLLERS, Settings(), clock=clock)) as client:
        client.post("/widget/sync", json=_sync_body({"image": "img"}))
    assert len(calls) == 1


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {"AIHOOKS_HOOK_TOKEN": "t", "AIHOOKS_LOG_LEVEL": "DEBUG", "X": "y"}
    )
    assert settings == Settings(hook_token="t", log_level="DEBUG")


def test_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    from hooks import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("INFO")
        logging.getLogger("hooks.test").info("hello", extra={"parent": "Widget ns/w1"})
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["message"] == "hello"
    assert entry["parent"] == "Widget ns/w1"
    assert entry["level"] == "INFO"


@pytest.mark.parametrize("client_logger", ["httpx", "httpx2"])
def test_http_client_request_lines_are_quiet_at_info(client_logger: str) -> None:
    """One INFO line per outbound request (the router, lightkube) would drown the log."""
    from hooks import logs

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure("INFO")
        assert not logging.getLogger(client_logger).isEnabledFor(logging.INFO)
        assert logging.getLogger(client_logger).isEnabledFor(logging.WARNING)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class _Held:
    """A hook that waits until released: the stand-in for a slow hook."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def sync(self, request: CompositeRequest, *, now: datetime, settings: Settings) -> Any:
        self.entered.set()
        assert self.release.wait(10), "the test never released the hook"
        return CompositeResponse(children=[])

    def controller(self) -> Controller:
        return Controller(
            name="held", kind="CompositeController", parent=WIDGET_CONTROLLER.parent, sync=self.sync
        )


def _serve(app: Any, *requests: tuple[str, str, bytes | None]) -> Any:
    async def run() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hooks") as client:
            return await asyncio.gather(
                *(client.request(method, path, content=body) for method, path, body in requests)
            )

    return asyncio.run(run())


def test_health_is_served_while_a_hook_runs() -> None:
    held = _Held()
    app = create_app((held.controller(),), Settings(), clock=lambda: NOW)

    async def scenario() -> tuple[int, int, bool]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hooks") as client:
            body = json.dumps({"parent": widget({})}).encode()
            slow = asyncio.ensure_future(client.post("/held/sync", content=body))
            await asyncio.get_running_loop().run_in_executor(None, held.entered.wait, 10)
            health = await client.get("/healthz")
            still_running = not slow.done()
            held.release.set()
            return health.status_code, (await slow).status_code, still_running

    health, hook, still_running = asyncio.run(scenario())
    assert (health, hook, still_running) == (200, 200, True)


def test_a_hook_past_its_deadline_is_a_500_naming_the_parent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    held = _Held()
    app = create_app((held.controller(),), Settings(hook_deadline_seconds=0.2), clock=lambda: NOW)
    body = json.dumps({"parent": widget({})}).encode()
    try:
        with caplog.at_level(logging.ERROR, logger="hooks.app"):
            (response,) = _serve(app, ("POST", "/held/sync", body))
    finally:
        held.release.set()
    assert response.status_code == 500
    assert response.json()["error"] == "hook ran past its deadline for Widget ns/w1"
    assert any(getattr(r, "parent", None) == "Widget ns/w1" for r in caplog.records)
