"""The router's service account may write its annotations on InferenceModels, nothing else,
and read no Deployments.

RBAC grants it `patch` on InferenceModels, which RBAC cannot narrow to
annotations; `deploy/base/router/admission.yaml` (a ValidatingAdmissionPolicy,
CEL in the API server) does. Proven here on the real API server, authenticated
as `system:serviceaccount:aihooks:aihooks-router` with a token of that account
bound by the deploy's own ClusterRole and ClusterRoleBinding.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError, Client, KubeConfig, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.admissionregistration_v1 import (
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
)
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, ServiceAccountToken
from lightkube.types import PatchType

from hooks.cli import REPO_ROOT
from hooks.devcluster import ClusterStartError, ControlPlaneFiles, LocalCluster
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e

InferenceModel = create_namespaced_resource(
    "inference.eh-ops.io", "v1alpha1", "InferenceModel", "inferencemodels"
)
ROUTER = REPO_ROOT / "deploy/base/router"
LAST_REQUEST = "inference.eh-ops.io/last-request-time"


@pytest.fixture(scope="module")
def cluster(controlplane_files: ControlPlaneFiles) -> Iterator[LocalCluster]:
    """A control plane of this module's own. After other policies were created and
    deleted (as earlier tests do), kube-apiserver 1.36 was seen to leave a new policy
    unenforced for minutes, until its periodic refresh; a fresh API server loads it
    at once (docs/router.md says what that means for an install)."""
    local = LocalCluster(controlplane_files)
    try:
        local.start()
    except ClusterStartError as error:
        pytest.fail(f"local control plane did not start: {error}", pytrace=False)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster) -> Iterator[Client]:
    client = cluster.client()
    yield client
    client.close()


@pytest.fixture
def as_router(cluster: LocalCluster, kube: Client, tmp_path: Path) -> Iterator[Client]:
    """A client authenticated as the router's service account, with the deploy's RBAC
    and admission policy applied."""
    cluster.apply_crds([REPO_ROOT / "crds/inference.eh-ops.io_inferencemodels.yaml"])
    kube.apply(Namespace(metadata=ObjectMeta(name="aihooks")), field_manager="e2e-admission")
    applied = []
    for name in ("serviceaccount.yaml", "rbac.yaml", "admission.yaml"):
        for obj in codecs.load_all_yaml((ROUTER / name).read_text()):
            if obj.kind == "ServiceAccount":
                obj.metadata.namespace = "aihooks"
            kube.apply(obj, field_manager="e2e-admission", force=True)
            applied.append(obj)
    token = kube.create(
        ServiceAccountToken(
            metadata=ObjectMeta(name="aihooks-router", namespace="aihooks"),
            spec=TokenRequestSpec(audiences=[], expirationSeconds=3600),
        ),
        "aihooks-router",
        namespace="aihooks",
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "e2e",
                "cluster": {
                    "server": cluster.server,
                    "certificate-authority": str(cluster.ca_cert),
                },
            }
        ],
        "users": [{"name": "router", "user": {"token": token.status.token}}],
        "contexts": [{"name": "router", "context": {"cluster": "e2e", "user": "router"}}],
        "current-context": "router",
    }
    path = tmp_path / "router-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    client = Client(KubeConfig.from_file(path), field_manager="aihooks-router")
    try:
        yield client
    finally:
        client.close()
        for obj in applied:
            if isinstance(obj, ValidatingAdmissionPolicy | ValidatingAdmissionPolicyBinding):
                kube.delete(type(obj), obj.metadata.name)


def _create(kube: Client, namespace: str, name: str) -> None:
    kube.create(
        InferenceModel(
            {
                "apiVersion": "inference.eh-ops.io/v1alpha1",
                "kind": "InferenceModel",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"team": "a"},
                    "annotations": {"owner": "team-a"},
                },
                "spec": {
                    "modelName": name,
                    "memory": "2Gi",
                    "backendUrl": f"http://{name}:8000",
                    "containerImage": "vllm/vllm-openai:v0.6.3",
                },
            }
        )
    )


def _patch(client: Client, namespace: str, name: str, patch: dict[str, Any]) -> str | None:
    """None when the API server accepts the merge patch, else its refusal."""
    try:
        client.patch(InferenceModel, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
    except ApiError as error:
        return f"{error.status.code} {error.status.message}"
    return None


def test_the_router_writes_demand_and_nothing_else(
    kube: Client, as_router: Client, namespace: str
) -> None:
    _create(kube, namespace, "probe")
    # The policy is in force once the API server's informer has it: wait, on a probe.
    wait_for(
        lambda: _patch(as_router, namespace, "probe", {"metadata": {"labels": {"x": "y"}}}),
        what="the admission policy to refuse the router a label",
        # The API server compiles and loads new policies in the background: seconds
        # on an idle machine, more on a busy one.
        timeout=120,
    )
    _create(kube, namespace, "llama")
    demand = {"metadata": {"annotations": {LAST_REQUEST: "2026-12-01T23:00:00Z"}}}
    assert _patch(as_router, namespace, "llama", demand) is None
    peak = {
        "metadata": {
            "annotations": {
                "inference.eh-ops.io/observed-peak-memory": "75Gi",
                "inference.eh-ops.io/last-observation": "2026-12-01T23:00:00Z",
            }
        }
    }
    assert _patch(as_router, namespace, "llama", peak) is None
    report = {"metadata": {"annotations": {"inference.eh-ops.io/backend-refused": "why"}}}
    assert _patch(as_router, namespace, "llama", report) is None
    cleared = {"metadata": {"annotations": {"inference.eh-ops.io/backend-refused": None}}}
    assert _patch(as_router, namespace, "llama", cleared) is None

    refused = {
        "spec.containerImage": {"spec": {"containerImage": "evil/image:latest"}},
        "spec.backendUrl": {"spec": {"backendUrl": "http://169.254.169.254"}},
        "a label": {"metadata": {"labels": {"team": "b"}}},
        "another annotation": {"metadata": {"annotations": {"owner": "mallory"}}},
        "removing an annotation": {"metadata": {"annotations": {"owner": None}}},
        "a finalizer": {"metadata": {"finalizers": ["example.com/hold"]}},
    }
    for what, patch in refused.items():
        answer = _patch(as_router, namespace, "llama", patch)
        assert answer is not None, f"the router changed {what}"
        assert answer.startswith("422 ") or answer.startswith("403 "), answer
        assert "aihooks-router-annotations-only" in answer, answer
    stored = kube.get(InferenceModel, "llama", namespace=namespace).to_dict()
    assert stored["spec"]["containerImage"] == "vllm/vllm-openai:v0.6.3"
    assert stored["metadata"]["labels"] == {"team": "a"}
    assert stored["metadata"]["annotations"]["owner"] == "team-a"
    assert stored["metadata"]["annotations"][LAST_REQUEST] == "2026-12-01T23:00:00Z"
    # It reads no Deployments: their pod templates carry every tenant's environment.
    with pytest.raises(ApiError) as denied:
        list(as_router.list(Deployment, namespace=namespace))
    assert denied.value.status.code == 403
    # Anyone else (here the admin) is not matched by the policy.
    assert _patch(kube, namespace, "llama", {"metadata": {"labels": {"team": "b"}}}) is None
