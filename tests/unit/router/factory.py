"""Objects and fakes for the router's tests: InferenceModels as the API server returns
them, a settable clock, an annotation writer and a metrics source that remember calls."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from hooks.inference import LAST_REQUEST_ANNOTATION
from hooks.inference.budget import Shortage
from hooks.inference.shortage import shortage_message
from hooks.router.ports import MetricsUnavailable, ModelGone
from hooks.router.state import Key
from tests.conftest import NOW

T = TypeVar("T")
CREATED = "2026-01-01T00:00:00Z"
GI = 1024**3


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def ready_condition(status: bool, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": CREATED,
    }


def inference_model(
    name: str = "m",
    namespace: str = "ns",
    *,
    model: str = "llama",
    backend: str = "http://backend:8000",
    image: str | None = "vllm/vllm-openai:latest",
    cooldown: str | None = "10m",
    ready: bool | None = None,
    reason: str | None = None,
    message: str = "",
    last_request: str | None = None,
    annotations: Mapping[str, str] | None = None,
    created: str = CREATED,
    max_replicas: int | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "creationTimestamp": created,
        "annotations": dict(annotations or {}),
    }
    if last_request is not None:
        metadata["annotations"][LAST_REQUEST_ANNOTATION] = last_request
    if deleting:
        metadata["deletionTimestamp"] = CREATED
    spec: dict[str, Any] = {"modelName": model, "memory": "16Gi", "backendUrl": backend}
    if image is not None:
        spec["containerImage"] = image
    if cooldown is not None:
        spec["cooldownPeriod"] = cooldown
    if max_replicas is not None:
        spec["maxReplicas"] = max_replicas
    status: dict[str, Any] = {}
    if ready is not None:
        status["ready"] = ready
    if reason is not None:
        status["conditions"] = [ready_condition(bool(ready), reason, message)]
    obj: dict[str, Any] = {
        "apiVersion": "inference.eh-ops.io/v1alpha1",
        "kind": "InferenceModel",
        "metadata": metadata,
        "spec": spec,
    }
    if status:
        obj["status"] = status
    return obj


def pod_metrics(
    pod: str, namespace: str = "ns", *, name: str = "m", model: str = "llama", **memory: str
) -> dict[str, Any]:
    """PodMetrics with one container per keyword (`inference="12Gi"`)."""
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {
            "name": pod,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": name,
                "inference.eh-ops.io/model": model,
                "inference.eh-ops.io/managed": "true",
            },
        },
        "timestamp": "2026-01-15T10:29:50Z",
        "window": "10s",
        "containers": [
            {"name": c, "usage": {"cpu": "100m", "memory": m}} for c, m in memory.items()
        ],
    }


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeWriter:
    """Remembers annotation writes; can fail or report the model gone."""

    writes: list[tuple[Key, dict[str, str | None]]] = field(default_factory=list)
    fail: Exception | None = None
    gone: set[Key] = field(default_factory=set)

    async def annotate(self, key: Key, annotations: Mapping[str, str | None]) -> None:
        if key in self.gone:
            raise ModelGone("/".join(key))
        if self.fail is not None:
            raise self.fail
        self.writes.append((key, dict(annotations)))


@dataclass
class FakeMetrics:
    items: list[dict[str, Any]] = field(default_factory=list)
    unavailable: bool = False
    selectors: list[dict[str, str]] = field(default_factory=list)

    async def pod_metrics(self, labels: Mapping[str, str]) -> Sequence[Mapping[str, Any]]:
        self.selectors.append(dict(labels))
        if self.unavailable:
            raise MetricsUnavailable("the server could not find the requested resource")
        return self.items


def insufficient_message() -> str:
    """A Ready message as the InferenceModel hook writes it for a model that does not fit."""
    shortage = Shortage(
        requested=80 * GI, available=40 * GI, budget=128 * GI, blocking=(("ns/big", 88 * GI),)
    )
    return shortage_message(shortage, pool="inference-pool=gpu", name_of=lambda k: k.split("/")[1])
