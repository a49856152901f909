"""Fake Nodes for kwok, and the default node pools the e2e suite schedules on.

kwok makes every Node it manages look like a live kubelet (Ready conditions,
lease heartbeats) and moves Pods bound to it to Running and Ready, so the
scheduler's resource accounting and the pool labels below are what the
hooks' placement decisions are tested against, with no container running.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
# Where metrics-server reads a node's resource metrics; kwok serves
# /metrics/nodes/<node>/metrics/resource on the nodes' kubelet port.
METRICS_PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path"
POOL_LABEL = "inference-pool"


@dataclass(frozen=True)
class NodeSpec:
    """One fake Node: its name, labels and what it offers the scheduler."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu: str = "32"
    memory: str = "64Gi"
    pods: str = "110"
    extra_capacity: Mapping[str, str] = field(default_factory=dict)
    """Extended resources such as `{"nvidia.com/gpu": "8"}`."""
    annotations: Mapping[str, str] = field(default_factory=dict)


def build_node(spec: NodeSpec) -> dict[str, Any]:
    """The Node object to create; capacity and allocatable are equal because
    no system daemons run on a fake node. No `status.addresses`: kwok fills
    in the InternalIP and kubelet port only where there are none."""
    resources = {"cpu": spec.cpu, "memory": spec.memory, "pods": spec.pods, **spec.extra_capacity}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": spec.name,
                "type": "kwok",
                **spec.labels,
            },
            "annotations": {
                KWOK_ANNOTATION: "fake",
                METRICS_PATH_ANNOTATION: f"/metrics/nodes/{spec.name}/metrics/resource",
                **spec.annotations,
            },
        },
        "status": {"capacity": dict(resources), "allocatable": dict(resources)},
    }


A100_LABELS = {
    POOL_LABEL: "gpu-a100",
    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    "nvidia.com/gpu.memory": "81920",
    "nvidia.com/gpu.count": "1",
    "nvidia.com/gpu.compute.major": "8",
    "nvidia.com/gpu.compute.minor": "0",
}

DEFAULT_NODES = (
    NodeSpec("kwok-default-0", labels={POOL_LABEL: "default"}, memory="64Gi"),
    NodeSpec("kwok-default-1", labels={POOL_LABEL: "default"}, memory="64Gi"),
    NodeSpec(
        "kwok-gpu-a100-0",
        labels=A100_LABELS,
        memory="40Gi",
        extra_capacity={"nvidia.com/gpu": "1"},
    ),
    NodeSpec(
        "kwok-gpu-a100-1",
        labels=A100_LABELS,
        memory="40Gi",
        extra_capacity={"nvidia.com/gpu": "1"},
    ),
)
