"""The request router against the real control plane, with the InferenceModel hooks.

Each test runs `aihooks router` as a subprocess, serving the test's namespace,
authenticated as a ServiceAccount bound to the ClusterRole of
`deploy/base/router/rbac.yaml` (so the deploy's RBAC is proven sufficient).
The backends are the OpenAI-shaped echo server on loopback; kwok makes the
Deployments' pods ready. Here the peak-memory observer reads PodMetrics from a
loopback stand-in for metrics-server (`--metrics-url`), whose usage the test sets
directly; test_metrics.py runs it against the cluster's real metrics.k8s.io API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
import yaml
from lightkube import ApiError, Client, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import RoleRef, Subject
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod, ServiceAccount, ServiceAccountToken
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from hooks.cli import REPO_ROOT
from hooks.devcluster import LocalCluster
from hooks.devcluster.process import Process, stop_all
from hooks.k8s.quantity import parse_bytes
from hooks.router.echo import EchoBackend, bound_socket
from hooks.router.types import Receive, Scope, Send
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e

InferenceModel = create_namespaced_resource(
    "inference.eh-ops.io", "v1alpha1", "InferenceModel", "inferencemodels"
)
LAST_REQUEST = "inference.eh-ops.io/last-request-time"
PEAK = "inference.eh-ops.io/observed-peak-memory"
RBAC = REPO_ROOT / "deploy/base/router/rbac.yaml"
GI, MI = 1024**3, 1024**2
NO_METRICS_API = "no metrics.k8s.io API: peak memory is not observed until one is installed"


# Loopback servers in threads: the echo backend and the metrics-server stand-in.


class ThreadServer:
    def __init__(self, app: Any) -> None:
        self._socket = bound_socket()
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        wait_for(lambda: self._server.started, what="a loopback server", timeout=10)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


class MetricsStandIn:
    """Serves `GET /apis/metrics.k8s.io/v1beta1[/namespaces/NS]/pods?labelSelector=...`
    as metrics-server would: one PodMetrics per real pod whose usage the test sets."""

    def __init__(self, kube: Client) -> None:
        self.kube = kube
        self.usage: dict[str, str] = {}
        """Memory per InferenceModel name (the pods' app.kubernetes.io/name)."""
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.requests += 1
        path: str = scope["path"]
        query = parse_qs(scope["query_string"].decode())
        selector = dict(
            pair.split("=", 1) for pair in query.get("labelSelector", [""])[0].split(",") if pair
        )
        parts = path.split("/")
        namespace = parts[parts.index("namespaces") + 1] if "namespaces" in parts else None
        items = await asyncio.to_thread(self._items, namespace, selector)
        body = json.dumps(
            {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": items}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _items(self, namespace: str | None, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        pods = self.kube.list(Pod, namespace=namespace or "*", labels=dict(selector))
        items = []
        for pod in pods:
            labels = pod.metadata.labels or {}
            memory = self.usage.get(labels.get("app.kubernetes.io/name", ""))
            if memory is None:
                continue
            items.append(
                {
                    "metadata": {
                        "name": pod.metadata.name,
                        "namespace": pod.metadata.namespace,
                        "labels": labels,
                    },
                    "timestamp": "2026-01-15T10:30:00Z",
                    "window": "10s",
                    "containers": [{"name": "inference", "usage": {"cpu": "1", "memory": memory}}],
                }
            )
        return items


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[EchoBackend, str]]:
    backend = EchoBackend()
    server = ThreadServer(backend)
    yield backend, server.url
    server.stop()


@pytest.fixture
def metrics_api(kube: Client) -> Iterator[tuple[MetricsStandIn, str]]:
    stand_in = MetricsStandIn(kube)
    server = ThreadServer(stand_in)
    yield stand_in, server.url
    server.stop()


# The router process, as its ServiceAccount.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def router_kubeconfig(cluster: LocalCluster, kube: Client, namespace: str, directory: Path) -> Path:
    """A kubeconfig for the `aihooks-router` ServiceAccount of `namespace`, bound to the
    deploy's ClusterRole by a RoleBinding (the router's namespaced mode)."""
    role = next(o for o in codecs.load_all_yaml(RBAC.read_text()) if o.kind == "ClusterRole")
    kube.apply(role, field_manager="e2e-router", force=True)
    kube.create(ServiceAccount(metadata=ObjectMeta(name="aihooks-router", namespace=namespace)))
    kube.create(
        RoleBinding(
            metadata=ObjectMeta(name="aihooks-router", namespace=namespace),
            roleRef=RoleRef(
                apiGroup="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name
            ),
            subjects=[Subject(kind="ServiceAccount", name="aihooks-router", namespace=namespace)],
        )
    )
    token = kube.create(
        ServiceAccountToken(
            metadata=ObjectMeta(name="aihooks-router", namespace=namespace),
            spec=TokenRequestSpec(audiences=[], expirationSeconds=3600),
        ),
        "aihooks-router",
        namespace=namespace,
    )
    path = directory / "router-kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "e2e",
                        "cluster": {
                            "server": cluster.server,
                            "certificate-authority": str(cluster.ca_cert),
                        },
                    }
                ],
                "users": [{"name": "router", "user": {"token": token.status.token}}],
                "contexts": [{"name": "router", "context": {"cluster": "e2e", "user": "router"}}],
                "current-context": "router",
            }
        )
    )
    return path


class Router:
    """`aihooks router` as a subprocess, serving one namespace."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path, **settings: object) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "AIHOOKS_ROUTER_OBSERVER_INTERVAL_SECONDS": "0.5",
            # The echo backends listen on loopback, which only an allowed CIDR admits.
            "AIHOOKS_ROUTER_ALLOWED_BACKENDS": "127.0.0.1/32",
            **{f"AIHOOKS_ROUTER_{k.upper()}": str(v) for k, v in settings.items()},
        }
        argv = [sys.executable, "-m", "hooks", "router", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--namespace", namespace]
        # A Process of the cluster's kind, so that it dies with the test session too.
        self.process = Process("aihooks-router", argv, log, env=env)
        self.http = httpx.Client(base_url=self.url, timeout=60)
        wait_for(self._ready, what=f"the router to be ready (log: {log})", timeout=30)

    def _ready(self) -> bool:
        assert self.process.exit_code() is None, self.log.read_text()
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in self.http.get("/metrics").text.splitlines():
            series, _, value = line.rpartition(" ")
            metric, _, rest = series.partition("{")
            if metric == name and ",".join(sorted(rest.rstrip("}").split(","))) == wanted:
                return float(value)
        return 0.0

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def stop(self) -> None:
        self.http.close()
        stop_all([self.process], grace=20)


@pytest.fixture
def start_router(
    cluster: LocalCluster, kube: Client, namespace: str, tmp_path: Path, controllers: object
) -> Iterator[Any]:
    kubeconfig = router_kubeconfig(cluster, kube, namespace, tmp_path)
    started: list[Router] = []

    def start(**settings: object) -> Router:
        router = Router(kubeconfig, namespace, tmp_path / f"router-{len(started)}.log", **settings)
        started.append(router)
        return router

    yield start
    for router in started:
        router.stop()


# InferenceModels


def create_model(kube: Client, namespace: str, name: str, backend: str, **spec: object) -> None:
    body = {
        "apiVersion": "inference.eh-ops.io/v1alpha1",
        "kind": "InferenceModel",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "modelName": name,
            # Small: every test's models share the session's default pool budget.
            "memory": "2Gi",
            "backendUrl": backend,
            "containerImage": "vllm/vllm-openai:latest",
            "resources": {"requests": {"memory": "1Gi"}},
            **spec,
        },
    }
    kube.create(InferenceModel(body))


def model(kube: Client, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kube.get(InferenceModel, name, namespace=namespace).to_dict()
    return found


def ready_reason(kube: Client, namespace: str, name: str) -> str:
    for condition in (model(kube, namespace, name).get("status") or {}).get("conditions") or ():
        if condition["type"] == "Ready":
            return f"{condition['status']}/{condition['reason']}"
    return ""


def deployment_ready(kube: Client, namespace: str, name: str) -> int:
    try:
        deployment = kube.get(Deployment, name, namespace=namespace)
    except ApiError:
        return 0
    return (deployment.status.readyReplicas or 0) if deployment.status else 0


def wait_ready(kube: Client, namespace: str, name: str, timeout: float = 60) -> None:
    wait_for(
        lambda: (
            deployment_ready(kube, namespace, name) >= 1
            and ready_reason(kube, namespace, name) == "True/Deployed"
        ),
        what=f"{name} to be ready",
        timeout=timeout,
    )


def wait_at_zero(kube: Client, namespace: str, name: str, timeout: float = 60) -> None:
    wait_for(
        lambda: (
            ready_reason(kube, namespace, name) == "False/ScaledToZero"
            and deployment_ready(kube, namespace, name) == 0
        ),
        what=f"{name} to be scaled to zero",
        timeout=timeout,
    )


def chat(router: Router, name: str, **extra: object) -> httpx.Response:
    return router.http.post("/v1/chat/completions", json={"model": name, "messages": [], **extra})


def in_thread(call: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


# Tests


def test_a_request_to_a_model_at_zero_wakes_it_and_the_cooldown_puts_it_back(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    backend, url = echo
    router = start_router()
    create_model(kube, namespace, "sleepy", url, cooldownPeriod="6s")
    # A new model starts once (its creation is demand), then cools down.
    wait_ready(kube, namespace, "sleepy")
    wait_at_zero(kube, namespace, "sleepy")
    # The router learns the scale-down from its own watch, which may lag the read above
    # on a busy machine; a request sent before it has would be forwarded, not held.
    time.sleep(2)
    served_before = backend.stats.requests

    thread, result = in_thread(lambda: chat(router, "sleepy"))
    # Held now, or already released: with a fast wake the hold may end between polls.
    wait_for(
        lambda: (
            router.metric("aihooks_router_held_requests", model="sleepy") == 1
            or router.metric("aihooks_router_holds_total", model="sleepy", outcome="ready") == 1
        ),
        what="the request to be held",
        timeout=10,
    )
    wait_for(
        lambda: (
            LAST_REQUEST in (model(kube, namespace, "sleepy")["metadata"].get("annotations") or {})
        ),
        what="the demand annotation",
        timeout=10,
    )
    thread.join(60)
    assert result, "the held request did not complete"
    assert result[0].status_code == 200
    assert result[0].json()["model"] == "sleepy"
    assert backend.stats.requests == served_before + 1
    assert router.metric("aihooks_router_holds_total", model="sleepy", outcome="ready") == 1
    assert router.metric("aihooks_router_wake_seconds_count", model="sleepy") == 1

    # No more requests: back to zero after the cooldown (plus at most one demand interval).
    wait_at_zero(kube, namespace, "sleepy", timeout=60)


def test_a_streamed_response_arrives_in_chunks(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    _, url = echo
    router = start_router()
    create_model(kube, namespace, "streamer", url)
    wait_ready(kube, namespace, "streamer")
    arrivals = []
    body = {"model": "streamer", "stream": True, "x_chunks": 4, "x_delay": 0.3}
    with router.http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic(), chunk))
    text = b"".join(chunk for _, chunk in arrivals).decode()
    assert text.count("data: ") == 5
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
    assert sum(1 for gap in gaps if gap > 0.2) >= 3, gaps


def test_queue_overflow_is_429_and_a_wake_timeout_is_503(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    _, url = echo
    router = start_router(max_queue=1, max_wait_seconds=4, retry_after_seconds=7)
    # Its dependency does not exist: it waits (Pending) for as long as that lasts.
    create_model(kube, namespace, "pipeline", url, dependencies=["no-such-model"])
    wait_for(
        lambda: ready_reason(kube, namespace, "pipeline") == "False/Pending",
        what="pipeline to wait for its dependency",
        timeout=30,
    )
    thread, result = in_thread(lambda: chat(router, "pipeline"))
    wait_for(
        lambda: router.metric("aihooks_router_held_requests", model="pipeline") == 1,
        what="the first request to be held",
        timeout=10,
    )
    overflow = chat(router, "pipeline")
    assert overflow.status_code == 429
    assert overflow.headers["retry-after"] == "7"
    assert overflow.json()["error"]["code"] == "queue_full"
    thread.join(30)
    assert result[0].status_code == 503
    assert result[0].headers["retry-after"] == "7"
    assert result[0].json()["error"]["code"] == "wake_timeout"
    assert "Pending" in result[0].json()["error"]["message"]


def test_an_insufficient_memory_model_answers_429_with_the_details(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    _, url = echo
    router = start_router()
    # The default pool has 2 nodes of 64Gi: 200Gi never fits.
    create_model(kube, namespace, "huge", url, memory="200Gi")
    wait_for(
        lambda: ready_reason(kube, namespace, "huge") == "False/InsufficientMemory",
        what="huge to be refused by the budget",
        timeout=30,
    )
    response = chat(router, "huge")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    error = response.json()["error"]
    assert error["type"] == error["code"] == "insufficient_memory"
    assert error["details"]["requested"] == "200Gi"
    assert error["details"]["available"].endswith("i")
    assert isinstance(error["details"]["blocking"], list)


def test_demand_writes_are_throttled(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    _, url = echo
    router = start_router()
    # A 20s cooldown makes the demand interval 2s (10%).
    create_model(kube, namespace, "busy", url, cooldownPeriod="20s")
    wait_ready(kube, namespace, "busy")
    seen: set[str] = set()
    started = time.monotonic()
    while time.monotonic() - started < 6:
        assert chat(router, "busy").status_code == 200
        annotations = model(kube, namespace, "busy")["metadata"].get("annotations") or {}
        if LAST_REQUEST in annotations:
            seen.add(annotations[LAST_REQUEST])
        time.sleep(0.05)
    time.sleep(2.5)  # the trailing write
    seen.add(model(kube, namespace, "busy")["metadata"]["annotations"][LAST_REQUEST])
    writes = router.metric("aihooks_router_demand_writes_total", result="ok")
    requests = router.metric(
        "aihooks_router_requests_total", model="busy", endpoint="chat_completions", code="200"
    )
    assert requests >= 30
    # 6s of traffic at one write per 2s, the first at once, plus the trailing one.
    assert 3 <= writes <= 5, (writes, sorted(seen))
    assert len(seen) <= writes


def test_the_observer_writes_the_peak_and_keeps_it_across_restarts(
    kube: Client,
    namespace: str,
    start_router: Any,
    echo: tuple[EchoBackend, str],
    metrics_api: tuple[MetricsStandIn, str],
) -> None:
    _, url = echo
    stand_in, metrics_url = metrics_api
    router = start_router(metrics_url=metrics_url)
    create_model(kube, namespace, "measured", url, memory="4Gi")
    wait_ready(kube, namespace, "measured")

    def status() -> dict[str, Any]:
        found: dict[str, Any] = model(kube, namespace, "measured").get("status") or {}
        return found

    def peak() -> int | None:
        text = status().get("observedPeakMemory")
        return parse_bytes(text) if text else None

    stand_in.usage["measured"] = "3Gi"
    wait_for(lambda: peak() == 3 * GI, what="the observed peak in the status", timeout=30)
    assert status()["utilizationPercent"] == 75
    assert "Consider reducing memory from 4Gi" in status()["recommendation"]
    assert status()["lastObservation"]
    assert model(kube, namespace, "measured")["metadata"]["annotations"][PEAK] == "3Gi"

    stand_in.usage["measured"] = "2Gi"
    polls = stand_in.requests
    wait_for(lambda: stand_in.requests >= polls + 3, what="three more polls", timeout=10)
    assert peak() == 3 * GI

    stand_in.usage["measured"] = "3584Mi"
    wait_for(lambda: peak() == 3584 * MI, what="the higher peak", timeout=30)

    router.stop()
    stand_in.usage["measured"] = "3Gi"
    restarted = start_router(metrics_url=metrics_url)
    polls = stand_in.requests
    wait_for(lambda: stand_in.requests >= polls + 3, what="polls after a restart", timeout=10)
    assert model(kube, namespace, "measured")["metadata"]["annotations"][PEAK] == "3584Mi"
    assert restarted.metric("aihooks_router_observer_writes_total", result="ok") == 0


def test_without_a_metrics_api_the_observer_says_so_once(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    _, url = echo
    # The cluster serves metrics.k8s.io: point the router at a port where nothing does.
    router = start_router(metrics_url=f"http://127.0.0.1:{_free_port()}")
    create_model(kube, namespace, "unmeasured", url)
    wait_ready(kube, namespace, "unmeasured")
    wait_for(
        lambda: router.metric("aihooks_router_observer_polls_total", result="unavailable") >= 3,
        what="three polls of the missing metrics API",
        timeout=15,
    )
    said = [line for line in router.log_lines() if NO_METRICS_API in line]
    assert len(said) == 1
    status = model(kube, namespace, "unmeasured").get("status") or {}
    assert "observedPeakMemory" not in status
    assert chat(router, "unmeasured").status_code == 200


def test_unknown_models_and_malformed_requests(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    _, url = echo
    router = start_router()
    create_model(kube, namespace, "listed", url)
    wait_for(
        lambda: [m["id"] for m in router.http.get("/v1/models").json()["data"]] == ["listed"],
        what="the model in /v1/models",
        timeout=15,
    )
    unknown = chat(router, "not-here")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    malformed = router.http.post("/v1/chat/completions", content=b"{not json")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["type"] == "invalid_request_error"


def test_a_backend_outside_the_models_namespace_is_refused_and_reported(
    kube: Client, namespace: str, start_router: Any, echo: tuple[EchoBackend, str]
) -> None:
    """By default the router forwards only to Services of the model's namespace: the
    loopback echo backend is refused with 403, and the InferenceModel says so."""
    backend, url = echo
    router = start_router(allowed_backends="", access_interval_seconds="0.5")
    create_model(kube, namespace, "aimed", url)
    wait_ready(kube, namespace, "aimed")
    served_before = backend.stats.requests
    response = chat(router, "aimed")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "backend_not_allowed"
    assert backend.stats.requests == served_before

    def routable() -> dict[str, Any] | None:
        status = model(kube, namespace, "aimed").get("status") or {}
        found = [c for c in status.get("conditions") or () if c["type"] == "Routable"]
        return found[0] if found else None

    condition = wait_for(routable, what="the Routable condition", timeout=30)
    assert (condition["status"], condition["reason"]) == ("False", "BackendNotAllowed")
    assert url in condition["message"]
