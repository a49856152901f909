"""Objects for the InferenceModel tests: models, Nodes, Deployments and sync requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from hooks.contract import CompositeRequest
from hooks.inference.api import (
    API_VERSION,
    KIND,
    LAST_REQUEST_ANNOTATION,
    NODE_BUDGET_ANNOTATION,
    POOL_LABEL,
    InferenceModelSpec,
)
from hooks.inference.children import build_deployment
from hooks.inference.observe import DEPLOYMENTS_KEY, MODELS_KEY, NODES_KEY, pool_id
from hooks.k8s.conditions import rfc3339
from hooks.k8s.objects import name_of, namespace_of
from hooks.render import object_map
from tests.conftest import NOW

NS = "ml"
DEFAULT = {"inference-pool": "default"}
A100 = {"inference-pool": "gpu-a100"}
CREATED = NOW - timedelta(hours=1)


def model(
    name: str,
    *,
    memory: str = "16Gi",
    selector: Mapping[str, str] = A100,
    image: str = "vllm/vllm-openai:v0.3.0",
    last_request: datetime | str | None = None,
    created: datetime = CREATED,
    cooldown: str = "10m",
    dependencies: Iterable[str] = (),
    model_name: str | None = None,
    labelled: bool = True,
    ready: bool | None = None,
    namespace: str = NS,
    annotations: Mapping[str, str] | None = None,
    status: Mapping[str, Any] | None = None,
    deleting: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    """An InferenceModel as the API server returns it (defaults applied, labelled)."""
    body: dict[str, Any] = {
        "modelName": model_name or name,
        "memory": memory,
        "backendUrl": f"http://{name}:8000",
        "nodeSelector": dict(selector),
        "cooldownPeriod": cooldown,
        "maxReplicas": 1,
        "dependencies": list(dependencies),
        "containerImage": image,
        "resources": {},
        **spec,
    }
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "generation": 1,
        "creationTimestamp": rfc3339(created),
        "labels": {POOL_LABEL: pool_id(selector)} if labelled else {},
        "annotations": dict(annotations or {}),
    }
    if last_request is not None:
        text = last_request if isinstance(last_request, str) else rfc3339(last_request)
        metadata["annotations"][LAST_REQUEST_ANNOTATION] = text
    if deleting:
        metadata["deletionTimestamp"] = rfc3339(NOW)
    obj: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata}
    obj["spec"] = body
    current = dict(status or {})
    if ready is not None:
        current["ready"] = ready
    if current:
        obj["status"] = current
    return obj


def node(
    name: str,
    *,
    memory: str = "40Gi",
    labels: Mapping[str, str] = A100,
    budget: str | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels)},
        "status": {"allocatable": {"cpu": "32", "memory": memory}},
    }
    if budget is not None:
        obj["metadata"]["annotations"] = {NODE_BUDGET_ANNOTATION: budget}
    if unschedulable:
        obj["spec"] = {"unschedulable": True}
    return obj


def a100_nodes(count: int = 2, memory: str = "40Gi") -> list[dict[str, Any]]:
    return [node(f"a100-{i}", memory=memory) for i in range(count)]


def deployment(
    parent: Mapping[str, Any],
    *,
    replicas: int = 1,
    pods: int | None = None,
    ready: int | None = None,
    memory: str | None = None,
) -> dict[str, Any]:
    """The Deployment the hook builds for parent, as observed with that state."""
    spec = InferenceModelSpec.model_validate(parent["spec"])
    if memory is not None:
        spec = spec.model_copy(update={"memory": memory})
    obj = build_deployment(
        name=name_of(parent),
        namespace=namespace_of(parent),
        spec=spec,
        pool=pool_id(spec.node_selector),
        replicas=replicas,
        last_request=None,
    )
    obj["metadata"]["ownerReferences"] = [
        {"apiVersion": API_VERSION, "kind": KIND, "name": name_of(parent), "controller": True}
    ]
    pods = replicas if pods is None else pods
    obj["status"] = {"replicas": pods, "readyReplicas": pods if ready is None else ready}
    return obj


def request(
    parent: Mapping[str, Any],
    *,
    own: Mapping[str, Any] | None = None,
    peers: Iterable[Mapping[str, Any]] = (),
    nodes: Iterable[Mapping[str, Any]] = (),
    deployments: Iterable[Mapping[str, Any]] = (),
) -> CompositeRequest:
    """A sync request as Metacontroller v2 sends it (the parent is among its related models)."""
    namespace = namespace_of(parent)
    everything = [parent, *peers, *nodes, *deployments]
    related = object_map([dict(obj) for obj in everything], namespace)
    for key in (MODELS_KEY, NODES_KEY, DEPLOYMENTS_KEY):
        related.setdefault(key, {})
    children = object_map([dict(own)], namespace) if own is not None else {}
    children.setdefault(DEPLOYMENTS_KEY, {})
    return CompositeRequest(parent=dict(parent), children=children, related=related)
