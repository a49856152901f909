"""Properties of the MLOps hooks beyond the shared ones (tests/unit/test_properties.py):
with related objects present, on any schema-valid specs.

An EndpointConfig whose templates all exist routes exactly 100 percent in one
route over its derived Models, and is idempotent; a Model fed its own children with
every revision ready settles on one revision, served, and stays there.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from hooks.crdgen import crd_manifest
from hooks.mlops.api import ENDPOINT_CONFIGS, MODELS, REVISION_LABEL
from hooks.mlops.controller import sync_model
from hooks.mlops.endpoints import sync_config
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.mlops.factory import ENDPOINT_CONFIG, MODEL, NAMESPACE, of_kind, ready, request
from tests.unit.test_properties import objects_of


def _spec_schema(resource: Any) -> dict[str, Any]:
    root = crd_manifest(resource)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec: dict[str, Any] = root["properties"]["spec"]
    return spec


MODEL_SPECS = objects_of(_spec_schema(MODELS))
CONFIG_SPECS = objects_of(_spec_schema(ENDPOINT_CONFIGS)).filter(
    # The CEL rules the generator does not know: unique names, not all weights zero.
    lambda s: (
        len({m["model"] for m in s["models"]}) == len(s["models"])
        and any(m.get("weight", 1) > 0 for m in s["models"])
    )
)


def _parent(kind: str, name: str, spec: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "mlops.aihooks.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": generation, "uid": "u"},
        "spec": spec,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(config=CONFIG_SPECS, template=MODEL_SPECS)
def test_a_config_with_its_templates_routes_100_percent(
    config: dict[str, Any], template: dict[str, Any]
) -> None:
    parent = _parent("EndpointConfig", "c", config)
    templates = [_parent("Model", m["model"], template) for m in config["models"]]
    first = sync_config(
        request(ENDPOINT_CONFIG, parent, related=templates), now=NOW, settings=Settings()
    ).to_json()
    (vs,) = of_kind(first["children"], "VirtualService")
    (route,) = vs["spec"]["http"]
    assert sum(r["weight"] for r in route["route"]) == 100
    assert len(of_kind(first["children"], "Model")) == len(config["models"])
    again = sync_config(
        request(
            ENDPOINT_CONFIG, {**parent, "status": first["status"]}, first["children"], templates
        ),
        now=NOW,
        settings=Settings(),
    ).to_json()
    assert again == first


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(old=MODEL_SPECS, new=MODEL_SPECS)
def test_a_model_settles_on_the_new_revision(old: dict[str, Any], new: dict[str, Any]) -> None:
    def step(spec: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, Any]:
        observed = [ready(c) if c["kind"] == "Deployment" else c for c in children]
        return sync_model(
            request(MODEL, _parent("Model", "m", spec), observed), now=NOW, settings=Settings()
        ).to_json()

    children = step(old, [])["children"]
    for _ in range(4):
        children = step(new, children)["children"]
    final = step(new, children)
    assert final["children"] == step(new, final["children"])["children"]
    if final["status"]["phase"] == "Failed":
        return  # a spec only the hook can judge wrong keeps what ran
    deployments = of_kind(final["children"], "Deployment")
    (service,) = of_kind(final["children"], "Service")
    assert [d["metadata"]["labels"][REVISION_LABEL] for d in deployments] == [
        service["spec"]["selector"][REVISION_LABEL]
    ]
    assert final["status"]["servedRevision"] == final["status"]["revision"]
