"""What the router adds in front of a backend, measured side by side in one run.

Three processes on loopback: the OpenAI-shaped echo backend (uvicorn, one
worker), the router (its real ASGI app under uvicorn, one worker, an in-memory
catalog with one ready model pointing at the backend, the real demand
recorder with a writer that does nothing), and this client. For a small JSON
request and for a streamed answer (server-sent events, 8 chunks):

1. latency at a fixed rate (default 200 requests/s, open loop: requests start
   on schedule whether or not earlier ones finished), the backend called
   directly and through the router in alternating blocks; the added latency
   is the difference of the percentiles;
2. throughput: requests per second with N concurrent clients (closed loop),
   directly and through the router, and their ratio.

    python bench/router.py [--rate 200] [--seconds 10] [--concurrency 16]

Target (issue 5): p50 overhead under 1 ms and p99 under 5 ms at 200 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

MODEL = "bench-model"
SMALL = json.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "Say hello in one word."}]}
).encode()
STREAM = json.dumps(
    {
        "model": MODEL,
        "stream": True,
        "x_chunks": 8,
        "messages": [{"role": "user", "content": "Count to eight."}],
    }
).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_backend(port: int) -> None:
    import uvicorn

    from hooks.router.echo import EchoBackend

    uvicorn.run(
        EchoBackend(keep_bodies=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def _serve_router(port: int, backend: str) -> None:
    import uvicorn

    from hooks.router.app import create_app
    from hooks.router.catalog import Catalog
    from hooks.router.config import RouterConfig
    from hooks.router.demand import DemandRecorder
    from hooks.router.metrics import RouterMetrics
    from hooks.router.proxy import Upstream, new_pool
    from hooks.router.state import Key

    class NoWrites:
        async def annotate(self, key: Key, annotations: Mapping[str, str]) -> None:
            return None

    config = RouterConfig(
        host="127.0.0.1", port=port, observer=False, allowed_backends=("127.0.0.1/32",)
    )
    catalog = Catalog()
    catalog.replace_models(
        [
            {
                "metadata": {"name": "bench", "namespace": "bench"},
                "spec": {"modelName": MODEL, "backendUrl": backend, "cooldownPeriod": "10m"},
            }
        ]
    )
    catalog.synced = True
    metrics = RouterMetrics()
    demand = DemandRecorder(
        NoWrites(), catalog, config=config, metrics=metrics, clock=lambda: datetime.now(UTC)
    )
    app = create_app(
        config=config,
        catalog=catalog,
        demand=demand,
        upstream=Upstream(new_pool(config), config),
        metrics=metrics,
        background=[demand.run],
    )
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


async def _one(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[float, float]:
    """(time to first body byte, time to the end), in seconds."""
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, content=body) as response:
        async for _ in response.aiter_raw():
            if first is None:
                first = time.perf_counter()
        assert response.status_code == 200, response.status_code
    ended = time.perf_counter()
    return ((first or ended) - started, ended - started)


async def _fixed_rate(
    client: httpx.AsyncClient, url: str, body: bytes, rate: float, seconds: float
) -> list[tuple[float, float]]:
    count = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = []
    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(client, url, body)))
    return list(await asyncio.gather(*tasks))


async def _closed_loop(
    client: httpx.AsyncClient, url: str, body: bytes, requests: int, concurrency: int
) -> float:
    per_worker = requests // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await _one(client, url, body)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - started)


def _ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def _run(args: argparse.Namespace, direct: str, routed: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:
        for name, path, body in (
            ("small JSON", "/v1/chat/completions", SMALL),
            ("streamed (SSE, 8 chunks)", "/v1/chat/completions", STREAM),
        ):
            for base in (direct, routed):  # warm-up: connections, caches
                await _fixed_rate(client, base + path, body, args.rate, 1.0)
            samples: dict[str, list[tuple[float, float]]] = {"direct": [], "router": []}
            block = args.seconds / 2
            for _ in range(2):  # A B A B: drift over time hits both sides alike
                samples["direct"] += await _fixed_rate(
                    client, direct + path, body, args.rate, block
                )
                samples["router"] += await _fixed_rate(
                    client, routed + path, body, args.rate, block
                )
            rps = {}
            for label, base in (("direct", direct), ("router", routed)):
                rps[label] = await _closed_loop(
                    client, base + path, body, args.throughput_requests, args.concurrency
                )
            results[name] = (samples, rps)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--throughput-requests", type=int, default=4000)
    args = parser.parse_args()

    backend_port, router_port = _free_port(), _free_port()
    direct = f"http://127.0.0.1:{backend_port}"
    routed = f"http://127.0.0.1:{router_port}"
    processes = [
        multiprocessing.Process(target=_serve_backend, args=(backend_port,), daemon=True),
        multiprocessing.Process(target=_serve_router, args=(router_port, direct), daemon=True),
    ]
    for process in processes:
        process.start()
    try:
        _wait(backend_port)
        _wait(router_port)
        results = asyncio.run(_run(args, direct, routed))
    finally:
        for process in processes:
            process.terminate()
            process.join()

    out = print
    out(f"{args.rate:.0f} requests/s open loop for {args.seconds:.0f}s per side; ")
    out(f"throughput: {args.concurrency} concurrent clients, {args.throughput_requests} requests")
    for name, (samples, rps) in results.items():
        out(f"\n{name}")
        out(f"  {'':8} {'p50 ms':>8} {'p99 ms':>8} {'TTFB p50':>9} {'TTFB p99':>9} {'req/s':>8}")
        for label in ("direct", "router"):
            total = [t for _, t in samples[label]]
            first = [f for f, _ in samples[label]]
            out(
                f"  {label:8} {_ms(total, 50):8.2f} {_ms(total, 99):8.2f}"
                f" {_ms(first, 50):9.2f} {_ms(first, 99):9.2f} {rps[label]:8.0f}"
            )
        direct_total = [t for _, t in samples["direct"]]
        router_total = [t for _, t in samples["router"]]
        added50 = _ms(router_total, 50) - _ms(direct_total, 50)
        added99 = _ms(router_total, 99) - _ms(direct_total, 99)
        verdict50 = "ok" if added50 < 1.0 else "MISSED"
        verdict99 = "ok" if added99 < 5.0 else "MISSED"
        out(f"  added latency: p50 {added50:+.2f} ms (target < 1 ms: {verdict50}),")
        out(f"                 p99 {added99:+.2f} ms (target < 5 ms: {verdict99})")
        out(
            f"  throughput ratio router/direct: {rps['router'] / rps['direct']:.2f}"
            f" ({rps['router']:.0f} vs {rps['direct']:.0f} req/s)"
        )


if __name__ == "__main__":
    main()
