"""Peak memory per InferenceModel from PodMetrics samples: the observer's pure part.

A pod belongs to the InferenceModel named by its `app.kubernetes.io/name`
label in the same namespace (the controller's Deployment labels its pods so),
or else to the one serving its `inference.eh-ops.io/model` label. A pod's
usage is the sum of its containers' `usage.memory`; a model's sample is the
largest of its pods. The peak only grows: the new peak is the larger of the
sample and the peak already recorded in the model's annotation, which is what
makes it survive router restarts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hooks.inference.api import MODEL_LABEL
from hooks.k8s.names import label_value
from hooks.k8s.objects import labels_of, namespace_of
from hooks.k8s.quantity import QuantityError, parse_bytes
from hooks.router.state import Key, ModelView

NAME_LABEL = "app.kubernetes.io/name"


@dataclass(frozen=True, slots=True)
class Observation:
    """Write this peak, observed at this time, on this InferenceModel."""

    key: Key
    peak: int
    at: datetime


def pod_memory(pod_metrics: Mapping[str, Any]) -> int | None:
    """Bytes used by a pod's containers, or None when no container reports memory."""
    total, seen = 0, False
    for container in pod_metrics.get("containers") or ():
        if not isinstance(container, Mapping):
            continue
        text = (container.get("usage") or {}).get("memory")
        if text is None:
            continue
        with contextlib.suppress(QuantityError, TypeError):
            total += parse_bytes(str(text))
            seen = True
    return total if seen else None


def samples(items: Iterable[Mapping[str, Any]], views: Iterable[ModelView]) -> dict[Key, int]:
    """The largest pod memory of each model in this round of metrics."""
    # Label values are the names made label-safe (long ones shortened with a hash).
    by_name: dict[tuple[str, str], Key] = {}
    by_model_name: dict[tuple[str, str], Key] = {}
    for view in sorted(views, key=lambda v: (v.created, v.namespace, v.name)):
        by_name.setdefault((view.namespace, label_value(view.name)), view.key)
        by_model_name.setdefault((view.namespace, label_value(view.model_name)), view.key)
    result: dict[Key, int] = {}
    for item in items:
        namespace = namespace_of(item)
        labels = labels_of(item)
        key = by_name.get((namespace, labels.get(NAME_LABEL, ""))) or by_model_name.get(
            (namespace, labels.get(MODEL_LABEL, ""))
        )
        memory = pod_memory(item)
        if key is None or memory is None:
            continue
        result[key] = max(result.get(key, 0), memory)
    return result


def observations(
    sampled: Mapping[Key, int],
    views: Iterable[ModelView],
    *,
    now: datetime,
    refresh: timedelta,
) -> list[Observation]:
    """What to write: a model whose peak grew, or whose observation is `refresh` old."""
    result = []
    for view in sorted(views, key=lambda v: v.key):
        sample = sampled.get(view.key)
        if sample is None:
            continue
        previous = view.peak_memory
        peak = sample if previous is None else max(previous, sample)
        stale = view.last_observation is None or now - view.last_observation >= refresh
        if previous is None or peak > previous or stale:
            result.append(Observation(view.key, peak, now))
    return result
