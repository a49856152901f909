"""What a ModelDeployment sync sees: the request turned into small frozen views.

The related objects (the source workload, the user's Service, the referenced
Policies, the gateway Service's EndpointSlices) and the observed children (the
metrics HPA, the gateway Deployment) are read leniently: a field that is missing or
of the wrong type reads as absent, never as an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hooks.contract import CompositeRequest, resource_key
from hooks.k8s.model import describe_errors
from hooks.k8s.objects import generation_of, labels_of, name_of, namespace_of

from .api import POLICY_API_VERSION, POLICY_KIND, ModelDeploymentSpec
from .policy import PolicyView, read_policy

SERVICES_KEY = resource_key("v1", "Service")
SLICES_KEY = resource_key("discovery.k8s.io/v1", "EndpointSlice")
HPA_KEY = resource_key("autoscaling/v2", "HorizontalPodAutoscaler")
DEPLOYMENTS_KEY = resource_key("apps/v1", "Deployment")
POLICIES_KEY = resource_key(POLICY_API_VERSION, POLICY_KIND)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_MANAGER_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
MAX_GATEWAY_ENDPOINTS = 64


@dataclass(frozen=True, slots=True)
class Parent:
    """The ModelDeployment: where it is and its parsed spec."""

    name: str
    namespace: str
    spec: ModelDeploymentSpec


class InvalidSpec(ValueError):
    """The spec does not parse (a stale schema, or a field the schema cannot check):
    the message names the field, for a condition."""


def read_parent(obj: Mapping[str, Any]) -> Parent:
    """The ModelDeployment; InvalidSpec when its spec does not parse."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidSpec("spec: must be an object")
    try:
        parsed = ModelDeploymentSpec.model_validate(spec)
    except ValidationError as error:
        raise InvalidSpec(describe_errors(error, limit=1)) from error
    return Parent(name_of(obj), namespace_of(obj), parsed)


def source_key(kind: str) -> str:
    return resource_key("apps/v1", kind)


def _fields(obj: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    value = (obj or {}).get(name)
    return value if isinstance(value, Mapping) else {}


def _int(fields: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = fields.get(name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True, slots=True)
class Source:
    """The workload that runs the model."""

    found: bool
    ready: int
    """Ready replicas (DaemonSet: ready pods)."""
    desired: int | None
    """spec.replicas; None for a DaemonSet."""
    selector: str | None
    """Its pod selector in label-selector syntax; None when it has none."""

    @property
    def down(self) -> bool:
        """No replica can serve: none ready, or scaled to zero (its pods are leaving)."""
        return not self.found or self.ready == 0 or self.desired == 0


def previous_source(parent: Mapping[str, Any]) -> Source:
    """The source as the last status reported it, for a sync that cannot read the spec:
    the scale subresource keeps the selector the metrics HPA measures with."""
    status = _fields(parent, "status")
    selector = status.get("selector")
    ready = _int(status, "sourceReadyReplicas")
    return Source(
        found=True,
        ready=ready if 0 <= ready <= 2**31 - 1 else 0,
        desired=None,
        selector=selector if isinstance(selector, str) and len(selector) <= 4096 else None,
    )


def read_source(obj: Mapping[str, Any] | None) -> Source:
    if obj is None:
        return Source(found=False, ready=0, desired=None, selector=None)
    spec, status = _fields(obj, "spec"), _fields(obj, "status")
    if obj.get("kind") == "DaemonSet":
        ready, desired = _int(status, "numberReady"), None
    else:
        ready, desired = _int(status, "readyReplicas"), _int(spec, "replicas", 1)
    return Source(True, ready, desired, selector_text(spec.get("selector")))


def selector_text(selector: Any) -> str | None:
    """A LabelSelector as `kubectl get -l` writes it, requirements sorted by key."""
    if not isinstance(selector, Mapping):
        return None
    parts: list[tuple[str, str]] = []
    labels = selector.get("matchLabels")
    if isinstance(labels, Mapping):
        parts += [(str(k), f"{k}={v}") for k, v in labels.items()]
    for expression in selector.get("matchExpressions") or ():
        if not isinstance(expression, Mapping):
            return None
        key, operator = str(expression.get("key", "")), expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or ()))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(str(operator))
        if not key or text is None:
            return None
        parts.append((key, text))
    return ",".join(text for _, text in sorted(parts)) or None


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str
    protocol: str


@dataclass(frozen=True, slots=True)
class UserService:
    """The Service clients call, and its port that serves the model."""

    found: bool
    selector: Mapping[str, str] | None
    """None: a Service without a selector (its endpoints are managed by hand)."""
    port: ServicePort | None
    """The port whose `port` is serviceRef.targetPort."""


def read_service(obj: Mapping[str, Any] | None, port: int) -> UserService:
    if obj is None:
        return UserService(False, None, None)
    spec = _fields(obj, "spec")
    raw_selector = spec.get("selector")
    selector = (
        {str(k): str(v) for k, v in raw_selector.items()}
        if isinstance(raw_selector, Mapping) and raw_selector
        else None
    )
    found_port = None
    for entry in spec.get("ports") or ():
        if isinstance(entry, Mapping) and entry.get("port") == port:
            target = entry.get("targetPort", port)
            found_port = ServicePort(
                name=str(entry.get("name") or ""),
                port=port,
                target_port=target if isinstance(target, int | str) else port,
                protocol=str(entry.get("protocol") or "TCP"),
            )
            break
    return UserService(True, selector, found_port)


@dataclass(frozen=True, slots=True)
class Hpa:
    """The metrics HPA as observed: what it measured, and whether it could."""

    metrics: Sequence[Any]
    """Its spec.metrics (to tell a stale status from a current one)."""
    current: bool
    """Its status was computed from its current spec."""
    current_metrics: Sequence[Any]
    scaling_active: bool | None
    message: str


def read_hpa(obj: Mapping[str, Any] | None) -> Hpa | None:
    if obj is None:
        return None
    spec, status = _fields(obj, "spec"), _fields(obj, "status")
    generation = generation_of(obj)
    observed = status.get("observedGeneration")
    active: bool | None = None
    message = ""
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "ScalingActive":
            active = {"True": True, "False": False}.get(str(condition.get("status")))
            message = f"{condition.get('reason', '')}: {condition.get('message', '')}"
    metrics = spec.get("metrics")
    current = status.get("currentMetrics")
    return Hpa(
        metrics=list(metrics) if isinstance(metrics, list) else [],
        current=generation is None or observed == generation,
        current_metrics=list(current) if isinstance(current, list) else [],
        scaling_active=active,
        message=message.strip(": "),
    )


def gateway_endpoints(slices: Sequence[Mapping[str, Any]], service: str) -> list[str]:
    """Addresses of the gateway Service's ready endpoints, sorted, at most 64."""
    addresses: set[str] = set()
    for endpoint_slice in slices:
        labels = labels_of(endpoint_slice)
        if labels.get(SERVICE_NAME_LABEL) != service:
            continue
        if labels.get(SLICE_MANAGER_LABEL) != SLICE_CONTROLLER:
            continue
        if endpoint_slice.get("addressType") != "IPv4":
            continue
        for endpoint in endpoint_slice.get("endpoints") or ():
            if not isinstance(endpoint, Mapping):
                continue
            conditions = endpoint.get("conditions")
            ready = isinstance(conditions, Mapping) and conditions.get("ready") is not False
            if ready:
                addresses.update(str(a) for a in endpoint.get("addresses") or () if a)
    return sorted(addresses)[:MAX_GATEWAY_ENDPOINTS]


def related_named(request: CompositeRequest, key: str, namespace: str, name: str) -> Any:
    """A related object by namespace and name, or None.

    Metacontroller shows the user's Deployment and Service as related objects;
    `aihooks render` shows every object of a child kind as a child, so those are
    looked at second.
    """
    for obj in (*request.related_of(key), *request.children_of(key)):
        if name_of(obj) == name and namespace_of(obj) == namespace:
            return obj
    return None


def child_named(request: CompositeRequest, key: str, name: str) -> Any:
    for obj in request.children_of(key):
        if name_of(obj) == name:
            return obj
    return None


def read_policies(
    request: CompositeRequest, namespace: str, names: Sequence[str]
) -> dict[str, PolicyView]:
    """The referenced Policies that exist, by name."""
    found: dict[str, PolicyView] = {}
    wanted = set(names)
    for obj in request.related_of(POLICIES_KEY):
        name = name_of(obj)
        if name in wanted and namespace_of(obj) == namespace:
            found[name] = read_policy(obj.get("spec"))
    return found
