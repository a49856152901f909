"""The local control plane does what the rest of the e2e suite relies on.

CRDs (the project's and the Istio and Gateway API ones its children use)
install and publish their schema; Deployments become ready on kwok nodes and
their Services' EndpointSlices fill; and the harness cleans up after itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import (
    Container,
    PodSpec,
    PodTemplateSpec,
    ServicePort,
    ServiceSpec,
)
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from hooks.devcluster import ControlPlaneFiles, LocalCluster, NodeSpec, field_schema
from hooks.devcluster.stack import StackError, start_metacontroller
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
# CRD sources of other projects whose kinds the hooks' children use.
THIRD_PARTY_CRDS = (
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "serviceentries.networking.istio.io",
    "gateways.networking.istio.io",
    "httproutes.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
)


def _crd_files(files: ControlPlaneFiles) -> list[Path]:
    """The project's CRD files (not the kustomization listing them), then
    the third-party ones."""
    project = [
        p for p in sorted((REPO_ROOT / "crds").glob("*.yaml")) if p.name != "kustomization.yaml"
    ]
    return [*project, files.istio_crds, *files.gateway_api_crds]


@pytest.fixture(scope="module")
def installed_crds(cluster: LocalCluster, controlplane_files: ControlPlaneFiles) -> list[str]:
    return cluster.apply_crds(_crd_files(controlplane_files))


def test_every_crd_installs_and_is_established(
    kube: Client, installed_crds: list[str], controlplane_files: ControlPlaneFiles
) -> None:
    for path in _crd_files(controlplane_files):
        declared = {
            doc["metadata"]["name"]
            for doc in yaml.safe_load_all(path.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"
        }
        # Gateway API ships a ValidatingAdmissionPolicy beside its CRDs.
        if path.parent == REPO_ROOT / "crds":
            assert declared, f"{path} declares no CustomResourceDefinition"
        assert declared <= set(installed_crds), path
        for name in declared:
            status = kube.get(CustomResourceDefinition, name).status
            conditions = (status.conditions or []) if status is not None else []
            assert any(c.type == "Established" and c.status == "True" for c in conditions), name
    assert set(THIRD_PARTY_CRDS) <= set(installed_crds)


def test_openapi_v3_explains_a_nested_crd_field(
    cluster: LocalCluster, installed_crds: list[str]
) -> None:
    with cluster.http() as http:
        # The OpenAPI controller publishes a CRD's schema shortly after the
        # CRD is Established.
        schema = wait_for(
            lambda: field_schema(
                http, "gateway.networking.k8s.io", "v1", "HTTPRoute", "spec.rules.backendRefs"
            ),
            what="HTTPRoute spec.rules.backendRefs in the OpenAPI v3 document",
        )
    assert schema["type"] == "array"
    item = schema["items"]
    assert {"name", "port", "weight"} <= set(item["properties"])
    assert "BackendRefs defines the backend(s)" in schema["description"]


def _deployment(name: str, labels: dict[str, str], replicas: int) -> Deployment:
    return Deployment(
        metadata=ObjectMeta(name=name),
        spec=DeploymentSpec(
            replicas=replicas,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(
                    nodeSelector={"inference-pool": "default"},
                    # kwok never pulls it: no container runs on a fake node.
                    containers=[Container(name="app", image="registry.invalid/app:1")],
                ),
            ),
        ),
    )


def test_deployment_on_kwok_nodes_becomes_ready_and_fills_endpoints(
    kube: Client, namespace: str
) -> None:
    labels = {"app": "web"}
    kube.create(_deployment("web", labels, replicas=2), namespace=namespace)
    kube.create(
        Service(
            metadata=ObjectMeta(name="web"),
            spec=ServiceSpec(selector=labels, ports=[ServicePort(port=80, targetPort=8080)]),
        ),
        namespace=namespace,
    )

    def ready_replicas() -> int:
        status = kube.get(Deployment, "web", namespace=namespace).status
        return (status.readyReplicas or 0) if status is not None else 0

    wait_for(
        lambda: ready_replicas() == 2,
        what="Deployment web to report 2 ready replicas",
        timeout=60,
    )
    pods = [pod.to_dict() for pod in kube.list(Pod, namespace=namespace, labels={"app": "web"})]
    assert {pod["spec"]["nodeName"].rsplit("-", 1)[0] for pod in pods} == {"kwok-default"}

    def ready_addresses() -> list[str]:
        slices = kube.list(
            EndpointSlice,
            namespace=namespace,
            labels={"kubernetes.io/service-name": "web"},
        )
        return sorted(
            address
            for endpoint_slice in slices
            for endpoint in endpoint_slice.endpoints or []
            if endpoint.conditions is not None and endpoint.conditions.ready
            for address in endpoint.addresses
        )

    addresses = wait_for(
        lambda: len(ready_addresses()) == 2 and ready_addresses(),
        what="the EndpointSlice of Service web to list 2 ready endpoints",
        timeout=60,
    )
    assert sorted(pod["status"]["podIP"] for pod in pods) == addresses


def _gone(pid: int) -> bool:
    """No process is left in the group `pid` led."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _start_then_fail(files: ControlPlaneFiles, seen: dict[str, Any]) -> None:
    with LocalCluster(files, nodes=[NodeSpec("kwok-solo")]) as second:
        seen.update(pids=second.pids, workdir=second.workdir)
        assert len(second.pids) == 6
        assert not any(_gone(pid) for pid in second.pids)
        raise RuntimeError("body failed")


def test_teardown_leaves_no_process_and_no_directory(
    controlplane_files: ControlPlaneFiles,
) -> None:
    """A second, separate cluster; its `with` body fails, which must tear it
    down all the same."""
    seen: dict[str, Any] = {}
    with pytest.raises(RuntimeError, match="body failed"):
        _start_then_fail(controlplane_files, seen)
    assert [pid for pid in seen["pids"] if not _gone(pid)] == []
    assert not seen["workdir"].exists()


def test_a_metacontroller_binary_that_cannot_run_is_reported(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """METACONTROLLER_BIN pointing at nothing, or at a binary that exits, fails with its output."""
    with pytest.raises(StackError, match="is not a file"):
        start_metacontroller(tmp_path / "missing", cluster, [])
    broken = tmp_path / "metacontroller"
    broken.write_text(
        "#!/bin/sh\necho 'flag provided but not defined: -client-go-qps' >&2\nexit 2\n"
    )
    broken.chmod(0o755)
    with pytest.raises(StackError, match="flag provided but not defined"):
        start_metacontroller(broken, cluster, [])
