"""Records demand: the throttled writer of `inference.eh-ops.io/last-request-time`.

`record` is called on the request path and only updates a dict entry (no I/O,
no await), so it never delays a request; a background task writes the
annotation when `throttle.due_at` says so, one write in flight per model,
retried with backoff when the API server refuses. What the cluster already
has (the annotation in the watched object, possibly written by another
router replica) counts as written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hooks.inference import LAST_REQUEST_ANNOTATION
from hooks.k8s.conditions import rfc3339
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.metrics import RouterMetrics
from hooks.router.ports import AnnotationWriter, ModelGone
from hooks.router.state import Key, ModelView
from hooks.router.throttle import demand_interval, due_at

log = logging.getLogger("hooks.router.demand")

MAX_BACKOFF = timedelta(seconds=30)


@dataclass
class _Demand:
    pending: datetime | None = None
    written: datetime | None = None
    last_write_at: datetime | None = None
    interval: timedelta = timedelta(seconds=1)
    retry_at: datetime | None = None
    failures: int = 0
    writing: bool = False


class DemandRecorder:
    def __init__(
        self,
        writer: AnnotationWriter,
        catalog: Catalog,
        *,
        config: RouterConfig,
        metrics: RouterMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self._catalog = catalog
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._demand: dict[Key, _Demand] = {}
        self._wake = asyncio.Event()
        self._next_pass: datetime | None = None
        self._writes: set[asyncio.Task[None]] = set()

    def record(self, view: ModelView) -> None:
        """A request for this model arrived now. Never blocks."""
        now = self._clock().replace(microsecond=0)
        demand = self._demand.get(view.key)
        if demand is None:
            demand = self._demand[view.key] = _Demand()
        if demand.pending is None or now > demand.pending:
            demand.pending = now
        demand.interval = demand_interval(view.cooldown, self._config)
        at = self._due_at(demand, view)
        if at is not None and (self._next_pass is None or at < self._next_pass):
            self._next_pass = at
            self._wake.set()

    def _due_at(self, demand: _Demand, view: ModelView) -> datetime | None:
        written = demand.written
        if view.last_request is not None and (written is None or view.last_request > written):
            written = view.last_request
        at = due_at(
            pending=demand.pending,
            written=written,
            last_write_at=demand.last_write_at,
            interval=demand.interval,
        )
        if at is not None and demand.retry_at is not None:
            at = max(at, demand.retry_at)
        return at

    async def run(self) -> None:
        """Write due demand until cancelled."""
        try:
            while True:
                self._wake.clear()
                self.step()
                now = self._clock()
                timeout = None
                if self._next_pass is not None:
                    timeout = max(0.0, (self._next_pass - now).total_seconds())
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        finally:
            for task in list(self._writes):
                task.cancel()

    def step(self) -> list[asyncio.Task[None]]:
        """Start the writes that are due; remember when the next one will be. Tests await
        the returned tasks."""
        now = self._clock()
        started = []
        next_pass: datetime | None = None
        for key, demand in list(self._demand.items()):
            view = self._catalog.view(key)
            if view is None:
                del self._demand[key]
                continue
            if demand.writing:
                continue
            at = self._due_at(demand, view)
            if at is None:
                if demand.last_write_at is None or now - demand.last_write_at >= demand.interval:
                    del self._demand[key]
                continue
            if at <= now:
                demand.writing = True
                task = asyncio.create_task(self._write(key, demand))
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
                started.append(task)
            elif next_pass is None or at < next_pass:
                next_pass = at
        self._next_pass = next_pass
        return started

    async def _write(self, key: Key, demand: _Demand) -> None:
        value = demand.pending
        assert value is not None
        try:
            await self._writer.annotate(key, {LAST_REQUEST_ANNOTATION: rfc3339(value)})
        except ModelGone:
            self._demand.pop(key, None)
            self._metrics.demand_writes.labels("gone").inc()
        except Exception as error:
            demand.failures += 1
            backoff = min(MAX_BACKOFF, timedelta(seconds=2 ** min(demand.failures, 5)))
            demand.retry_at = self._clock() + backoff
            self._metrics.demand_writes.labels("error").inc()
            log.warning(
                "could not record demand; retrying",
                extra={"model": f"{key[0]}/{key[1]}", "error": str(error), "retry_in": backoff},
            )
        else:
            if demand.written is None or value > demand.written:
                demand.written = value
            demand.last_write_at = self._clock()
            demand.failures = 0
            demand.retry_at = None
            self._metrics.demand_writes.labels("ok").inc()
        finally:
            demand.writing = False
            self._next_pass = None
            self._wake.set()
