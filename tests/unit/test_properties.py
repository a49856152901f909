"""Properties every composite controller must have, on parents generated from its CRD schema.

For any parent the API server would accept (minus CEL rules), a sync hook must not
raise, must answer a status whose every field exists in the CRD status schema (a
pruned field makes Metacontroller loop), and must be idempotent: fed its own
desired children as observed children and its own status, it answers the same.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.contract import CompositeRequest
from hooks.crdgen import CustomResource, crd_manifest
from hooks.k8s.conditions import rfc3339
from hooks.registry import Controller
from hooks.render import object_map
from hooks.settings import Settings
from hooks.systems import CONTROLLERS, CUSTOM_RESOURCES
from tests.conftest import NOW
from tests.fuzz.checks import closed
from tests.unit.sample_system import WIDGET_CONTROLLER, WIDGETS

_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
_URLS = ("http://backend:8000", "https://inference.example.com/v1", "http://10.0.0.1")


def objects_of(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for a structural CRD schema (CEL rules aside), small and varied."""
    strategy = _non_null(schema)
    return st.one_of(st.none(), strategy) if schema.get("nullable") else strategy


def _non_null(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(0, 65535), _NAME)
    kind = schema.get("type")
    if kind == "string":
        return _strings(schema)
    if kind in ("integer", "number"):
        low = schema.get("minimum", -5)
        high = schema.get("maximum", 1000)
        if kind == "integer":
            low += 1 if schema.get("exclusiveMinimum") else 0
            high -= 1 if schema.get("exclusiveMaximum") else 0
            return st.integers(low, high)
        return st.floats(
            low,
            high,
            exclude_min=bool(schema.get("exclusiveMinimum")),
            exclude_max=bool(schema.get("exclusiveMaximum")),
            allow_nan=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(objects_of(schema["items"]), min_size=low, max_size=max(low, 3))
    if "properties" in schema:
        required = set(schema.get("required", ()))
        props = schema["properties"]
        return st.fixed_dictionaries(
            {k: objects_of(v) for k, v in props.items() if k in required},
            optional={k: objects_of(v) for k, v in props.items() if k not in required},
        )
    if isinstance(schema.get("additionalProperties"), dict):
        return st.dictionaries(_NAME, objects_of(schema["additionalProperties"]), max_size=3)
    return st.just({})


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    if schema.get("format") == "uri":
        base: st.SearchStrategy[str] = st.sampled_from(_URLS)
    elif "pattern" in schema:
        base = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        base = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=high)
    return base.filter(lambda s: low <= len(s) <= high)


def _schemas(resource: CustomResource) -> tuple[dict[str, Any], dict[str, Any]]:
    root = crd_manifest(resource)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return root["properties"]["spec"], closed(root["properties"].get("status", {}))


def _pairs() -> list[tuple[Controller, CustomResource]]:
    by_key = {f"{r.kind}.{r.api_version}": r for r in CUSTOM_RESOURCES}
    pairs = [(WIDGET_CONTROLLER, WIDGETS)]
    for controller in CONTROLLERS:
        resource = by_key.get(controller.parent.key)
        if controller.kind == "CompositeController" and resource is not None:
            pairs.append((controller, resource))
    return pairs


def _parent(resource: CustomResource, spec: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "p",
        "uid": "00000000-0000-0000-0000-000000000001",
        "generation": 1,
        "creationTimestamp": rfc3339(NOW - timedelta(hours=1)),
    }
    if resource.scope == "Namespaced":
        metadata["namespace"] = "ns"
    return {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": metadata,
        "spec": spec,
    }


def _observed(children: list[dict[str, Any]], namespace: str) -> dict[str, dict[str, Any]]:
    observed = copy.deepcopy(children)
    for child in observed:
        if namespace and "namespace" not in child["metadata"]:
            child["metadata"]["namespace"] = namespace
    return object_map(observed, namespace)


@pytest.mark.parametrize(("controller", "resource"), _pairs(), ids=lambda v: getattr(v, "name", ""))
def test_sync_properties(controller: Controller, resource: CustomResource) -> None:
    spec_schema, status_schema = _schemas(resource)
    hook_settings = Settings()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(spec=objects_of(spec_schema))
    def check(spec: dict[str, Any]) -> None:
        parent = _parent(resource, spec)
        empty = {child.key: {} for child in controller.children}
        first = controller.sync(
            CompositeRequest(parent=parent, children=empty), now=NOW, settings=hook_settings
        ).to_json()
        if first.get("status") is not None:
            jsonschema.validate(first["status"], status_schema)
        namespace = parent["metadata"].get("namespace", "")
        observed = {**empty, **_observed(first["children"], namespace)}
        again = controller.sync(
            CompositeRequest(parent={**parent, "status": first.get("status")}, children=observed),
            now=NOW,
            settings=hook_settings,
        ).to_json()
        assert again["children"] == first["children"], "children change when fed back"
        assert again.get("status") == first.get("status"), "status changes when fed back"

    check()
