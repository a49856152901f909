"""The project's Metacontroller runner against the contract in reference/metacontroller.md.

Small test-only controllers (served by the project's own app on loopback) drive a
test CRD and Nodes through the runner on the real control plane.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from pydantic import ConfigDict

from hooks.app import create_app
from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    DecoratorRequest,
    DecoratorResponse,
    LabelSelector,
    RelatedResourceRule,
)
from hooks.crdgen import crd_manifest
from hooks.devcluster import LocalCluster
from hooks.devcluster.cluster import free_port
from hooks.k8s.objects import labels_of, name_of, new_object
from hooks.metacontroller import controller_object
from hooks.registry import Controller, Resource
from hooks.settings import Settings
from tests.e2e.runner import Runner
from tests.e2e.waiting import wait_for
from tests.unit.sample_system import WIDGETS

pytestmark = pytest.mark.e2e
WIDGET = Resource("test.aihooks.dev/v1alpha1", "widgets", "Widget")
CONFIGMAP = Resource("v1", "configmaps", "ConfigMap", update="InPlace")
SECRET = Resource("v1", "secrets", "Secret")


class _AnswerWithUnknownField(CompositeResponse):
    """What a buggy hook would answer: a field Metacontroller v2 does not know."""

    model_config = ConfigDict(extra="allow")


def widget_sync(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    spec = request.parent.get("spec", {})
    if spec.get("image") == "bad-answer":
        return _AnswerWithUnknownField(children=[], status={"x": 1}, bogus=1)
    children = [
        {
            **new_object("v1", "ConfigMap", f"{name_of(request.parent)}-{i}"),
            "data": {"image": spec["image"]},
        }
        for i in range(spec.get("replicas", 1))
    ]
    nodes = request.related_of("Node.v1")
    status = {"replicas": len(request.children_of("ConfigMap.v1"))}
    resync = None
    if spec.get("image") == "ticking":
        status["replicas"] = int(now.timestamp()) % 1000
        resync = 0.5
    status["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Nodes",
            "message": ",".join(name_of(n) for n in nodes),
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
    ]
    return CompositeResponse(status=status, children=children, resync_after_seconds=resync)


def widget_finalize(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    """Finalizing: drop the children, and finish only once they are gone."""
    gone = not request.children_of("ConfigMap.v1")
    return CompositeResponse(
        children=[], finalized=gone, resync_after_seconds=None if gone else 0.5
    )


def widget_customize(
    request: CustomizeRequest, *, now: datetime, settings: Settings
) -> CustomizeResponse:
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(
                api_version="v1",
                resource="nodes",
                label_selector=LabelSelector(match_labels={"runner-test": "related"}),
            )
        ]
    )


def node_labels(
    request: DecoratorRequest, *, now: datetime, settings: Settings
) -> DecoratorResponse:
    wanted = labels_of(request.object).get("runner-test") == "decorate"
    return DecoratorResponse(labels={"runner-test/decorated": "yes" if wanted else None})


COMPOSITE = Controller(
    name="runner-widgets",
    kind="CompositeController",
    parent=WIDGET,
    sync=widget_sync,
    finalize=widget_finalize,
    customize=widget_customize,
    children=(CONFIGMAP,),
)
DECORATOR = Controller(
    name="runner-nodes",
    kind="DecoratorController",
    parent=Resource("v1", "nodes", "Node"),
    sync=node_labels,
)


@pytest.fixture(scope="module")
def hook_url() -> Iterator[str]:
    port = free_port()
    app = create_app([COMPOSITE, DECORATOR], Settings())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, what="the test hook server")
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def runner(
    cluster: LocalCluster, hook_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runner]:
    crd_path = tmp_path_factory.mktemp("crd") / "widgets.yaml"
    crd_path.write_text(yaml.safe_dump(crd_manifest(WIDGETS)))
    cluster.apply_crds([crd_path])
    objects = []
    for controller in (COMPOSITE, DECORATOR):
        obj = controller_object(controller)
        for hook in obj["spec"]["hooks"].values():
            webhook = hook["webhook"]
            webhook.pop("service")
            webhook["url"] = hook_url + webhook.pop("path")
        objects.append(obj)
    running = Runner(cluster.http(), objects, interval=0.1)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def api(cluster: LocalCluster) -> Iterator[httpx.Client]:
    with cluster.http() as client:
        yield client


def _widgets(namespace: str) -> str:
    return f"/apis/test.aihooks.dev/v1alpha1/namespaces/{namespace}/widgets"


def _get(api: httpx.Client, path: str) -> Any:
    response = api.get(path)
    return response.json() if response.status_code == 200 else None


def _configmaps(api: httpx.Client, namespace: str, uid: str) -> list[dict[str, Any]]:
    items = api.get(
        f"/api/v1/namespaces/{namespace}/configmaps",
        params={"labelSelector": f"controller-uid={uid}"},
    )
    return sorted(items.json()["items"], key=lambda o: o["metadata"]["name"])


def _create_widget(api: httpx.Client, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    body = {
        "apiVersion": WIDGET.api_version,
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": spec,
    }
    response = api.post(_widgets(namespace), json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _patch_spec(api: httpx.Client, namespace: str, spec: dict[str, Any]) -> None:
    response = api.patch(
        f"{_widgets(namespace)}/w",
        json={"spec": spec},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def test_children_status_in_place_updates_and_deletion(
    runner: Runner, api: httpx.Client, namespace: str
) -> None:
    parent = _create_widget(api, namespace, {"image": "one", "replicas": 2})
    uid = parent["metadata"]["uid"]
    children = wait_for(
        lambda: len(_configmaps(api, namespace, uid)) == 2 and _configmaps(api, namespace, uid),
        what="two ConfigMap children",
    )
    for child in children:
        assert child["metadata"]["labels"]["controller-uid"] == uid
        (ref,) = child["metadata"]["ownerReferences"]
        assert ref["uid"] == uid
        assert ref["controller"] is True
        assert ref["blockOwnerDeletion"] is True
        assert (
            "metacontroller.k8s.io/last-applied-configuration" in child["metadata"]["annotations"]
        )
    status = wait_for(
        lambda: (
            (_get(api, f"{_widgets(namespace)}/w") or {}).get("status", {}).get("replicas") == 2
            and _get(api, f"{_widgets(namespace)}/w")["status"]
        ),
        what="status from the children",
    )
    assert status["observedGeneration"] == 1
    first_uid = children[0]["metadata"]["uid"]
    _patch_spec(api, namespace, {"image": "two", "replicas": 1})
    wait_for(
        lambda: [c["data"]["image"] for c in _configmaps(api, namespace, uid)] == ["two"],
        what="one child, updated in place",
    )
    assert _configmaps(api, namespace, uid)[0]["metadata"]["uid"] == first_uid, (
        "updated, not recreated"
    )
    wait_for(
        lambda: _get(api, f"{_widgets(namespace)}/w")["status"]["observedGeneration"] == 2,
        what="observedGeneration 2",
    )
    assert api.delete(f"{_widgets(namespace)}/w").status_code == 200
    wait_for(lambda: _get(api, f"{_widgets(namespace)}/w") is None, what="the finalizer to let go")
    wait_for(lambda: not _configmaps(api, namespace, uid), what="children gone")


def test_finalizer_is_added(runner: Runner, api: httpx.Client, namespace: str) -> None:
    _create_widget(api, namespace, {"image": "one"})
    finalizers = wait_for(
        lambda: _get(api, f"{_widgets(namespace)}/w")["metadata"].get("finalizers"),
        what="the finalizer",
    )
    assert finalizers == ["metacontroller.io/compositecontroller-runner-widgets"]


def test_related_objects_trigger_syncs(
    runner: Runner, cluster: LocalCluster, api: httpx.Client, namespace: str
) -> None:
    _create_widget(api, namespace, {"image": "one"})
    wait_for(lambda: _get(api, f"{_widgets(namespace)}/w").get("status"), what="a first status")
    node = f"related-{namespace[-6:]}"
    cluster.create_node(node, labels={"runner-test": "related"})
    try:
        wait_for(
            lambda: (
                node in _get(api, f"{_widgets(namespace)}/w")["status"]["conditions"][0]["message"]
            ),
            what="the related Node in the status",
        )
    finally:
        api.delete(f"/api/v1/nodes/{node}")


def test_resync_after_seconds(runner: Runner, api: httpx.Client, namespace: str) -> None:
    _create_widget(api, namespace, {"image": "ticking"})
    first = wait_for(lambda: _get(api, f"{_widgets(namespace)}/w").get("status"), what="a status")[
        "replicas"
    ]
    wait_for(
        lambda: _get(api, f"{_widgets(namespace)}/w")["status"]["replicas"] != first,
        what="a resync that changes the status",
        timeout=10,
    )


def test_strict_decoding_changes_nothing(runner: Runner, api: httpx.Client, namespace: str) -> None:
    _create_widget(api, namespace, {"image": "bad-answer"})
    wait_for(
        lambda: any("unknown fields" in e and namespace in e for e in runner.errors),
        what="the runner to reject the unknown field",
    )
    parent = _get(api, f"{_widgets(namespace)}/w")
    assert "status" not in parent or not parent["status"]
    assert not _configmaps(api, namespace, parent["metadata"]["uid"])


def test_decorator_labels_a_node_and_removes_the_label(
    runner: Runner, cluster: LocalCluster, api: httpx.Client
) -> None:
    node = f"decorated-{int(time.time()) % 100000}"
    cluster.create_node(node, labels={"runner-test": "decorate"})
    path = f"/api/v1/nodes/{node}"
    try:
        wait_for(
            lambda: _get(api, path)["metadata"]["labels"].get("runner-test/decorated") == "yes",
            what="the decorator's label",
        )
        response = api.patch(
            path,
            json={"metadata": {"labels": {"runner-test": "plain"}}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 200
        wait_for(
            lambda: "runner-test/decorated" not in _get(api, path)["metadata"]["labels"],
            what="the label removed by a null",
        )
    finally:
        api.delete(path)
