"""The Service an InferenceModel's backendUrl names, on the real control plane: made
and selecting the model's pods on its serving port, or left alone when not ours."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Service

from hooks.k8s.conditions import condition_of
from tests.e2e.test_inference import create, manifest, model, wait_ready
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e


def backend_service(kube: Client, namespace: str, name: str) -> dict[str, Any] | None:
    condition = condition_of(model(kube, namespace, name).get("status"), "BackendService")
    return dict(condition) if condition else None


def test_the_backend_service_reaches_the_models_pods(
    controllers: object, kube: Client, namespace: str
) -> None:
    obj = manifest("vllm")
    obj["spec"]["backendUrl"] = f"http://vllm-api.{namespace}.svc.cluster.local:8000"
    create(kube, namespace, obj)
    wait_ready(kube, namespace, "vllm")
    service = kube.get(Service, "vllm-api", namespace=namespace).to_dict()
    deployment = kube.get(Deployment, "vllm", namespace=namespace).to_dict()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == 8000
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (8000, "http")
    assert service["metadata"]["ownerReferences"][0]["name"] == "vllm"
    condition = wait_for(
        lambda: backend_service(kube, namespace, "vllm"), what="the BackendService condition"
    )
    assert (condition["status"], condition["reason"]) == ("True", "ServiceManaged")


def test_a_service_that_is_not_ours_is_left_alone(
    controllers: object, kube: Client, namespace: str
) -> None:
    theirs = Service(
        metadata=ObjectMeta(name="shared", namespace=namespace, labels={"owner": "team"}),
        spec=ServiceSpec(selector={"app": "theirs"}, ports=[ServicePort(port=8000)]),
    )
    kube.create(theirs)
    obj = manifest("chat")
    obj["spec"]["backendUrl"] = "http://shared:8000"
    create(kube, namespace, obj)
    wait_ready(kube, namespace, "chat")
    condition = wait_for(
        lambda: backend_service(kube, namespace, "chat"), what="the BackendService condition"
    )
    assert (condition["status"], condition["reason"]) == ("False", "ServiceNotOwned")
    kept = kube.get(Service, "shared", namespace=namespace).to_dict()
    assert kept["spec"]["selector"] == {"app": "theirs"}
    assert kept["metadata"]["labels"] == {"owner": "team"}
    assert not kept["metadata"].get("ownerReferences")
