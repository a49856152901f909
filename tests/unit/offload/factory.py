"""Requests for the offloading hooks: a ModelDeployment, its workload, Service and HPA."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from hooks.contract import CompositeRequest
from hooks.k8s.conditions import rfc3339
from hooks.offload.controller import MODEL_DEPLOYMENT
from hooks.render import object_map

NAMESPACE = "ml"
CPU_90 = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 90}},
}
BACKEND = {"name": "remote", "host": "remote.example.com"}


def model_deployment(
    name: str = "php-apache",
    *,
    metrics: list[dict[str, Any]] | None = None,
    percentage: int = 50,
    up: int = 30,
    down: int = 300,
    mode: str = "gateway",
    backends: list[dict[str, Any]] | None = None,
    policies: list[dict[str, str]] | None = None,
    enabled: bool = True,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": name,
        "enabled": enabled,
        "modelSourceRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "serviceRef": {"name": name, "targetPort": 80},
        "routing": {"mode": mode},
        "policies": policies or [],
        "offloadingConfig": {
            "remoteBackends": [dict(BACKEND)] if backends is None else backends,
            "metrics": [CPU_90] if metrics is None else metrics,
            "behavior": {
                "percentage": percentage,
                "scaleUp": {"stabilizationWindowSeconds": up},
                "scaleDown": {"stabilizationWindowSeconds": down},
            },
        },
    }
    obj: dict[str, Any] = {
        "apiVersion": "deployment.beamlit.com/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1, "uid": "u-1"},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


def workload(name: str = "php-apache", *, replicas: int = 2, ready: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"run": name}}},
        "status": {"replicas": replicas, "readyReplicas": ready} if ready else {},
    }


def user_service(name: str = "php-apache") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"run": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def gateway_slice(name: str = "php-apache", addresses: tuple[str, ...] = ("10.244.0.7",)) -> Any:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-offload-abcde",
            "namespace": NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": f"{name}-offload",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
    }


def hpa_status(
    metrics: list[dict[str, Any]], current: list[dict[str, Any]], *, active: bool = True
) -> dict[str, Any]:
    """The metrics HPA as the HPA controller leaves it."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "php-apache-metrics", "namespace": NAMESPACE, "generation": 1},
        "spec": {"metrics": metrics, "minReplicas": 1, "maxReplicas": 1},
        "status": {
            "observedGeneration": 1,
            "currentMetrics": current,
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "True" if active else "False",
                    "reason": "ValidMetricFound" if active else "FailedGetResourceMetric",
                    "message": "ok" if active else "unable to get metrics for resource cpu",
                }
            ],
        },
    }


def cpu_current(percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "current": {"averageUtilization": percent}},
    }


def request(
    parent: dict[str, Any],
    *,
    related: list[dict[str, Any]] | None = None,
    children: list[dict[str, Any]] | None = None,
) -> CompositeRequest:
    if related is None:
        related = [workload(), user_service()]
    observed = {child.key: {} for child in MODEL_DEPLOYMENT.children}
    observed.update(object_map(copy.deepcopy(children or []), NAMESPACE))
    return CompositeRequest(
        parent=parent, children=observed, related=object_map(related, NAMESPACE)
    )


def at(moment: datetime) -> str:
    return rfc3339(moment)
