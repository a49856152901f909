"""The router's Prometheus series, in a registry owned by one app (tests make many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hooks.router import errors

OTHER_MODEL = "-"
"""The `model` label of requests for names the router does not serve (bounded cardinality)."""


class RouterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aihooks_router_requests",
            "Requests answered, by model, endpoint and HTTP status",
            ("model", "endpoint", "code"),
            registry=self.registry,
        )
        self.held = Gauge(
            "aihooks_router_held_requests",
            "Requests waiting for their model to become ready",
            ("model",),
            registry=self.registry,
        )
        self.holds = Counter(
            "aihooks_router_holds",
            "Requests that had to wait for their model, by how the wait ended",
            ("model", "outcome"),
            registry=self.registry,
        )
        self.wake_seconds = Histogram(
            "aihooks_router_wake_seconds",
            "How long held requests waited until their model was ready",
            ("model",),
            buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.rejections = Counter(
            "aihooks_router_rejections",
            "Requests the router answered itself, by reason",
            ("reason",),
            registry=self.registry,
        )
        for reason in errors.REASONS:
            self.rejections.labels(reason)
        self.demand_writes = Counter(
            "aihooks_router_demand_writes",
            "last-request-time annotation writes, by result",
            ("result",),
            registry=self.registry,
        )
        self.observer_polls = Counter(
            "aihooks_router_observer_polls",
            "Pod-metrics reads of the peak-memory observer, by result",
            ("result",),
            registry=self.registry,
        )
        self.observer_writes = Counter(
            "aihooks_router_observer_writes",
            "Peak-memory annotation writes, by result",
            ("result",),
            registry=self.registry,
        )
