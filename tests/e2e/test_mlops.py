"""Model, EndpointConfig and Endpoint on the real control plane.

Every child of every example validates against the real schemas (the Istio
CRDs included) with a strict server-side apply; the API server refuses the
invalid manifests naming the field; a Model reaches Ready on the kwok nodes
(its volume bound to a PersistentVolume the test provides); an EndpointConfig
weighted 3:1 routes 75/25 and an Endpoint reports both URLs; an artifact change
goes blue/green while a watcher checks that a ready revision is behind the
Service at every moment; a revision that never gets ready leaves the old one
serving; deleting the Endpoint removes its Gateway and keeps the models.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.core_v1 import (
    HostPathVolumeSource,
    PersistentVolumeSpec,
)
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import (
    ConfigMap,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    Service,
)
from lightkube.types import PatchType

from hooks.devcluster import ControlPlaneFiles, LocalCluster
from hooks.k8s.conditions import condition_of
from hooks.mlops.api import MODEL_LABEL, REVISION_LABEL
from hooks.mlops.controller import sync_model
from hooks.mlops.endpoints import sync_config, sync_endpoint
from hooks.settings import Settings
from tests.e2e.waiting import wait_for
from tests.unit.mlops.factory import ENDPOINT, ENDPOINT_CONFIG, MODEL, request

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "mlops"
GROUP, VERSION = "mlops.aihooks.dev", "v1alpha1"
Model = create_namespaced_resource(GROUP, VERSION, "Model", "models")
EndpointConfig = create_namespaced_resource(GROUP, VERSION, "EndpointConfig", "endpointconfigs")
Endpoint = create_namespaced_resource(GROUP, VERSION, "Endpoint", "endpoints")
VirtualService = create_namespaced_resource(
    "networking.istio.io", "v1", "VirtualService", "virtualservices"
)
Gateway = create_namespaced_resource("networking.istio.io", "v1", "Gateway", "gateways")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PLURALS = {
    "Deployment": "apis/apps/v1/namespaces/{ns}/deployments",
    "ConfigMap": "api/v1/namespaces/{ns}/configmaps",
    "Service": "api/v1/namespaces/{ns}/services",
    "PersistentVolumeClaim": "api/v1/namespaces/{ns}/persistentvolumeclaims",
    "Model": "apis/mlops.aihooks.dev/v1alpha1/namespaces/{ns}/models",
    "VirtualService": "apis/networking.istio.io/v1/namespaces/{ns}/virtualservices",
    "Gateway": "apis/networking.istio.io/v1/namespaces/{ns}/gateways",
}


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def model_doc(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "image": "registry.example/server:1",
        "artifact": "https://models.example.com/m/v1.tar.gz",
        "replicas": 1,
        **spec,
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": body,
    }


@pytest.fixture
def storage(kube: Client, namespace: str) -> Iterator[str]:
    """A storage class name of the test's own and six PersistentVolumes of it: the
    artifact volumes bind to them as a dynamic provisioner would provide."""
    names = [f"{namespace}-pv{i}" for i in range(6)]
    for name in names:
        kube.create(
            PersistentVolume(
                metadata=ObjectMeta(name=name),
                spec=PersistentVolumeSpec(
                    capacity={"storage": "100Gi"},
                    accessModes=["ReadWriteOnce", "ReadWriteMany"],
                    storageClassName=namespace,
                    hostPath=HostPathVolumeSource(path=f"/tmp/{name}"),
                ),
            )
        )
    yield namespace
    for name in names:
        kube.delete(PersistentVolume, name)


def get(kube: Client, kind: Any, name: str, namespace: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.get(kind, name, namespace=namespace).to_dict()
    return obj


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return dict(condition_of(obj.get("status"), type_) or {})


def model_ready(kube: Client, name: str, namespace: str) -> dict[str, Any] | None:
    obj = get(kube, Model, name, namespace)
    status = obj.get("status") or {}
    if status.get("phase") == "Ready" and condition(obj, "Ready").get("status") == "True":
        return obj
    return None


def _rendered_children(namespace: str) -> list[dict[str, Any]]:
    settings, now = Settings(), datetime.now().astimezone()
    (model,) = documents("model.yaml")
    config_docs = documents("endpointconfig.yaml")
    (endpoint,) = documents("endpoint.yaml")
    for doc in [model, *config_docs, endpoint]:
        doc["metadata"].update(namespace=namespace, generation=1, uid="u")
    templates = [d for d in config_docs if d["kind"] == "Model"]
    (config,) = [d for d in config_docs if d["kind"] == "EndpointConfig"]
    answers = [
        sync_model(request(MODEL, model), now=now, settings=settings),
        sync_config(
            request(ENDPOINT_CONFIG, config, related=[*templates, endpoint]),
            now=now,
            settings=settings,
        ),
        sync_endpoint(request(ENDPOINT, endpoint, related=[config]), now=now, settings=settings),
    ]
    return [child for answer in answers for child in answer.to_json()["children"]]


def test_every_child_validates_against_the_real_schemas(
    controllers: object, cluster: LocalCluster, namespace: str
) -> None:
    children = _rendered_children(namespace)
    kinds = sorted({c["kind"] for c in children})
    assert kinds == sorted(PLURALS), kinds
    with cluster.http() as http:
        for child in children:
            path = PLURALS[child["kind"]].format(ns=namespace)
            response = http.patch(
                f"/{path}/{child['metadata']['name']}",
                params={"fieldManager": "e2e", "dryRun": "All", "fieldValidation": "Strict"},
                content=yaml.safe_dump(child),
                headers={"Content-Type": "application/apply-patch+yaml"},
            )
            assert response.status_code in (200, 201), (child["kind"], response.text)


INVALID = [
    ("Model", {"artifact": "https://x/m.tar.gz"}, "spec.image"),
    ("Model", {"image": "i", "artifact": "not a url"}, "spec.artifact"),
    (
        "Model",
        {"image": "i", "artifact": "https://x/a", "artifactChecksum": "md5:1"},
        "spec.artifactChecksum",
    ),
    ("Model", {"image": "i", "artifact": "https://x/a", "port": 8090}, "spec.port"),
    ("Model", {"image": "i", "artifact": "https://x/a", "port": 70000}, "spec.port"),
    ("Model", {"image": "i", "artifact": "https://x/a", "replicas": -1}, "spec.replicas"),
    ("Model", {"image": "i", "artifact": "https://x/a", "size": "lots"}, "spec.size"),
    ("Model", {"image": "i", "artifact": "https://x/a", "path": "models"}, "spec.path"),
    (
        "Model",
        {"image": "i", "artifact": "https://x/a", "capture": {"output": "http"}},
        "spec.capture",
    ),
    (
        "Model",
        {"image": "i", "artifact": "https://x/a", "metrics": {"output": "forward"}},
        "spec.metrics",
    ),
    (
        "Model",
        {"image": "i", "artifact": "https://x/a", "metrics": {"output": "kafka"}},
        "spec.metrics.output",
    ),
    ("EndpointConfig", {"models": []}, "spec.models"),
    ("EndpointConfig", {"models": [{"model": "a"}, {"model": "a"}]}, "spec.models"),
    ("EndpointConfig", {"models": [{"model": "a", "weight": 0}]}, "spec.models"),
    ("EndpointConfig", {"models": [{"model": "a", "weight": -1}]}, "spec.models[0].weight"),
    ("EndpointConfig", {"models": [{"model": "a", "instances": -1}]}, "spec.models[0].instances"),
    ("EndpointConfig", {"models": [{"model": "A_b"}]}, "spec.models[0].model"),
    ("Endpoint", {"host": "x.example.com"}, "spec.config"),
    ("Endpoint", {"config": "c", "host": "not a host"}, "spec.host"),
    ("Endpoint", {"config": "c", "host": "x.example.com", "port": 0}, "spec.port"),
    ("Endpoint", {"config": "c", "host": "x.example.com", "tls": {}}, "spec.tls.credentialName"),
    ("Model", {"image": "i", "artifact": "https://x/a", "name": "1st"}, "metadata.name"),
    ("EndpointConfig", {"models": [{"model": "a"}], "name": "my.config"}, "metadata.name"),
]


@pytest.mark.parametrize(("kind", "spec", "field"), INVALID, ids=lambda v: str(v)[:40])
def test_the_api_server_refuses_invalid_manifests(
    controllers: object, kube: Client, namespace: str, kind: str, spec: dict[str, Any], field: str
) -> None:
    resource = {"Model": Model, "EndpointConfig": EndpointConfig, "Endpoint": Endpoint}[kind]
    spec = dict(spec)
    name = spec.pop("name", "bad")
    doc = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }
    with pytest.raises(ApiError) as error:
        kube.create(resource.from_dict(doc), namespace=namespace)
    assert error.value.status.code == 422
    assert field in str(error.value.status.message), error.value.status.message


def test_a_model_reaches_ready(
    controllers: object,
    kube: Client,
    namespace: str,
    storage: str,
    cluster: LocalCluster,
    controlplane_files: ControlPlaneFiles,
) -> None:
    kube.create(
        Model.from_dict(model_doc("server", replicas=2, storageClassName=storage)),
        namespace=namespace,
    )
    obj = wait_for(lambda: model_ready(kube, "server", namespace), what="Model Ready", timeout=90)
    status = obj["status"]
    assert status["ready"] == "2/2"
    assert status["readyReplicas"] == 2
    assert status["servedArtifact"] == "https://models.example.com/m/v1.tar.gz"
    assert status["monitoringUrl"] == f"http://server.{namespace}.svc.cluster.local:9090/metrics"
    assert status["observedGeneration"] == 1
    for type_ in ("Available", "ArtifactReady", "RolledOut"):
        assert condition(obj, type_)["status"] == "True", type_
    # Settled: neither the Model nor its children change any more (no hot loop).
    versions = _versions(kube, "server", namespace)
    time.sleep(4)
    assert _versions(kube, "server", namespace) == versions
    pods = list(kube.list(Pod, namespace=namespace, labels={MODEL_LABEL: "server"}))
    assert len(pods) == 2
    containers = [c.name for c in pods[0].spec.containers]  # type: ignore[union-attr]
    assert containers == ["server", "nginx", "fluent-bit", "gor"]
    with cluster.http() as http:
        table = http.get(
            f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/models/server",
            headers={"Accept": TABLE},
        ).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Image",
        "Phase",
        "Ready",
        "Age",
    ]
    assert table["rows"][0]["cells"][1:4] == ["registry.example/server:1", "Ready", "2/2"]
    listed = subprocess.run(
        [
            str(controlplane_files.kubectl),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "get",
            "mlops",
            "-n",
            namespace,
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert f"model.{GROUP}/server" in listed


def _versions(kube: Client, name: str, namespace: str) -> dict[str, str]:
    """resourceVersions of a Model and of every object labelled with it."""
    found = {"Model": str(kube.get(Model, name, namespace=namespace).metadata.resourceVersion)}  # type: ignore[union-attr]
    for kind in (Deployment, Service, ConfigMap, PersistentVolumeClaim):
        for obj in kube.list(kind, namespace=namespace, labels={MODEL_LABEL: name}):
            found[f"{kind.__name__}/{obj.metadata.name}"] = str(obj.metadata.resourceVersion)  # type: ignore[union-attr]
    return found


def _behind_service(kube: Client, name: str, namespace: str) -> tuple[str, int]:
    """The revision the Service selects and how many ready pods it finds."""
    service = kube.get(Service, name, namespace=namespace)
    selector = dict(service.spec.selector or {})  # type: ignore[union-attr]
    pods = kube.list(Pod, namespace=namespace, labels=selector)
    return selector.get(REVISION_LABEL, ""), sum(
        1
        for pod in pods
        if pod.metadata.deletionTimestamp is None  # type: ignore[union-attr]
        and any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))  # type: ignore[union-attr]
    )


def _ready_behind_service(kube: Client, name: str, namespace: str) -> int:
    return _behind_service(kube, name, namespace)[1]


class Watcher:
    """Samples, as fast as the API server answers, the Service's revision and its ready pods."""

    def __init__(self, kube: Client, name: str, namespace: str) -> None:
        self.samples: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(kube, name, namespace), daemon=True)
        self._thread.start()

    def _run(self, kube: Client, name: str, namespace: str) -> None:
        while not self._stop.is_set():
            self.samples.append(_behind_service(kube, name, namespace))
            time.sleep(0.02)

    def stop(self) -> list[tuple[str, int]]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.samples


def _deployments(kube: Client, name: str, namespace: str) -> list[str]:
    return sorted(
        d.metadata.name  # type: ignore[union-attr,misc]
        for d in kube.list(Deployment, namespace=namespace, labels={MODEL_LABEL: name})
    )


def test_an_artifact_change_goes_blue_green(
    controllers: object, kube: Client, namespace: str, storage: str
) -> None:
    kube.create(
        Model.from_dict(model_doc("bg", replicas=2, storageClassName=storage)), namespace=namespace
    )
    first = wait_for(lambda: model_ready(kube, "bg", namespace), what="Model Ready", timeout=90)
    old_revision = first["status"]["servedRevision"]
    watcher = Watcher(kube, "bg", namespace)
    try:
        patch = {"spec": {"artifact": "https://models.example.com/m/v2.tar.gz"}}
        kube.patch(Model, "bg", patch, namespace=namespace, patch_type=PatchType.MERGE)
        seen_both = wait_for(
            lambda: len(_deployments(kube, "bg", namespace)) == 2, what="two revisions", timeout=60
        )
        assert seen_both

        def rolled_out() -> dict[str, Any] | None:
            obj = model_ready(kube, "bg", namespace)
            served = (obj or {}).get("status", {}).get("servedArtifact")
            if (
                obj
                and served.endswith("v2.tar.gz")
                and len(_deployments(kube, "bg", namespace)) == 1
            ):
                return obj
            return None

        done = wait_for(rolled_out, what="the new revision alone", timeout=90)
        time.sleep(1)
    finally:
        samples = watcher.stop()
    new_revision = done["status"]["servedRevision"]
    assert new_revision != old_revision
    # The watcher saw the switch happen, and a ready pod behind the Service at every sample.
    assert {revision for revision, _ in samples} == {old_revision, new_revision}, samples
    assert min(ready for _, ready in samples) >= 1, samples
    assert _deployments(kube, "bg", namespace) == [f"bg-{new_revision}"]
    selector = kube.get(Service, "bg", namespace=namespace).spec.selector  # type: ignore[union-attr]
    assert selector[REVISION_LABEL] == new_revision  # type: ignore[index]

    # A revision that can never be scheduled (no node has 1000 cpus) never gets ready.
    stuck = {
        "spec": {"image": "registry.example/server:2", "resources": {"requests": {"cpu": "1000"}}}
    }
    kube.patch(Model, "bg", stuck, namespace=namespace, patch_type=PatchType.MERGE)

    def rolling() -> dict[str, Any] | None:
        obj = get(kube, Model, "bg", namespace)
        status = obj.get("status") or {}
        if status.get("phase") == "RollingOut" and status.get("observedGeneration") == 3:
            return obj
        return None

    obj = wait_for(rolling, what="RollingOut", timeout=60)
    time.sleep(3)
    obj = get(kube, Model, "bg", namespace)
    assert obj["status"]["phase"] == "RollingOut"
    assert obj["status"]["servedRevision"] == new_revision
    assert condition(obj, "Available")["status"] == "True"
    rolled = condition(obj, "RolledOut")
    assert rolled["status"] == "False"
    assert f"revision {new_revision} keeps serving" in rolled["message"]
    assert condition(obj, "Ready")["status"] == "False"
    assert _ready_behind_service(kube, "bg", namespace) == 2
    assert len(_deployments(kube, "bg", namespace)) == 2


def _routes(kube: Client, name: str, namespace: str) -> list[tuple[str, int]]:
    vs = get(kube, VirtualService, name, namespace)
    (http,) = vs["spec"]["http"]
    return [(r["destination"]["host"], r["weight"]) for r in http["route"]]


def test_endpoint_config_and_endpoint(
    controllers: object, kube: Client, namespace: str, storage: str
) -> None:
    for name, image in (("v3", "registry.example/server:3"), ("v4", "registry.example/server:4")):
        kube.create(
            Model.from_dict(model_doc(name, image=image, replicas=0, storageClassName=storage)),
            namespace=namespace,
        )
    config = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EndpointConfig",
        "metadata": {"name": "ep"},
        "spec": {
            "models": [
                {"model": "v3", "weight": 3, "instances": 1, "cpus": "1", "memory": "1Gi"},
                {"model": "v4", "weight": 1, "instances": 1},
            ]
        },
    }
    kube.create(EndpointConfig.from_dict(config), namespace=namespace)
    endpoint = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Endpoint",
        "metadata": {"name": "public"},
        "spec": {"config": "ep", "host": "models.example.com"},
    }
    kube.create(Endpoint.from_dict(endpoint), namespace=namespace)

    host = "svc.cluster.local"
    want = [(f"ep-v3.{namespace}.{host}", 75), (f"ep-v4.{namespace}.{host}", 25)]
    wait_for(lambda: _routes(kube, "ep", namespace) == want, what="75/25 routes", timeout=60)
    vs = wait_for(
        lambda: (
            (v := get(kube, VirtualService, "ep", namespace))["spec"]["gateways"]
            == [f"{namespace}/public", "mesh"]
            and v
        ),
        what="the VirtualService bound to the Gateway",
        timeout=60,
    )
    assert "models.example.com" in vs["spec"]["hosts"]
    derived = get(kube, Model, "ep-v3", namespace)
    assert derived["spec"]["replicas"] == 1
    assert derived["spec"]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert derived["spec"]["storageClassName"] == storage
    gateway = wait_for(lambda: get(kube, Gateway, "public", namespace), what="the Gateway")
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}

    def endpoint_ready() -> dict[str, Any] | None:
        obj = get(kube, Endpoint, "public", namespace)
        return obj if condition(obj, "Ready").get("status") == "True" else None

    obj = wait_for(endpoint_ready, what="Endpoint Ready", timeout=120)
    assert obj["status"]["url"] == "http://models.example.com"
    assert (
        obj["status"]["monitoringUrl"] == f"http://ep-v3.{namespace}.svc.cluster.local:9090/metrics"
    )
    cfg = get(kube, EndpointConfig, "ep", namespace)
    assert [(m["derivedModel"], m["weight"], m["ready"]) for m in cfg["status"]["models"]] == [
        ("ep-v3", 75, True),
        ("ep-v4", 25, True),
    ]

    # Editing a template rolls its derived Model (blue/green, as any Model).
    before = get(kube, Model, "ep-v4", namespace)["status"]["servedRevision"]
    patch = {"spec": {"image": "registry.example/server:5"}}
    kube.patch(Model, "v4", patch, namespace=namespace, patch_type=PatchType.MERGE)

    def rolled() -> dict[str, Any] | None:
        obj = model_ready(kube, "ep-v4", namespace)
        if (
            obj
            and obj["spec"]["image"].endswith(":5")
            and obj["status"]["servedRevision"] != before
        ):
            return obj
        return None

    wait_for(rolled, what="the derived Model rolled to the new image", timeout=90)

    kube.delete(Endpoint, "public", namespace=namespace)
    wait_for(
        lambda: not list(kube.list(Gateway, namespace=namespace)),
        what="the Gateway gone",
        timeout=60,
    )
    wait_for(
        lambda: get(kube, VirtualService, "ep", namespace)["spec"]["gateways"] == ["mesh"],
        what="the VirtualService unbound",
        timeout=60,
    )
    assert _routes(kube, "ep", namespace) == want
    assert model_ready(kube, "ep-v3", namespace) is not None
    assert model_ready(kube, "ep-v4", namespace) is not None


def test_a_missing_model_and_a_missing_config_are_conditions(
    controllers: object, kube: Client, namespace: str
) -> None:
    config = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EndpointConfig",
        "metadata": {"name": "lonely"},
        "spec": {"models": [{"model": "nowhere"}]},
    }
    kube.create(EndpointConfig.from_dict(config), namespace=namespace)
    endpoint = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Endpoint",
        "metadata": {"name": "orphan"},
        "spec": {"config": "absent", "host": "orphan.example.com"},
    }
    kube.create(Endpoint.from_dict(endpoint), namespace=namespace)
    cfg = wait_for(
        lambda: (
            (o := get(kube, EndpointConfig, "lonely", namespace))
            and condition(o, "Ready").get("reason") == "ModelNotFound"
            and o
        ),
        what="ModelNotFound",
        timeout=60,
    )
    assert "nowhere" in condition(cfg, "Ready")["message"]
    ep = wait_for(
        lambda: (
            (o := get(kube, Endpoint, "orphan", namespace))
            and condition(o, "Ready").get("reason") == "ConfigNotFound"
            and o
        ),
        what="ConfigNotFound",
        timeout=60,
    )
    assert ep["status"]["url"] == "http://orphan.example.com"
    gateway = wait_for(lambda: get(kube, Gateway, "orphan", namespace), what="the Gateway")
    assert gateway["spec"]["servers"][0]["hosts"] == ["orphan.example.com"]
