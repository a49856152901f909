"""InferenceModel on the real control plane: the seed's example, scale to zero,
the memory budget of a pool, dependencies and deletion.

Pools come from the session's kwok nodes: `inference-pool: default` (2 x 64Gi)
and `inference-pool: gpu-a100` (2 x 40Gi, one GPU each). Models whose pods
would not fit a 40Gi node request less memory than they declare: the budget
counts `spec.memory`, the scheduler `resources.requests.memory`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Node
from lightkube.types import PatchType

from hooks.devcluster import LocalCluster
from hooks.inference.api import LAST_REQUEST_ANNOTATION, POOL_LABEL
from hooks.k8s.conditions import condition_of, rfc3339
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "inference"
InferenceModel = create_namespaced_resource(
    "inference.eh-ops.io", "v1alpha1", "InferenceModel", "inferencemodels"
)
A100 = {"inference-pool": "gpu-a100"}
DEFAULT = {"inference-pool": "default"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def manifest(
    name: str,
    *,
    memory: str = "4Gi",
    selector: dict[str, str] | None = None,
    cooldown: str = "10m",
    dependencies: list[str] | None = None,
    request_memory: str | None = "1Gi",
    image: str = "registry.example/model-server:1",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "modelName": name,
        "memory": memory,
        "backendUrl": f"http://{name}:8080",
        "nodeSelector": selector or DEFAULT,
        "cooldownPeriod": cooldown,
        "dependencies": dependencies or [],
        "containerImage": image,
    }
    if request_memory:
        spec["resources"] = {"requests": {"memory": request_memory}}
    return {
        "apiVersion": "inference.eh-ops.io/v1alpha1",
        "kind": "InferenceModel",
        "metadata": {"name": name},
        "spec": spec,
    }


def create(kube: Client, namespace: str, obj: dict[str, Any]) -> None:
    kube.create(InferenceModel.from_dict(obj), namespace=namespace)


def model(kube: Client, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.get(InferenceModel, name, namespace=namespace).to_dict()  # type: ignore[no-untyped-call]
    return obj


def reason(obj: dict[str, Any]) -> str | None:
    condition = condition_of(obj.get("status"), "Ready")
    return str(condition["reason"]) if condition else None


def replicas(kube: Client, namespace: str, name: str) -> int | None:
    try:
        deployment = kube.get(Deployment, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return deployment.spec.replicas if deployment.spec else None


def wait_reason(
    kube: Client, namespace: str, name: str, want: str, timeout: float = 90
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = model(kube, namespace, name)
        return obj if reason(obj) == want else None

    return wait_for(probe, what=f"InferenceModel {name} Ready reason {want}", timeout=timeout)


def wait_ready(kube: Client, namespace: str, name: str, timeout: float = 90) -> dict[str, Any]:
    obj = wait_reason(kube, namespace, name, "Deployed", timeout)
    assert obj["status"]["ready"] is True
    return obj


def request_now(kube: Client, namespace: str, name: str) -> None:
    patch = {"metadata": {"annotations": {LAST_REQUEST_ANNOTATION: rfc3339(datetime.now(UTC))}}}
    kube.patch(InferenceModel, name, patch, namespace=namespace, patch_type=PatchType.MERGE)


@pytest.fixture
def seed_pool(cluster: LocalCluster, kube: Client) -> Iterator[str]:
    """A node for the seed's pool (`gpu-a100` + `accelerator: nvidia-a100-80gb`),
    big enough for the example's 48Gi request; removed after the test."""
    name = f"kwok-a100-80gb-{secrets.token_hex(3)}"
    cluster.create_node(
        name,
        labels={**A100, "accelerator": "nvidia-a100-80gb"},
        memory="128Gi",
        extra_capacity={"nvidia.com/gpu": "1"},
    )
    try:
        yield name
    finally:
        kube.delete(Node, name)


def test_seed_full_example(
    controllers: object, cluster: LocalCluster, kube: Client, namespace: str, seed_pool: str
) -> None:
    seed = yaml.safe_load((EXAMPLES / "codellama-34b.yaml").read_text())
    create(kube, namespace, seed)
    pending = wait_reason(kube, namespace, "codellama-34b", "Pending")
    assert "tokenizer-service" in condition_of(pending["status"], "Ready")["message"]  # type: ignore[index]
    assert replicas(kube, namespace, "codellama-34b") == 0
    create(kube, namespace, yaml.safe_load((EXAMPLES / "tokenizer-service.yaml").read_text()))
    wait_ready(kube, namespace, "tokenizer-service")
    ready = wait_ready(kube, namespace, "codellama-34b", timeout=120)
    assert ready["metadata"]["labels"][POOL_LABEL]
    assert ready["status"]["replicas"] == 1
    deployment = kube.get(Deployment, "codellama-34b", namespace=namespace).to_dict()
    labels = deployment["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "codellama-34b"
    assert labels["app.kubernetes.io/component"] == "inference-server"
    assert labels["inference.eh-ops.io/model"] == "codellama-34b-instruct"
    assert labels["inference.eh-ops.io/managed"] == "true"
    assert deployment["metadata"]["annotations"]["inference.eh-ops.io/memory"] == "48Gi"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"inference-pool": "gpu-a100", "accelerator": "nvidia-a100-80gb"}
    assert pod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "1"
    with cluster.http() as http:
        path = f"/apis/inference.eh-ops.io/v1alpha1/namespaces/{namespace}/inferencemodels"
        table = http.get(path, headers={"Accept": TABLE}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Replicas",
        "Memory",
        "Age",
    ]
    rows = {row["cells"][0]: row["cells"][1:4] for row in table["rows"]}
    assert rows == {"codellama-34b": [True, 1, "48Gi"], "tokenizer-service": [True, 1, "2Gi"]}


def test_scale_to_zero_after_cooldown_and_back(
    controllers: object, kube: Client, namespace: str
) -> None:
    create(kube, namespace, manifest("brief", cooldown="20s"))
    wait_ready(kube, namespace, "brief")
    cooled = wait_reason(kube, namespace, "brief", "ScaledToZero", timeout=90)
    assert cooled["status"]["ready"] is False
    wait_for(lambda: replicas(kube, namespace, "brief") == 0, what="Deployment scaled to zero")
    wait_for(
        lambda: model(kube, namespace, "brief")["status"]["replicas"] == 0,
        what="status.replicas 0 once the pod is gone",
    )
    request_now(kube, namespace, "brief")
    wait_ready(kube, namespace, "brief")


def test_two_48gi_models_share_an_80gi_pool(
    controllers: object, kube: Client, namespace: str
) -> None:
    create(kube, namespace, manifest("first", memory="48Gi", selector=A100, cooldown="30s"))
    wait_ready(kube, namespace, "first")
    create(kube, namespace, manifest("second", memory="48Gi", selector=A100, cooldown="10m"))
    waiting = wait_reason(kube, namespace, "second", "InsufficientMemory")
    message = condition_of(waiting["status"], "Ready")["message"]  # type: ignore[index]
    assert "requested 48Gi, available 32Gi of 80Gi; blocking: first (48Gi)" in message
    assert replicas(kube, namespace, "second") == 0
    wait_reason(kube, namespace, "first", "ScaledToZero", timeout=90)
    wait_ready(kube, namespace, "second", timeout=120)
    assert replicas(kube, namespace, "first") == 0


def test_dependencies_start_in_order(controllers: object, kube: Client, namespace: str) -> None:
    create(kube, namespace, manifest("app", dependencies=["tok"]))
    wait_reason(kube, namespace, "app", "Pending")
    create(kube, namespace, manifest("tok", memory="2Gi"))
    seen: list[tuple[bool, int | None]] = []

    def app_started() -> bool:
        tok_ready = model(kube, namespace, "tok").get("status", {}).get("ready") is True
        app_replicas = replicas(kube, namespace, "app")
        seen.append((tok_ready, app_replicas))
        return app_replicas == 1

    wait_for(app_started, what="app to start", timeout=120)
    assert all(tok_ready for tok_ready, count in seen if count == 1), seen
    wait_ready(kube, namespace, "app")


def test_external_backend_has_no_deployment(
    controllers: object, kube: Client, namespace: str
) -> None:
    create(kube, namespace, manifest("hosted", image=""))
    obj = wait_reason(kube, namespace, "hosted", "ExternallyManaged")
    assert condition_of(obj["status"], "Ready")["status"] == "Unknown"  # type: ignore[index]
    assert "ready" not in obj["status"]
    assert replicas(kube, namespace, "hosted") is None


def test_deletion_cleans_up(controllers: object, kube: Client, namespace: str) -> None:
    create(kube, namespace, manifest("gone"))
    wait_ready(kube, namespace, "gone")
    kube.delete(InferenceModel, "gone", namespace=namespace)

    def deleted() -> bool:
        try:
            model(kube, namespace, "gone")
        except ApiError as error:
            return error.status.code == 404
        return False

    wait_for(deleted, what="InferenceModel gone", timeout=90)
    assert replicas(kube, namespace, "gone") is None
