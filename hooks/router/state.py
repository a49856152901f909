"""What the router knows of one InferenceModel: a small frozen view of the object.

Readiness is the hook's `status.ready`, which it computes from the model's
Deployment in the sync Metacontroller runs whenever that Deployment changes,
and which it sets to false in the very sync that scales the model to zero.
The router reads no Deployments: it needs no access to them (their pod
templates carry other tenants' environment). A model without `containerImage`
has a backend nothing here runs (the hook reports it `ExternallyManaged`):
there is nothing to wait for, so it counts as ready.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hooks.inference import (
    BACKEND_REFUSED_ANNOTATION,
    DEFAULT_COOLDOWN,
    LAST_OBSERVATION_ANNOTATION,
    LAST_REQUEST_ANNOTATION,
    PEAK_MEMORY_ANNOTATION,
    REASON_FAILED,
    REASON_INSUFFICIENT_MEMORY,
    ShortageDetails,
    parse_cooldown,
    parse_time,
    shortage_of,
)
from hooks.inference.api import READY
from hooks.k8s.conditions import condition_of
from hooks.k8s.objects import annotations_of, is_deleting, meta, name_of, namespace_of
from hooks.k8s.quantity import QuantityError, parse_bytes

__all__ = ["Key", "ModelView", "ShortageDetails", "view_of"]

UNKNOWN_SHORTAGE = ShortageDetails(requested="unknown", available="unknown", blocking=())
"""For an InsufficientMemory status whose message does not carry the details."""

Key = tuple[str, str]
"""(namespace, name) of an InferenceModel."""


@dataclass(frozen=True, slots=True)
class ModelView:
    namespace: str
    name: str
    model_name: str
    backend_url: str
    cooldown: timedelta
    ready: bool
    phase: str
    """Reason of the Ready condition ("" before the first sync)."""
    message: str
    failed: bool
    """Not ready and the hook says Failed (invalid spec, dependency cycle, stuck rollout)."""
    disabled: bool
    """Not ready and `maxReplicas: 0`: it will not start, whatever the demand."""
    shortage: ShortageDetails | None
    deleting: bool
    last_request: datetime | None
    peak_memory: int | None
    """Bytes, from the observer's annotation."""
    last_observation: datetime | None
    created: int
    """creationTimestamp as Unix seconds (the OpenAI `created` field)."""
    backend_refused: str | None = None
    """What the router last reported on the object about refusing its backend."""

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)


def view_of(model: Mapping[str, Any]) -> ModelView:
    """The router's view of an InferenceModel; lenient about every field."""
    spec = _mapping(model.get("spec"))
    status = _mapping(model.get("status"))
    if not isinstance(status.get("conditions", []), list):
        status = {k: v for k, v in status.items() if k != "conditions"}
    annotations = annotations_of(model)
    condition = _mapping(condition_of(status, READY))
    phase = str(condition.get("reason") or "")
    deleting = is_deleting(model)
    if deleting:
        ready = False
    elif not spec.get("containerImage"):
        ready = True
    else:
        ready = status.get("ready") is True
    shortage = None
    if not ready and phase == REASON_INSUFFICIENT_MEMORY:
        shortage = shortage_of(status) or UNKNOWN_SHORTAGE
    created = parse_time(meta(model).get("creationTimestamp"))
    cooldown = parse_cooldown(spec.get("cooldownPeriod"))
    max_replicas = spec.get("maxReplicas", 1)
    return ModelView(
        namespace=namespace_of(model),
        name=name_of(model),
        model_name=str(spec.get("modelName") or ""),
        backend_url=str(spec.get("backendUrl") or ""),
        cooldown=DEFAULT_COOLDOWN if cooldown is None else cooldown,
        ready=ready,
        phase=phase,
        message=str(condition.get("message") or ""),
        failed=not ready and phase == REASON_FAILED,
        disabled=not ready and max_replicas == 0,
        shortage=shortage,
        deleting=deleting,
        last_request=parse_time(annotations.get(LAST_REQUEST_ANNOTATION)),
        peak_memory=_bytes_or_none(annotations.get(PEAK_MEMORY_ANNOTATION)),
        last_observation=parse_time(annotations.get(LAST_OBSERVATION_ANNOTATION)),
        created=int(created.timestamp()) if created else 0,
        backend_refused=annotations.get(BACKEND_REFUSED_ANNOTATION),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _bytes_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    with contextlib.suppress(QuantityError):
        return parse_bytes(text)
    return None
