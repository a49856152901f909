"""Wiring: the real catalog feeds, demand writer and observer around the ASGI app, under uvicorn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import uvicorn

from hooks import logs
from hooks.router import kube
from hooks.router.app import Loop, Router, create_app
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.demand import DemandRecorder
from hooks.router.metrics import RouterMetrics
from hooks.router.observer import PeakObserver
from hooks.router.ports import MetricsSource
from hooks.router.proxy import Upstream, new_pool


def wall_clock() -> datetime:
    return datetime.now(UTC)


def build(config: RouterConfig, client: Any | None = None) -> Router:
    """The router as it runs in a cluster; `client` is a lightkube AsyncClient (tests pass
    one built from their kubeconfig)."""
    client = client or kube.new_client()
    catalog = Catalog()
    metrics = RouterMetrics()
    writer = kube.KubeAnnotations(client)
    demand = DemandRecorder(writer, catalog, config=config, metrics=metrics, clock=wall_clock)
    loops: list[Loop] = [
        *kube.catalog_feeds(client, catalog, config.namespaces),
        demand.run,
    ]
    if config.observer:
        source: MetricsSource = (
            kube.HttpPodMetrics(config.metrics_url, config.namespaces)
            if config.metrics_url
            else kube.KubePodMetrics(client, config.namespaces)
        )
        observer = PeakObserver(
            source, writer, catalog, config=config, metrics=metrics, clock=wall_clock
        )
        loops.append(observer.run)
    return create_app(
        config=config,
        catalog=catalog,
        demand=demand,
        upstream=Upstream(new_pool(config), config),
        metrics=metrics,
        background=loops,
    )


def server(app: Router, config: RouterConfig, log_level: str = "info") -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_config=None,
            log_level=log_level.lower(),
            access_log=False,
            lifespan="on",
            # The client address is the peer's; X-Forwarded-For is passed on, not believed.
            proxy_headers=False,
            timeout_graceful_shutdown=30,
        )
    )


def run(config: RouterConfig, log_level: str = "INFO") -> int:
    """Serve until SIGTERM."""
    logs.configure(log_level)
    # Server.run picks uvloop and httptools when installed (uvicorn[standard]).
    server(build(config), config, log_level).run()
    return 0
