"""Hook throughput and latency over real HTTP, side by side in one run.

Three servers answer the same ~10 KB Metacontroller v2 sync request:
  (a) the pure sync function called in-process (the limit, no HTTP),
  (b) a bare standard-library `http.server` hook that only does json.loads/json.dumps
      (how Metacontroller's own examples are written),
  (c) the project's server: `aihooks serve`'s app under uvicorn, one worker.
Each HTTP server runs in its own process on loopback; one client process sends
requests over keep-alive connections from a few threads.

    python bench/hooks_http.py [--requests 3000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from hooks.contract import CompositeRequest, CompositeResponse
from hooks.settings import Settings


def _payload() -> dict[str, Any]:
    """A typical Composite request: a parent with a spec, two observed children, ~10 KB."""
    labels = {f"team.example.com/label-{i}": f"value-{i}" for i in range(40)}
    container = {
        "name": "serving",
        "image": "vllm/vllm-openai:v0.6.0",
        "args": [f"--arg-{i}=value" for i in range(40)],
        "env": [{"name": f"ENV_{i}", "value": "x" * 40} for i in range(40)],
        "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"cpu": "8"}},
    }
    child = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "m", "namespace": "ns", "labels": labels, "uid": "u" * 36},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [container]}}},
        "status": {"readyReplicas": 1, "replicas": 1},
    }
    parent = {
        "apiVersion": "bench.aihooks.dev/v1",
        "kind": "Bench",
        "metadata": {"name": "m", "namespace": "ns", "generation": 3, "labels": labels},
        "spec": {"image": "vllm/vllm-openai:v0.6.0", "replicas": 1, "args": container["args"]},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "m", "namespace": "ns", "labels": labels},
        "spec": {"ports": [{"port": 8000}]},
    }
    return {
        "controller": {"metadata": {"name": "bench"}},
        "parent": parent,
        "children": {"Deployment.apps/v1": {"ns/m": child}, "Service.v1": {"ns/m": service}},
        "related": {},
        "finalizing": False,
    }


def bench_sync(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    """Desired children from the parent: the shape of every real sync, with no policy."""
    parent = request.parent
    deployments = request.children_of("Deployment.apps/v1")
    ready = sum(d.get("status", {}).get("readyReplicas", 0) for d in deployments)
    child = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": parent["metadata"]["name"], "labels": parent["metadata"]["labels"]},
        "spec": {"replicas": parent["spec"]["replicas"]},
    }
    return CompositeResponse(status={"readyReplicas": ready}, children=[child])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_stdlib(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, delayed ACKs add 40 ms.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            parent = body["parent"]
            ready = sum(
                d.get("status", {}).get("readyReplicas", 0)
                for d in body["children"]["Deployment.apps/v1"].values()
            )
            child = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": parent["metadata"]["name"],
                    "labels": parent["metadata"]["labels"],
                },
                "spec": {"replicas": parent["spec"]["replicas"]},
            }
            out = json.dumps({"status": {"readyReplicas": ready}, "children": [child]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            return

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _serve_project(port: int) -> None:
    import uvicorn

    from hooks.app import create_app
    from hooks.registry import Controller, Resource

    controller = Controller(
        name="bench",
        kind="CompositeController",
        parent=Resource("bench.aihooks.dev/v1", "benches", "Bench"),
        sync=bench_sync,
    )
    app = create_app([controller], Settings())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _wait(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def _load(url: str, body: bytes, requests: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests // concurrency

    def worker() -> None:
        mine = []
        with httpx.Client(headers={"Content-Type": "application/json"}) as client:
            for _ in range(per_thread):
                started = time.perf_counter()
                response = client.post(url, content=body)
                mine.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def _in_process(body: bytes, requests: int) -> tuple[float, list[float]]:
    settings = Settings()
    latencies = []
    started = time.perf_counter()
    for _ in range(requests):
        t = time.perf_counter()
        request = CompositeRequest.model_validate_json(body)
        bench_sync(request, now=datetime.now(UTC), settings=settings).to_bytes()
        latencies.append(time.perf_counter() - t)
    return requests / (time.perf_counter() - started), latencies


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    body = json.dumps(_payload()).encode()
    results: dict[str, tuple[float, list[float]]] = {}
    results["(a) in-process pure function"] = _in_process(body, args.requests)
    servers: list[tuple[str, Callable[[int], None]]] = [
        ("(b) stdlib http.server + json", _serve_stdlib),
        ("(c) aihooks (FastAPI + uvicorn, 1 worker)", _serve_project),
    ]
    for label, serve in servers:
        port = _free_port()
        process = multiprocessing.Process(target=serve, args=(port,), daemon=True)
        process.start()
        try:
            _wait(port)
            url = f"http://127.0.0.1:{port}/bench/sync"
            _load(url, body, 200, args.concurrency)  # warm-up
            results[label] = _load(url, body, args.requests, args.concurrency)
        finally:
            process.terminate()
            process.join()
    print(f"request body: {len(body)} bytes, {args.requests} requests, {args.concurrency} clients")  # noqa: T201
    print(f"{'server':44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")  # noqa: T201
    for label, (rate, latencies) in results.items():
        print(f"{label:44} {rate:8.0f} {_pct(latencies, 50):8.2f} {_pct(latencies, 99):8.2f}")  # noqa: T201
    results["(b) stdlib http.server + json"][0]
    results["(c) aihooks (FastAPI + uvicorn, 1 worker)"][0]
    results["(a) in-process pure function"][0]


if __name__ == "__main__":
    main()
