"""Wiring: the real catalog feeds, demand writer and observer around the ASGI app, under uvicorn."""

from __future__ import annotations

from datetime import UTC, datetime
from types import FrameType
from typing import Any

import uvicorn

from hooks import logs
from hooks.router import kube
from hooks.router.access import ClientKeys
from hooks.router.app import Closer, Loop, Router, create_app
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.demand import DemandRecorder
from hooks.router.metrics import RouterMetrics
from hooks.router.observer import PeakObserver
from hooks.router.ports import MetricsSource
from hooks.router.proxy import Upstream, new_pool
from hooks.router.reporter import AccessReporter


def wall_clock() -> datetime:
    return datetime.now(UTC)


def build(config: RouterConfig, client: Any | None = None) -> Router:
    """The router as it runs in a cluster; `client` is a lightkube AsyncClient (tests pass
    one built from their kubeconfig, and close it themselves)."""
    closers: list[Closer] = []
    if client is None:
        client = kube.new_client()
        closers.append(client.close)
    catalog = Catalog()
    metrics = RouterMetrics()
    writer = kube.KubeAnnotations(client)
    demand = DemandRecorder(writer, catalog, config=config, metrics=metrics, clock=wall_clock)
    loops: list[Loop] = [
        *kube.catalog_feeds(client, catalog, config.namespaces),
        demand.run,
        AccessReporter(writer, catalog, config=config).run,
    ]
    if config.observer:
        source: MetricsSource
        if config.metrics_url:
            http_source = kube.HttpPodMetrics(config.metrics_url, config.namespaces)
            closers.append(http_source.aclose)
            source = http_source
        else:
            source = kube.KubePodMetrics(client, config.namespaces)
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
        closers=closers,
        keys=ClientKeys(config.api_keys_file) if config.api_keys_file else None,
    )


class _Server(uvicorn.Server):
    """uvicorn, telling the router to let its held requests go as soon as a signal asks
    the server to exit (uvicorn waits for open requests before the lifespan shutdown)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = self.config.app
        if isinstance(app, Router):
            app.drain()
        super().handle_exit(sig, frame)


def server(app: Router, config: RouterConfig, log_level: str = "info") -> uvicorn.Server:
    return _Server(
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
