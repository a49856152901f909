"""The one child of an InferenceModel: the Deployment of its model server.

Built fresh on every sync with only the fields this project owns. The container
is the original controller's: `inference` on port 8080 (`http`), env
`MODEL_NAME`, `BACKEND_URL`, `PORT`, `/health` probes. `Recreate` keeps a
model's memory claim honest: a rollout never runs two pods of one model.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from hooks.k8s.names import child_name, label_value
from hooks.k8s.objects import JSON, MANAGED_BY, new_object
from hooks.k8s.quantity import Quantity

from .api import (
    COMPONENT,
    LAST_REQUEST_ANNOTATION,
    MANAGED_LABEL,
    MEMORY_ANNOTATION,
    MODEL_LABEL,
    POOL_LABEL,
    InferenceModelSpec,
    ResourceList,
)

PORT = 8080
CONTAINER = "inference"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}


def deployment_name(model_name: str) -> str:
    """The Deployment is named like the InferenceModel (capped at 63 characters)."""
    return child_name(model_name)


def model_labels(name: str, spec: InferenceModelSpec) -> dict[str, str]:
    """The seed's labels, plus the standard ones this project puts on every child."""
    return {
        "app.kubernetes.io/name": label_value(name),
        "app.kubernetes.io/instance": label_value(name),
        "app.kubernetes.io/component": COMPONENT,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        MODEL_LABEL: label_value(spec.model_name),
        MANAGED_LABEL: "true",
    }


def build_deployment(
    *,
    name: str,
    namespace: str,
    spec: InferenceModelSpec,
    pool: str,
    replicas: int,
    last_request: str | None,
    claim: str | None = None,
) -> JSON:
    """The Deployment; `pool` and `claim` (default: `spec.memory`) say where its pods
    are and how much memory they hold, which differs from the spec only while pods
    started from an earlier spec still run."""
    labels = model_labels(name, spec)
    annotations = {MEMORY_ANNOTATION: claim or spec.memory}
    if last_request:
        annotations[LAST_REQUEST_ANNOTATION] = last_request
    deployment = new_object(
        "apps/v1",
        "Deployment",
        deployment_name(name),
        namespace=namespace,
        labels={**labels, POOL_LABEL: pool},
        annotations=annotations,
    )
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/component")}
    pod_spec: JSON = {
        "nodeSelector": dict(sorted(spec.node_selector.items())),
        "containers": [build_container(spec)],
    }
    if _gpu(spec):
        pod_spec["tolerations"] = [dict(GPU_TOLERATION)]
    deployment["spec"] = {
        "replicas": replicas,
        "selector": {"matchLabels": selector},
        "strategy": {"type": "Recreate"},
        "template": {"metadata": {"labels": dict(sorted(labels.items()))}, "spec": pod_spec},
    }
    return deployment


def build_container(spec: InferenceModelSpec) -> JSON:
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    return {
        "name": CONTAINER,
        "image": spec.container_image,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "MODEL_NAME", "value": spec.model_name},
            {"name": "BACKEND_URL", "value": spec.backend_url},
            {"name": "PORT", "value": str(PORT)},
        ],
        "resources": container_resources(spec),
        "readinessProbe": {
            **probe,
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
        },
        "livenessProbe": {**probe, "initialDelaySeconds": 60, "periodSeconds": 30},
    }


def container_resources(spec: InferenceModelSpec) -> dict[str, dict[str, str]]:
    """Kubernetes requests and limits: memory defaults to spec.memory, gpu is nvidia.com/gpu.

    The memory limit is never below the request (a request above spec.memory
    with no limit would make an invalid pod), and a gpu given on one side only is
    set on both, as extended resources require.
    """
    requests = _kube(spec.resources.requests)
    limits = _kube(spec.resources.limits)
    requests.setdefault("memory", spec.memory)
    limits.setdefault("memory", _at_least(spec.memory, requests["memory"]))
    gpu = requests.get(GPU_RESOURCE) or limits.get(GPU_RESOURCE)
    if gpu:
        requests.setdefault(GPU_RESOURCE, gpu)
        limits.setdefault(GPU_RESOURCE, gpu)
    return {"requests": dict(sorted(requests.items())), "limits": dict(sorted(limits.items()))}


def _kube(resources: ResourceList | None) -> dict[str, str]:
    if resources is None:
        return {}
    values: Mapping[str, str | None] = {
        "cpu": resources.cpu,
        "memory": resources.memory,
        GPU_RESOURCE: resources.gpu,
    }
    return {k: v for k, v in values.items() if v is not None}


def _at_least(default: str, floor: str) -> str:
    return floor if _quantity(floor) > _quantity(default) else default


@lru_cache(maxsize=1024)
def _quantity(text: str) -> Quantity:
    # Pure; every sync checks every waiting peer's resources, which repeat a few values.
    return Quantity.parse(text)


def _gpu(spec: InferenceModelSpec) -> bool:
    sides = (spec.resources.requests, spec.resources.limits)
    return any(side is not None and side.gpu not in (None, "0") for side in sides)


def resource_problems(spec: InferenceModelSpec) -> list[str]:
    """What makes the container's resources invalid, which only the hook can judge."""
    if spec.resources.requests is None and spec.resources.limits is None:
        return []  # the defaults are always valid
    resources = container_resources(spec)
    requests, limits = resources["requests"], resources["limits"]
    problems = []
    for name in ("cpu", "memory"):
        request, limit = requests.get(name), limits.get(name)
        if request and limit and _quantity(request) > _quantity(limit):
            problems.append(f"resources: {name} request {request} is above its limit {limit}")
    gpu_request, gpu_limit = requests.get(GPU_RESOURCE), limits.get(GPU_RESOURCE)
    if gpu_request is not None and gpu_limit is not None and int(gpu_request) != int(gpu_limit):
        problems.append(f"resources: gpu request {gpu_request} and limit {gpu_limit} must be equal")
    return problems
