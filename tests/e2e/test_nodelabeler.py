"""AutoNodeLabeler on the real control plane: labels appear, conflict, and disappear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.devcluster import LocalCluster
from hooks.prem.nodelabeler import OWNED_ANNOTATION
from tests.e2e.fixtures_controllers import Controllers
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e
LABELERS = "/apis/premlabs.io/v1alpha1/autonodelabelers"
EXAMPLE = REPO_ROOT / "examples/prem/autonodelabeler.yaml"


@pytest.fixture
def api(cluster: LocalCluster) -> Any:
    with cluster.http() as client:
        yield client


def _node(api: httpx.Client, name: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/v1/nodes/{name}").json()
    return body


def _labels(api: httpx.Client, name: str) -> dict[str, str]:
    return dict(_node(api, name)["metadata"].get("labels") or {})


def _create(api: httpx.Client, obj: dict[str, Any]) -> None:
    response = api.post(LABELERS, json=obj)
    assert response.status_code == 201, response.text


def _examples(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _status(api: httpx.Client, name: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"{LABELERS}/{name}").json()
    return dict(body.get("status") or {})


def test_seed_labeler_labels_nodes_and_removes_the_labels(
    controllers: Controllers, cluster: LocalCluster, api: httpx.Client
) -> None:
    seed, gpu = _examples(EXAMPLE)
    cluster.create_node("anl-amd64", labels={"kubernetes.io/arch": "amd64"})
    cluster.create_node("anl-arm64", labels={"kubernetes.io/arch": "arm64"})
    try:
        _create(api, seed)
        _create(api, gpu)
        wait_for(
            lambda: _labels(api, "anl-amd64").get("foo/bar.com") == "baz", what="the seed label"
        )
        assert "foo/bar.com" not in _labels(api, "anl-arm64")
        assert _node(api, "anl-amd64")["metadata"]["annotations"][OWNED_ANNOTATION] == "foo/bar.com"
        wait_for(
            lambda: _labels(api, "kwok-gpu-a100-0").get("premlabs.io/gpu-class") == "a100-80gb",
            what="the GPU class label on the A100 pool",
        )
        status = wait_for(
            lambda: _status(api, "auto-node-labeler").get("matchedNodes"), what="status"
        )
        assert status >= 1
        assert "anl-amd64" in _status(api, "auto-node-labeler")["nodes"]
        # The node stops matching: the label goes, a hand-set label stays.
        patch = {"metadata": {"labels": {"kubernetes.io/arch": "arm64", "team": "ml"}}}
        merge = {"Content-Type": "application/merge-patch+json"}
        assert api.patch("/api/v1/nodes/anl-amd64", json=patch, headers=merge).status_code == 200
        wait_for(lambda: "foo/bar.com" not in _labels(api, "anl-amd64"), what="the label removed")
        assert _labels(api, "anl-amd64")["team"] == "ml"
        # Deleting the labeler removes its labels everywhere.
        assert api.delete(f"{LABELERS}/gpu-classes").status_code == 200
        wait_for(
            lambda: "premlabs.io/gpu-class" not in _labels(api, "kwok-gpu-a100-0"),
            what="the GPU class label removed with its labeler",
        )
    finally:
        for name in ("auto-node-labeler", "gpu-classes"):
            api.delete(f"{LABELERS}/{name}")
        for name in ("anl-amd64", "anl-arm64"):
            api.delete(f"/api/v1/nodes/{name}")


def test_conflicting_labelers_have_one_winner(
    controllers: Controllers, cluster: LocalCluster, api: httpx.Client
) -> None:
    cluster.create_node("anl-conflict", labels={"anl-test": "yes"})
    match = {"key": "anl-test", "operator": "Exists"}
    try:
        for name, value in (("anl-b", "silver"), ("anl-a", "gold")):
            _create(
                api,
                {
                    "apiVersion": "premlabs.io/v1alpha1",
                    "kind": "AutoNodeLabeler",
                    "metadata": {"name": name},
                    "spec": {"labels": {"tier": value}, "matchExpression": match},
                },
            )
        wait_for(
            lambda: _labels(api, "anl-conflict").get("tier") == "gold", what="the winner's value"
        )

        def conflicting() -> bool:
            conditions = {c["type"]: c for c in _status(api, "anl-b").get("conditions", [])}
            return conditions.get("Conflicting", {}).get("status") == "True"

        wait_for(conflicting, what="the loser's Conflicting condition")
    finally:
        for name in ("anl-a", "anl-b"):
            api.delete(f"{LABELERS}/{name}")
        api.delete("/api/v1/nodes/anl-conflict")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"matchExpression": {"key": "a", "values": ["x"]}, "labels": {}}, "operator"),
        ({"matchExpression": {"key": "a", "operator": "In"}, "labels": {}}, "need values"),
        ({"matchExpression": {"key": "a", "operator": "Exists", "values": ["x"]}}, "take none"),
        ({"matchExpression": {"key": "a", "operator": "Matches"}}, "Unsupported value"),
        ({"labels": {"bad key!": "x"}}, "qualified names"),
        ({"labels": {"ok": "bad value!"}}, "spec.labels.ok"),
    ],
)
def test_invalid_labelers_are_rejected(
    controllers: Controllers, api: httpx.Client, spec: dict[str, Any], message: str
) -> None:
    obj = {
        "apiVersion": "premlabs.io/v1alpha1",
        "kind": "AutoNodeLabeler",
        "metadata": {"name": "anl-invalid"},
        "spec": spec,
    }
    response = api.post(LABELERS, json=obj)
    assert response.status_code == 422, response.text
    assert message in response.json()["message"]
