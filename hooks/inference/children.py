"""The children of an InferenceModel: the Deployment of its model server, and its Service.

Built fresh on every sync with only the fields this project owns. The container
is the original controller's: `inference` with its port named `http`, env
`MODEL_NAME`, `BACKEND_URL`, `PORT`, `/health` probes; the port is the one
`backendUrl` names (8080 when it names none), so the seed's own example
(`vllm/vllm-openai` on 8000) passes its probes. `args`, `command`, `env` and
`probes` start a real vLLM or TGI server with its model. `Recreate` keeps a
model's memory claim honest: a rollout never runs two pods of one model.

When `backendUrl` names a Service of the model's own namespace (`http://name[:port]`,
`name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`), that Service is a child
too, selecting the model's pods, so the URL reaches them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from hooks.k8s.names import child_name, is_dns_label, label_value
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
    ProbeTimings,
    ResourceList,
)

PORT = 8080
"""The serving port when `backendUrl` names none (the original controller's fixed port)."""
CONTAINER = "inference"
READINESS = {"initialDelaySeconds": 30, "periodSeconds": 10, "timeoutSeconds": 5}
LIVENESS = {"initialDelaySeconds": 60, "periodSeconds": 30}
_SERVICE_SUFFIXES = ((), ("svc",), ("svc", "cluster", "local"))
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}


@dataclass(frozen=True, slots=True)
class Backend:
    """What `backendUrl` says about the model's own pods."""

    port: int
    """The container's serving port: the URL's port, else 8080."""
    service: str | None
    """The Service of the model's namespace the URL names, if it names one."""
    service_port: int
    """The port clients of that Service connect to: the URL's, else the scheme's."""


def backend(backend_url: str, namespace: str) -> Backend | None:
    """The serving port and in-cluster Service a `backendUrl` names; None when its port
    is not a port (the hook reports it)."""
    try:
        parts = urlsplit(backend_url)
        given = parts.port
    except ValueError:  # e.g. an unclosed IPv6 bracket, or a port that is not a number
        return None
    if given == 0:
        return None
    default = 443 if parts.scheme.lower() == "https" else 80
    hostname = (parts.hostname or "").lower()
    if _is_ip(hostname):
        return Backend(port=given or PORT, service=None, service_port=given or default)
    host = hostname.split(".")
    name, rest = host[0], tuple(host[1:])
    local = not rest or (rest[0] == namespace and rest[1:] in _SERVICE_SUFFIXES)
    service = name if local and is_dns_label(name) else None
    return Backend(port=given or PORT, service=service, service_port=given or default)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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


def pod_selector(name: str) -> dict[str, str]:
    """The labels the Deployment and the Service select the model's pods by."""
    return {"app.kubernetes.io/name": label_value(name), "app.kubernetes.io/component": COMPONENT}


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
    selector = pod_selector(name)
    pod_spec: JSON = {
        "nodeSelector": dict(sorted(spec.node_selector.items())),
        "containers": [build_container(spec, namespace)],
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


def build_service(*, name: str, namespace: str, spec: InferenceModelSpec) -> JSON | None:
    """The Service `backendUrl` names in the model's namespace, selecting its pods."""
    target = backend(spec.backend_url, namespace)
    if target is None or target.service is None:
        return None
    service = new_object(
        "v1", "Service", target.service, namespace=namespace, labels=model_labels(name, spec)
    )
    service["spec"] = {
        "selector": pod_selector(name),
        "ports": [
            {"name": "http", "port": target.service_port, "targetPort": "http", "protocol": "TCP"}
        ],
    }
    return service


def build_container(spec: InferenceModelSpec, namespace: str = "") -> JSON:
    target = backend(spec.backend_url, namespace)
    port = target.port if target is not None else PORT
    probes = spec.probes
    path = probes.path if probes is not None else "/health"
    container: JSON = {"name": CONTAINER, "image": spec.container_image}
    if spec.command is not None:
        container["command"] = list(spec.command)
    if spec.args is not None:
        container["args"] = list(spec.args)
    container.update(
        {
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
            "env": container_env(spec, port),
            "resources": container_resources(spec),
            "readinessProbe": _probe(
                path, READINESS, probes.readiness if probes is not None else None
            ),
            "livenessProbe": _probe(
                path, LIVENESS, probes.liveness if probes is not None else None
            ),
        }
    )
    return container


def container_env(spec: InferenceModelSpec, port: int) -> list[JSON]:
    """The controller's variables, then the spec's; a spec variable of the same name
    replaces the controller's in place."""
    env: dict[str, JSON] = {
        "MODEL_NAME": {"name": "MODEL_NAME", "value": spec.model_name},
        "BACKEND_URL": {"name": "BACKEND_URL", "value": spec.backend_url},
        "PORT": {"name": "PORT", "value": str(port)},
    }
    for variable in spec.env or ():
        env[variable.name] = variable.to_json()
    return list(env.values())


def _probe(path: str, defaults: Mapping[str, int], timings: ProbeTimings | None) -> JSON:
    given = timings.to_json() if timings is not None else {}
    return {"httpGet": {"path": path, "port": "http"}, **defaults, **given}


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
