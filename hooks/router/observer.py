"""The peak-memory observer: reads pod metrics, writes each model's peak as annotations.

Every `observer_interval_seconds` it lists PodMetrics of the pods labelled
`inference.eh-ops.io/managed=true`, and for each model whose peak grew (or
whose observation is `observer_refresh_seconds` old) merges two annotations
into the InferenceModel: the peak as a Kubernetes quantity and the
observation time (RFC 3339). The InferenceModel hook turns them into
`status.observedPeakMemory`, `utilizationPercent`, `recommendation` and
`lastObservation`. The peak lives in those annotations, not here, so a
restarted router continues from it. Without a metrics API the observer says
so once and keeps trying quietly; the status then stays empty.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from hooks.inference import LAST_OBSERVATION_ANNOTATION, PEAK_MEMORY_ANNOTATION
from hooks.inference.api import MANAGED_LABEL
from hooks.k8s.conditions import rfc3339
from hooks.k8s.quantity import Quantity
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.metrics import RouterMetrics
from hooks.router.peak import Observation, observations, samples
from hooks.router.ports import AnnotationWriter, MetricsSource, MetricsUnavailable, ModelGone
from hooks.router.state import Key, ModelView

log = logging.getLogger("hooks.router.observer")

SELECTOR = {MANAGED_LABEL: "true"}


class PeakObserver:
    def __init__(
        self,
        source: MetricsSource,
        writer: AnnotationWriter,
        catalog: Catalog,
        *,
        config: RouterConfig,
        metrics: RouterMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._source = source
        self._writer = writer
        self._catalog = catalog
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._unavailable_said = False
        # What this process wrote, until the watch brings it back in the views.
        self._written: dict[Key, Observation] = {}

    async def run(self) -> None:
        while True:
            if self._catalog.synced:
                await self.poll()
            await asyncio.sleep(self._config.observer_interval_seconds)

    async def poll(self) -> list[Observation]:
        """One round: read metrics, write what changed. Returns what it wrote."""
        try:
            items = await self._source.pod_metrics(SELECTOR)
        except MetricsUnavailable as error:
            self._metrics.observer_polls.labels("unavailable").inc()
            if not self._unavailable_said:
                self._unavailable_said = True
                log.warning(
                    "no metrics.k8s.io API: peak memory is not observed until one is installed",
                    extra={"error": str(error)},
                )
            return []
        except Exception as error:
            self._metrics.observer_polls.labels("error").inc()
            log.warning("could not read pod metrics", extra={"error": str(error)})
            return []
        if self._unavailable_said:
            self._unavailable_said = False
            log.info("metrics.k8s.io API available: observing peak memory")
        self._metrics.observer_polls.labels("ok").inc()
        views = [self._with_written(view) for view in self._catalog.views()]
        todo = observations(
            samples(items, views),
            views,
            now=self._clock().replace(microsecond=0),
            refresh=timedelta(seconds=self._config.observer_refresh_seconds),
        )
        done = []
        for observation in todo:
            if await self._write(observation):
                done.append(observation)
        return done

    def _with_written(self, view: ModelView) -> ModelView:
        mine = self._written.get(view.key)
        if mine is None:
            return view
        if (
            view.peak_memory is not None
            and view.peak_memory >= mine.peak
            and (view.last_observation is not None and view.last_observation >= mine.at)
        ):
            del self._written[view.key]
            return view
        peak = max(view.peak_memory or 0, mine.peak)
        at = max(view.last_observation, mine.at) if view.last_observation else mine.at
        return dataclasses.replace(view, peak_memory=peak, last_observation=at)

    async def _write(self, observation: Observation) -> bool:
        annotations = {
            PEAK_MEMORY_ANNOTATION: str(Quantity.bytes(observation.peak)),
            LAST_OBSERVATION_ANNOTATION: rfc3339(observation.at),
        }
        try:
            await self._writer.annotate(observation.key, annotations)
        except ModelGone:
            self._metrics.observer_writes.labels("gone").inc()
            return False
        except Exception as error:
            self._metrics.observer_writes.labels("error").inc()
            log.warning(
                "could not write the observed peak",
                extra={"model": "/".join(observation.key), "error": str(error)},
            )
            return False
        self._written[observation.key] = observation
        self._metrics.observer_writes.labels("ok").inc()
        log.info(
            "observed peak memory",
            extra={"model": "/".join(observation.key), "peak": annotations[PEAK_MEMORY_ANNOTATION]},
        )
        return True
