"""The children of an AIDeployment: Deployment, Service, Ingress and the engine ConfigMap.

Each is built fresh from the spec and the engine's part of the pod. Scheduling
is the original's: the user's node selector, the topology spread over hostnames
(unless the template already opts into it), the requested resources merged into
`serving`, and a GPU per accelerator: CUDA asks `nvidia.com/gpu` (default 1)
with runtime class `nvidia`, ROCm asks `amd.com/gpu`. A GPU asked for without an
accelerator, or for another vendor's, is an error rather than a silent pod.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hooks.k8s.names import child_name, label_value, service_name
from hooks.k8s.objects import JSON, new_object, sort_objects, standard_labels
from hooks.k8s.quantity import Quantity, QuantityError

from .api import (
    CONFIG_HASH_ANNOTATION,
    DEPLOYMENT_LABEL,
    REASON_INVALID_SPEC,
    SPREAD_LABEL,
    AIDeploymentSpec,
    DeploymentSpec,
    EndpointStatus,
    ObjectMetadata,
)
from .engines import ServingPod, SpecError

GPU_RESOURCES = {"CUDA": "nvidia.com/gpu", "ROCm": "amd.com/gpu"}
COMPUTE_MAJOR, COMPUTE_MINOR = "nvidia.com/gpu.compute.major", "nvidia.com/gpu.compute.minor"
COMPONENT = "model-server"


def child_names(name: str) -> tuple[str, str]:
    """(workload name for Deployment, Service and Ingress; engine ConfigMap name)."""
    return child_name(name), child_name(name, "engine-config")


def build_children(
    *, name: str, namespace: str, spec: AIDeploymentSpec, pod: ServingPod
) -> list[JSON]:
    """Every child, in a stable order; raises SpecError for resources that cannot be met."""
    workload, config_name = child_names(name)
    labels = {
        **standard_labels(
            name=label_value(spec.engine.name), instance=label_value(name), component=COMPONENT
        ),
        DEPLOYMENT_LABEL: label_value(name),
    }
    children = [build_deployment(workload, namespace, labels, spec, pod)]
    front = Front(workload, namespace, labels, pod.port, name)
    children.append(build_service(front, spec))
    if spec.endpoint:
        children.append(build_ingress(front, spec))
    if pod.config_files:
        config = new_object("v1", "ConfigMap", config_name, namespace=namespace, labels=labels)
        config["data"] = dict(sorted(pod.config_files.items()))
        children.append(config)
    return sort_objects(children)


def build_deployment(
    name: str, namespace: str, labels: Mapping[str, str], spec: AIDeploymentSpec, pod: ServingPod
) -> JSON:
    settings = spec.deployment or DeploymentSpec()
    template = copy.deepcopy(settings.template or {})
    template_meta = template.get("metadata") or {}
    pod_spec: JSON = dict(template.get("spec") or {})
    selector = {DEPLOYMENT_LABEL: labels[DEPLOYMENT_LABEL]}

    serving = dict(pod.container)
    serving["resources"] = _resources(serving.get("resources") or {}, settings)
    pod_spec["containers"] = [serving, *pod.sidecars]
    init = [*(pod_spec.get("initContainers") or []), *pod.init_containers]
    if init:
        pod_spec["initContainers"] = init
    volumes = [*pod.volumes, *(pod_spec.get("volumes") or [])]
    if volumes:
        pod_spec["volumes"] = volumes
    pod_spec.setdefault("automountServiceAccountToken", False)
    node_selector = {**(pod_spec.get("nodeSelector") or {}), **(settings.node_selector or {})}
    if node_selector:
        pod_spec["nodeSelector"] = dict(sorted(node_selector.items()))
    _add_gpu(pod_spec, serving, settings)
    if not serving["resources"]:
        del serving["resources"]

    pod_labels = {**(template_meta.get("labels") or {}), **(settings.labels or {})}
    if SPREAD_LABEL not in pod_labels:
        pod_labels[SPREAD_LABEL] = "ai-model"
        spread = {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {SPREAD_LABEL: "ai-model"}},
        }
        pod_spec["topologySpreadConstraints"] = [
            *(pod_spec.get("topologySpreadConstraints") or []),
            spread,
        ]
    pod_labels.update(selector)
    pod_annotations = {**(template_meta.get("annotations") or {}), **(settings.annotations or {})}
    if pod.config_files:
        pod_annotations[CONFIG_HASH_ANNOTATION] = _digest(pod.config_files)

    pod_metadata: JSON = {"labels": dict(sorted(pod_labels.items()))}
    if pod_annotations:
        pod_metadata["annotations"] = dict(sorted(pod_annotations.items()))
    deployment = new_object(
        "apps/v1",
        "Deployment",
        name,
        namespace=namespace,
        labels=labels,
        annotations={DEPLOYMENT_LABEL: labels[DEPLOYMENT_LABEL]},
    )
    deployment["spec"] = {
        "replicas": replicas_of(spec),
        "selector": {"matchLabels": selector},
        "template": {"metadata": pod_metadata, "spec": pod_spec},
    }
    return deployment


def replicas_of(spec: AIDeploymentSpec) -> int:
    replicas = spec.deployment.replicas if spec.deployment else None
    return 1 if replicas is None else replicas


@dataclass(frozen=True)
class Front:
    """What the Service and the Ingress share: names, labels, the engine port."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    port: int
    parent: str

    def new(self, api_version: str, kind: str, extra: ObjectMetadata | None) -> JSON:
        """A fresh object with the user's labels and annotations over ours."""
        return new_object(
            api_version,
            kind,
            self.name,
            namespace=self.namespace,
            labels={**self.labels, **((extra and extra.labels) or {})},
            annotations={DEPLOYMENT_LABEL: self.parent, **((extra and extra.annotations) or {})},
        )


def build_service(front: Front, spec: AIDeploymentSpec) -> JSON:
    service = front.new("v1", "Service", spec.service)
    service["metadata"]["name"] = service_name(front.name)
    service["spec"] = {
        "selector": {DEPLOYMENT_LABEL: front.labels[DEPLOYMENT_LABEL]},
        "ports": [
            {"name": "http", "port": front.port, "targetPort": front.port, "protocol": "TCP"}
        ],
    }
    return service


def build_ingress(front: Front, spec: AIDeploymentSpec) -> JSON:
    extra = spec.ingress
    domains = [e.domain for e in spec.endpoint or ()]
    ingress = front.new("networking.k8s.io/v1", "Ingress", extra)
    name, port = front.name, front.port
    backend = {"service": {"name": service_name(name), "port": {"number": port}}}
    body: JSON = {
        "rules": [
            {
                "host": d,
                "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
            }
            for d in domains
        ]
    }
    if extra and extra.tls:
        body["tls"] = [{"hosts": domains, "secretName": f"{name}-tls"}]
    ingress["spec"] = body
    return ingress


def endpoint_urls(spec: AIDeploymentSpec) -> list[EndpointStatus] | None:
    if not spec.endpoint:
        return None
    scheme = "https" if spec.ingress and spec.ingress.tls else "http"
    return [EndpointStatus(domain=e.domain, url=f"{scheme}://{e.domain}/") for e in spec.endpoint]


def _resources(own: Mapping[str, Any], settings: DeploymentSpec) -> JSON:
    asked = settings.resources
    merged: JSON = {}
    for key in ("requests", "limits"):
        values = {**(own.get(key) or {}), **((getattr(asked, key) if asked else None) or {})}
        if values:
            merged[key] = {k: _quantity(k, v) for k, v in sorted(values.items())}
    return merged


def _add_gpu(pod_spec: JSON, serving: JSON, settings: DeploymentSpec) -> None:
    resources = serving["resources"]
    asked = {
        key
        for part in ("requests", "limits")
        for key in resources.get(part) or {}
        if key in GPU_RESOURCES.values()
    }
    accelerator = settings.accelerator
    if accelerator is None:
        if asked:
            raise SpecError(
                REASON_INVALID_SPEC,
                f"resources ask for {', '.join(sorted(asked))} but deployment.accelerator is "
                "not set; set accelerator.interface to CUDA or ROCm",
            )
        return
    resource = GPU_RESOURCES.get(accelerator.interface)
    if resource is None:
        raise SpecError(
            REASON_INVALID_SPEC,
            f"accelerator {accelerator.interface} has no Kubernetes device resource; "
            "use CUDA or ROCm",
        )
    if asked - {resource}:
        raise SpecError(
            REASON_INVALID_SPEC,
            f"a {accelerator.interface} accelerator cannot use {', '.join(sorted(asked))}",
        )
    requests = resources.setdefault("requests", {})
    limits = resources.setdefault("limits", {})
    count = requests.get(resource) or limits.get(resource) or "1"
    requests[resource] = limits[resource] = count
    if accelerator.interface == "CUDA":
        pod_spec.setdefault("runtimeClassName", "nvidia")
        if accelerator.min_version is not None:
            _require_compute(pod_spec, accelerator.min_version.major, accelerator.min_version.minor)


def _require_compute(pod_spec: JSON, major: int, minor: int | None) -> None:
    """Node affinity for a compute capability of at least major.minor (GFD labels)."""
    if not minor:
        alternatives = [[{"key": COMPUTE_MAJOR, "operator": "Gt", "values": [str(major - 1)]}]]
    else:
        alternatives = [
            [{"key": COMPUTE_MAJOR, "operator": "Gt", "values": [str(major)]}],
            [
                {"key": COMPUTE_MAJOR, "operator": "In", "values": [str(major)]},
                {"key": COMPUTE_MINOR, "operator": "Gt", "values": [str(minor - 1)]},
            ],
        ]
    affinity = pod_spec.setdefault("affinity", {})
    node = affinity.setdefault("nodeAffinity", {})
    required = node.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    existing = required.get("nodeSelectorTerms") or [{}]
    # Terms are ORed: AND-ing with the alternatives distributes over each term.
    required["nodeSelectorTerms"] = [
        {**term, "matchExpressions": [*(term.get("matchExpressions") or []), *alternative]}
        for term in existing
        for alternative in alternatives
    ]


def _quantity(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SpecError(REASON_INVALID_SPEC, f"resource {key}: {value!r} is not a quantity")
    try:
        return str(Quantity.parse(value))
    except QuantityError as error:
        raise SpecError(REASON_INVALID_SPEC, f"resource {key}: {error}") from error


def _digest(files: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
