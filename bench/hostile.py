"""The worst tenant-written inputs found by the fuzz, timed on a real server, with /healthz.

Starts `aihooks serve`'s app under uvicorn (one worker, loopback) from a source tree,
sends each hostile request a few times and, while each is being answered, polls
`/healthz` every 10 ms from another connection. Prints, per input: the answer's
status code, the median and worst time to answer, and the worst `/healthz` latency
seen meanwhile. Point `--tree` at an older checkout to compare side by side.

    python bench/hostile.py [--tree PATH] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
GIVE_UP_AFTER = 5.0
"""Seconds: an input that takes longer is not repeated."""
TIMEOUT = 60.0
"""Seconds a request may take (past Metacontroller's 10 s, the answer no longer matters)."""


def _model(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "inference.eh-ops.io/v1alpha1",
        "kind": "InferenceModel",
        "metadata": {
            "name": "llama",
            "namespace": "ml",
            "uid": "u1",
            "generation": 1,
            "creationTimestamp": "2026-01-15T09:00:00Z",
            "annotations": annotations or {},
        },
        "spec": {
            "modelName": "llama",
            "memory": "48Gi",
            "backendUrl": "http://llama:8000",
            "containerImage": "vllm/vllm-openai:v0.6.0",
            "nodeSelector": {"inference-pool": "default"},
            **spec,
        },
    }


def _node(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "n1",
            "labels": {"inference-pool": "default"},
            "annotations": annotations or {},
        },
        "status": {"allocatable": {"memory": "80Gi"}},
    }


def _inference(parent: dict[str, Any], *, node: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "parent": parent,
        "children": {"Deployment.apps/v1": {}},
        "related": {
            "Node.v1": {"n1": node or _node()},
            "InferenceModel.inference.eh-ops.io/v1alpha1": {"ml/llama": parent},
        },
    }


def _ai_deployment(deployment: dict[str, Any], **spec: Any) -> dict[str, Any]:
    parent = {
        "apiVersion": "premlabs.io/v1alpha1",
        "kind": "AIDeployment",
        "metadata": {"name": "demo", "namespace": "ml", "uid": "u2", "generation": 1},
        "spec": {
            "engine": {"name": "vllm"},
            "models": [{"uri": "meta-llama/Llama-3-8B"}],
            "deployment": deployment,
            **spec,
        },
    }
    kinds = ("ConfigMap.v1", "Deployment.apps/v1", "Ingress.networking.k8s.io/v1", "Service.v1")
    return {"parent": parent, "children": {k: {} for k in kinds}}


HUGE = "9" * 4301
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "peak memory 1e10000000",
        "/inferencemodel/sync",
        _inference(_model({"inference.eh-ops.io/observed-peak-memory": "1e10000000"})),
    ),
    (
        "peak memory 1e30000000",
        "/inferencemodel/sync",
        _inference(_model({"inference.eh-ops.io/observed-peak-memory": "1e30000000"})),
    ),
    (
        "requests.cpu 1e10000000",
        "/aideployment/sync",
        _ai_deployment({"resources": {"requests": {"cpu": "1e10000000"}}}),
    ),
    ("memory of 4301 digits", "/inferencemodel/sync", _inference(_model(memory=HUGE + "Gi"))),
    (
        "node budget of 4301 digits",
        "/inferencemodel/sync",
        _inference(_model(), node=_node({"inference.eh-ops.io/memory-budget": HUGE})),
    ),
    (
        "last request 9999-12-31",
        "/inferencemodel/sync",
        _inference(_model({"inference.eh-ops.io/last-request-time": "9999-12-31T23:59:59Z"})),
    ),
    (
        "a 1.4 MB AIDeployment",
        "/aideployment/sync",
        _ai_deployment(
            {"annotations": {f"example.com/a{i}": "x" * 3500 for i in range(64)}},
            env=[{"name": f"E{i}", "value": "y" * 30000} for i in range(40)],
        ),
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tree: Path, port: int) -> subprocess.Popen[bytes]:
    code = (
        "import logging, uvicorn; from hooks.app import create_app; "
        "logging.disable(logging.CRITICAL); "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='critical')"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    server = subprocess.Popen([sys.executable, "-c", code], cwd=tree, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def _stop(server: subprocess.Popen[bytes]) -> None:
    # A server stuck in one long computation does not see SIGTERM until it ends.
    server.kill()
    server.wait(10)


def _measure(base: str, route: str, body: bytes, repeat: int) -> tuple[int, list[float], float]:
    """(status code, times to answer, worst /healthz latency while they were answered)."""
    took: list[float] = []
    health: list[tuple[float, float]] = []
    code = 0
    done = threading.Event()
    poller = threading.Thread(target=_poll, args=(base, done, health))
    poller.start()
    windows = []
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        for _ in range(repeat):
            time.sleep(0.05)
            started = time.perf_counter()
            try:
                code = client.post(route, content=body, headers={"content-type": JSON}).status_code
            except httpx.TimeoutException:
                code = 0
            ended = time.perf_counter()
            took.append(ended - started)
            windows.append((started, ended))
            if took[-1] > GIVE_UP_AFTER:
                break
    done.set()
    poller.join()
    during = [
        latency
        for sent, latency in health
        if any(start <= sent + latency and sent <= end for start, end in windows)
    ]
    return code, took, max(during, default=0.0)


JSON = "application/json"


def _poll(base: str, done: threading.Event, latencies: list[tuple[float, float]]) -> None:
    """(sent at, latency) of a /healthz request every 10 ms until done."""
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        while not done.is_set():
            started = time.perf_counter()
            with contextlib.suppress(httpx.TimeoutException):
                client.get("/healthz")
            latencies.append((started, time.perf_counter() - started))
            done.wait(0.01)


def _in_process(tree: Path, route: str, body: bytes, repeat: int) -> float:
    """The fastest of `repeat` answers without HTTP: decode, hook, encode."""
    sys.path.insert(0, str(tree))
    from hooks.registry import call_hook
    from hooks.settings import Settings
    from hooks.systems import CONTROLLERS

    name, hook_name = route.strip("/").split("/")
    controller = next(c for c in CONTROLLERS if c.name == name)
    now = datetime.now(UTC)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        request = controller.request_type.model_validate_json(body)
        try:
            answer = call_hook(controller.hooks()[hook_name], request, now=now, settings=Settings())
            answer.to_bytes()
        except Exception:  # what the app answers with a 500: timed all the same
            pass
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=ROOT, help="source tree to serve")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    port = _free_port()
    server = _start(args.tree.resolve(), port)
    base = f"http://127.0.0.1:{port}"
    try:
        print(f"tree {args.tree}, {args.repeat} requests per input")  # noqa: T201
        header = f"{'input':28} {'code':>4} {'p50 ms':>8} {'max ms':>8} {'healthz max ms':>14}"
        print(f"{header} {'in-process min ms':>17}")  # noqa: T201
        for name, route, body in CASES:
            raw = json.dumps(body).encode()
            code, took, health = _measure(base, route, raw, args.repeat)
            if code == 0:
                # Still computing: a fresh server, so the next input is timed alone.
                _stop(server)
                server = _start(args.tree.resolve(), port)
            p50, worst = statistics.median(took) * 1000, max(took) * 1000
            alone = (
                _in_process(args.tree, route, raw, args.repeat) if worst < 1000 else worst / 1000
            )
            row = f"{name:28} {code:4} {p50:8.1f} {worst:8.1f} {health * 1000:14.1f}"
            print(f"{row} {alone * 1000:17.1f}")  # noqa: T201
    finally:
        _stop(server)


if __name__ == "__main__":
    main()
