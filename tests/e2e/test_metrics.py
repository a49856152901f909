"""The local cluster's metrics pipeline, end to end: kwok's emulated usage, metrics-server
behind the aggregated `metrics.k8s.io` API, the real HPA controller, and the router's
peak-memory observer reading it (no stand-in server: the router's own Kubernetes client, as
its ServiceAccount with the deploy's RBAC).

A pod's emulated usage is what its annotations `kwok.x-k8s.io/usage-cpu` and
`kwok.x-k8s.io/usage-memory` say; metrics-server scrapes every 10 s and needs two scrapes
for a pod's cpu rate, so the first PodMetrics of a new pod take about 20-30 s.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.autoscaling_v2 import (
    CrossVersionObjectReference,
    HorizontalPodAutoscalerSpec,
    MetricSpec,
    MetricTarget,
    ResourceMetricSource,
)
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec, ResourceRequirements
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.core_v1 import Pod

from hooks.devcluster import LocalCluster
from hooks.k8s.quantity import Quantity, parse_bytes
from hooks.router.echo import EchoBackend
from tests.e2e.test_router import (  # noqa: F401 (fixtures)
    GI,
    PEAK,
    create_model,
    echo,
    model,
    start_router,
    wait_ready,
)
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e

USAGE_CPU = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY = "kwok.x-k8s.io/usage-memory"
MI = 1024**2


def pod_metrics(cluster: LocalCluster, namespace: str) -> dict[str, dict[str, Any]]:
    """The usage of each pod's first container, by pod name, from metrics.k8s.io."""
    with cluster.http() as http:
        response = http.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")
    response.raise_for_status()
    return {
        item["metadata"]["name"]: item["containers"][0]["usage"]
        for item in response.json()["items"]
        if item.get("containers")
    }


def busy_deployment(name: str) -> Deployment:
    labels = {"app": name}
    return Deployment(
        metadata=ObjectMeta(name=name),
        spec=DeploymentSpec(
            replicas=1,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(
                    labels=labels, annotations={USAGE_CPU: "90m", USAGE_MEMORY: "20Mi"}
                ),
                spec=PodSpec(
                    nodeSelector={"inference-pool": "default"},
                    containers=[
                        Container(
                            name="app",
                            image="registry.invalid/app:1",
                            resources=ResourceRequirements(
                                requests={"cpu": "100m", "memory": "64Mi"}
                            ),
                        )
                    ],
                ),
            ),
        ),
    )


def test_the_hpa_controller_scales_on_emulated_cpu(
    cluster: LocalCluster, kube: Client, namespace: str
) -> None:
    """90m used of 100m requested against a 50 % target: 1 -> 2 -> 3 (the maximum)."""
    kube.create(busy_deployment("busy"), namespace=namespace)
    kube.create(
        HorizontalPodAutoscaler(
            metadata=ObjectMeta(name="busy"),
            spec=HorizontalPodAutoscalerSpec(
                scaleTargetRef=CrossVersionObjectReference(
                    apiVersion="apps/v1", kind="Deployment", name="busy"
                ),
                minReplicas=1,
                maxReplicas=3,
                metrics=[
                    MetricSpec(
                        type="Resource",
                        resource=ResourceMetricSource(
                            name="cpu",
                            target=MetricTarget(type="Utilization", averageUtilization=50),
                        ),
                    )
                ],
            ),
        ),
        namespace=namespace,
    )
    usage = wait_for(
        lambda: pod_metrics(cluster, namespace),
        what="PodMetrics of the busy pod in metrics.k8s.io",
        timeout=90,
    )
    (first,) = usage.values()
    assert parse_bytes(first["memory"]) == 20 * MI
    # A rate over two scrapes of kwok's cumulative counter: about the annotated 90m.
    assert 0.08 <= Quantity.parse(first["cpu"]).value <= 0.1, first

    def replicas() -> int:
        spec = kube.get(Deployment, "busy", namespace=namespace).spec
        return spec.replicas if spec is not None and spec.replicas is not None else 0

    wait_for(lambda: replicas() == 3, what="the HPA to scale busy to 3 replicas", timeout=180)
    hpa = kube.get(HorizontalPodAutoscaler, "busy", namespace=namespace)
    assert hpa.status is not None
    assert hpa.status.desiredReplicas == 3
    (current,) = hpa.status.currentMetrics or []
    assert current.resource is not None
    assert 80 <= (current.resource.current.averageUtilization or 0) <= 100
    # The ReplicaSet controller creates the pods right after the HPA's scale.
    wait_for(
        lambda: len(list(kube.list(Pod, namespace=namespace, labels={"app": "busy"}))) == 3,
        what="3 busy pods",
        timeout=30,
    )


def test_the_observer_reads_the_emulated_memory_through_metrics_k8s_io(
    cluster: LocalCluster,
    kube: Client,
    namespace: str,
    start_router: Any,  # noqa: F811
    echo: tuple[EchoBackend, str],  # noqa: F811
) -> None:
    _, url = echo
    # Its own Kubernetes client: no --metrics-url stand-in.
    start_router()
    create_model(kube, namespace, "measured", url, memory="4Gi")
    wait_ready(kube, namespace, "measured")
    (pod,) = kube.list(Pod, namespace=namespace, labels={"app.kubernetes.io/name": "measured"})
    kube.patch(
        Pod,
        pod.metadata.name,
        {"metadata": {"annotations": {USAGE_MEMORY: "3Gi"}}},
        namespace=namespace,
    )

    def status() -> dict[str, Any]:
        found: dict[str, Any] = model(kube, namespace, "measured").get("status") or {}
        return found

    wait_for(
        lambda: status().get("observedPeakMemory") == "3Gi",
        what="the emulated 3Gi as observedPeakMemory",
        timeout=90,
    )
    assert parse_bytes(pod_metrics(cluster, namespace)[pod.metadata.name]["memory"]) == 3 * GI
    assert status()["utilizationPercent"] == 75
    assert "Consider reducing memory from 4Gi" in status()["recommendation"]
    assert status()["lastObservation"]
    assert model(kube, namespace, "measured")["metadata"]["annotations"][PEAK] == "3Gi"
