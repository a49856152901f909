"""AIDeployment and AIModelMap on the real control plane.

Every example under examples/prem applies and reaches Ready on the kwok nodes
(the GPU ones land on the A100 pool: one nvidia.com/gpu each, compute
capability 8.0, and the RuntimeClass `nvidia` the harness creates as the GPU
operator would);
a map edit rolls the deployment that uses it; deleting the map leaves the
deployment running and says so; endpoints removed remove the Ingress; the API
server enforces the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Pod
from lightkube.resources.networking_v1 import Ingress
from lightkube.types import PatchType

from hooks.devcluster import LocalCluster
from hooks.k8s.conditions import condition_of
from hooks.prem.api import CONFIG_HASH_ANNOTATION, DEPLOYMENT_LABEL
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "prem"
AIDeployment = create_namespaced_resource(
    "premlabs.io", "v1alpha1", "AIDeployment", "aideployments"
)
AIModelMap = create_namespaced_resource("premlabs.io", "v1alpha1", "AIModelMap", "aimodelmaps")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
ENGINES = ("localai", "vllm", "deepspeed-mii", "triton", "generic")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def apply(kube: Client, namespace: str, path: Path) -> list[dict[str, Any]]:
    applied = documents(path)
    for doc in applied:
        kind = AIDeployment if doc["kind"] == "AIDeployment" else AIModelMap
        kube.create(kind.from_dict(doc), namespace=namespace)
    return applied


def get(kube: Client, kind: Any, name: str, namespace: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.get(kind, name, namespace=namespace).to_dict()
    return obj


def ready(kube: Client, name: str, namespace: str) -> dict[str, Any] | None:
    obj = get(kube, AIDeployment, name, namespace)
    status = obj.get("status") or {}
    condition = condition_of(status, "Ready") or {}
    if status.get("status") == "Ready" and condition.get("status") == "True":
        return obj
    return None


@pytest.mark.parametrize("engine", ENGINES)
def test_example_reaches_ready(
    controllers: object,
    kube: Client,
    namespace: str,
    cluster: LocalCluster,
    engine: str,
) -> None:
    applied = apply(kube, namespace, EXAMPLES / f"{engine}.yaml")
    (parent,) = [d for d in applied if d["kind"] == "AIDeployment"]
    name = parent["metadata"]["name"]
    obj = wait_for(lambda: ready(kube, name, namespace), what=f"{engine} Ready", timeout=90)
    status = obj["status"]
    replicas = (parent["spec"].get("deployment") or {}).get("replicas", 1)
    assert status["ready"] == f"{replicas}/{replicas}"
    assert condition_of(status, "ModelsResolved")["status"] == "True"  # type: ignore[index]
    assert condition_of(status, "Available")["status"] == "True"  # type: ignore[index]
    assert status["image"]
    pods = list(kube.list(Pod, namespace=namespace, labels={DEPLOYMENT_LABEL: name}))
    assert pods
    assert all(p.spec.containers[0].name == "serving" for p in pods)  # type: ignore[union-attr]
    accelerator = (parent["spec"].get("deployment") or {}).get("accelerator")
    if accelerator:
        nodes = {p.spec.nodeName for p in pods}  # type: ignore[union-attr]
        assert all(n.startswith("kwok-gpu-a100") for n in nodes), nodes
        assert pods[0].spec.runtimeClassName == "nvidia"  # type: ignore[union-attr]
    ingresses = list(kube.list(Ingress, namespace=namespace))
    assert len(ingresses) == (1 if parent["spec"].get("endpoint") else 0)
    with cluster.http() as http:
        table = http.get(
            f"/apis/premlabs.io/v1alpha1/namespaces/{namespace}/aideployments/{name}",
            headers={"Accept": TABLE},
        ).json()
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns == ["Name", "Engine", "Status", "Ready", "Age"]
    assert table["rows"][0]["cells"][1:4] == [engine, "Ready", f"{replicas}/{replicas}"]


def _config_hash(kube: Client, name: str, namespace: str) -> str | None:
    deployment = kube.get(Deployment, name, namespace=namespace)
    annotations = deployment.spec.template.metadata.annotations or {}  # type: ignore[union-attr]
    return annotations.get(CONFIG_HASH_ANNOTATION)


def test_map_edits_roll_the_deployment_and_a_deleted_map_keeps_it_running(
    controllers: object, kube: Client, namespace: str
) -> None:
    apply(kube, namespace, EXAMPLES / "localai.yaml")
    wait_for(lambda: ready(kube, "localai", namespace), what="localai Ready", timeout=90)
    before = wait_for(lambda: _config_hash(kube, "localai", namespace), what="config hash")
    config = kube.get(ConfigMap, "localai-engine-config", namespace=namespace)
    assert "backend: sentencetransformers" in config.data["distilroberta-base.yaml"]  # type: ignore[index]
    own = kube.get(ConfigMap, "distilroberta", namespace=namespace)
    assert "localai-base-engineConfigFile" in (own.data or {})
    users = wait_for(
        lambda: get(kube, AIModelMap, "distilroberta", namespace).get("status", {}).get("usedBy"),
        what="the map's users",
    )
    assert users == [f"{namespace}/localai"]

    edited = documents(EXAMPLES / "localai.yaml")[0]["spec"]["localai"]
    edited[0]["engineConfigFile"] += "f16: true\n"
    kube.patch(
        AIModelMap,
        "distilroberta",
        {"spec": {"localai": edited}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    wait_for(
        lambda: _config_hash(kube, "localai", namespace) not in (None, before),
        what="the pod template to roll after the map edit",
    )
    config = kube.get(ConfigMap, "localai-engine-config", namespace=namespace)
    assert config.data["distilroberta-base.yaml"].endswith("f16: true\n")  # type: ignore[index]
    wait_for(
        lambda: (kube.get(ConfigMap, "distilroberta", namespace=namespace).data or {})[
            "localai-base-engineConfigFile"
        ].endswith("f16: true\n"),
        what="the map's own ConfigMap to follow the edit",
    )

    deployment_before = kube.get(Deployment, "localai", namespace=namespace)
    kube.delete(AIModelMap, "distilroberta", namespace=namespace)

    def unresolved() -> dict[str, Any] | None:
        status = get(kube, AIDeployment, "localai", namespace).get("status") or {}
        condition = condition_of(status, "ModelsResolved") or {}
        return status if condition.get("status") == "False" else None

    status = wait_for(unresolved, what="ModelsResolved=False after the map is deleted")
    assert condition_of(status, "ModelsResolved")["reason"] == "ModelMapNotFound"  # type: ignore[index]
    assert status["status"] == "Failed"
    assert "does not exist" in status["errMsg"]
    assert condition_of(status, "Available")["status"] == "True"  # type: ignore[index]
    deployment_after = kube.get(Deployment, "localai", namespace=namespace)
    assert deployment_after.spec == deployment_before.spec
    assert kube.get(ConfigMap, "localai-engine-config", namespace=namespace).data


def test_spec_edits_reach_the_children_and_removed_endpoints_remove_the_ingress(
    controllers: object, kube: Client, namespace: str
) -> None:
    spec = {
        "engine": {"name": "localai"},
        "models": [{"uri": "phi-2"}],
        "env": [{"name": "DEBUG", "value": "true"}],
        "endpoint": [{"domain": "foo.127.0.0.1.nip.io"}],
    }
    obj = {"metadata": {"name": "update"}, "spec": spec}
    kube.create(AIDeployment.from_dict(obj), namespace=namespace)
    wait_for(lambda: ready(kube, "update", namespace), what="Ready", timeout=90)
    patch = {
        "spec": {
            "env": [{"name": "DEBUG", "value": "true"}, {"name": "TEST", "value": "t-123"}],
            "endpoint": [{"domain": "test.127.0.0.1.nip.io"}],
            "service": {"labels": {"a-test-label": "test"}},
        }
    }
    kube.patch(AIDeployment, "update", patch, namespace=namespace, patch_type=PatchType.MERGE)

    def env_on_pods() -> bool:
        pods = kube.list(Pod, namespace=namespace, labels={DEPLOYMENT_LABEL: "update"})
        return any(
            any(e.name == "TEST" and e.value == "t-123" for e in p.spec.containers[0].env or [])  # type: ignore[union-attr]
            for p in pods
        )

    wait_for(env_on_pods, what="a pod with the new env", timeout=60)
    ingress = wait_for(
        lambda: (
            (i := kube.get(Ingress, "update", namespace=namespace))
            and i.spec.rules[0].host == "test.127.0.0.1.nip.io"  # type: ignore[index,union-attr]
            and i
        ),
        what="the Ingress host to change",
    )
    assert ingress.spec.rules[0].http.paths[0].backend.service.port.number == 8080  # type: ignore[index,union-attr]
    kube.patch(
        AIDeployment,
        "update",
        [{"op": "remove", "path": "/spec/endpoint"}],
        namespace=namespace,
        patch_type=PatchType.JSON,
    )

    def ingress_gone() -> bool:
        try:
            kube.get(Ingress, "update", namespace=namespace)
        except ApiError as error:
            return error.status.code == 404
        return False

    wait_for(ingress_gone, what="the Ingress to be removed with the endpoints")


@pytest.mark.parametrize(
    ("kind", "body", "says"),
    [
        (
            "aimodelmaps",
            {"spec": {"vllm": [{"variant": "awq", "uri": "a"}, {"variant": "awq", "uri": "b"}]}},
            "variant names must be unique within an engine",
        ),
        ("aimodelmaps", {"spec": {"vllm": [{"variant": "AWQ"}]}}, "spec.vllm[0].variant"),
        ("aideployments", {"spec": {"engine": {"name": "ollama"}}}, "spec.engine.name"),
        ("aideployments", {"spec": {"models": []}}, "spec.engine: Required value"),
        (
            "aideployments",
            {
                "spec": {
                    "engine": {"name": "vllm"},
                    "deployment": {"accelerator": {"interface": "TPU"}},
                }
            },
            "spec.deployment.accelerator.interface",
        ),
        (
            "aideployments",
            {"spec": {"engine": {"name": "localai"}, "endpoint": [{"domain": "Not A Host"}]}},
            "spec.endpoint[0].domain",
        ),
    ],
)
def test_the_api_server_rejects_invalid_manifests(
    controllers: object,
    cluster: LocalCluster,
    namespace: str,
    kind: str,
    body: dict[str, Any],
    says: str,
) -> None:
    kinds = {"aimodelmaps": "AIModelMap", "aideployments": "AIDeployment"}
    obj = {
        "apiVersion": "premlabs.io/v1alpha1",
        "kind": kinds[kind],
        "metadata": {"name": "bad"},
        **body,
    }
    with cluster.http() as http:
        response = http.post(f"/apis/premlabs.io/v1alpha1/namespaces/{namespace}/{kind}", json=obj)
    assert response.status_code == 422, response.text
    assert says in response.json()["message"]


def test_the_original_manifest_shapes_are_accepted(
    controllers: object, cluster: LocalCluster, namespace: str
) -> None:
    """Sections left empty in YAML (null) and an integer CPU, as the original's examples have."""
    obj = yaml.safe_load(
        """
        apiVersion: premlabs.io/v1alpha1
        kind: AIDeployment
        metadata:
          name: simple
        spec:
          engine:
            name: "localai"
          endpoint:
            - domain: "foo.127.0.0.1.nip.io"
              port: 8080
          models:
            - uri: tinyllama-chat
          deployment:
            annotations:
            labels:
            resources:
              requests:
                cpu: 8
                memory: "3Gi"
          service:
          env:
            - name: "DEBUG"
              value: "true"
        """
    )
    with cluster.http() as http:
        response = http.post(
            f"/apis/premlabs.io/v1alpha1/namespaces/{namespace}/aideployments",
            params={"dryRun": "All"},
            json=obj,
        )
    assert response.status_code == 201, response.text
