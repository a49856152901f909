from typing import Any

import pytest
from pydantic import BaseModel

from hooks.crdgen import SchemaError, crd_manifest, structural_schema
from tests.unit.sample_system import WIDGETS, WidgetSpec


def _spec_schema() -> dict[str, Any]:
    return structural_schema(WidgetSpec)


def _walk(schema: Any) -> list[dict[str, Any]]:
    nodes = []
    if isinstance(schema, dict):
        nodes.append(schema)
        for value in schema.values():
            nodes.extend(_walk(value))
    elif isinstance(schema, list):
        for value in schema:
            nodes.extend(_walk(value))
    return nodes


def test_schema_is_structural() -> None:
    schema = crd_manifest(WIDGETS)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for node in _walk(schema):
        assert "$ref" not in node
        assert "title" not in node
        assert "anyOf" not in node
        assert "$defs" not in node


def test_fields_constraints_and_defaults() -> None:
    spec = _spec_schema()
    props = spec["properties"]
    assert spec["required"] == ["image"]
    assert props["image"] == {"type": "string", "minLength": 1, "description": "Container image."}
    assert props["replicas"] == {"type": "integer", "default": 1, "minimum": 0, "maximum": 10}
    assert props["memory"]["pattern"] == "^[0-9]+(Ki|Mi|Gi|Ti)$"
    assert props["minReplicas"]["type"] == "integer"
    assert props["nodeSelector"]["additionalProperties"] == {"type": "string"}
    assert props["nodeSelector"]["default"] == {"pool": "default"}
    port = props["ports"]["items"]
    assert port["properties"]["protocol"]["enum"] == ["TCP", "UDP"]
    assert port["required"] == ["port"]
    assert props["template"] == {
        "type": "object",
        "nullable": True,
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert props["targetPort"] == {"x-kubernetes-int-or-string": True, "nullable": True}
    assert props["ratio"]["minimum"] == 0
    assert props["ratio"]["exclusiveMinimum"] is True
    assert spec["x-kubernetes-validations"][0]["rule"] == "self.minReplicas <= self.replicas"


def test_crd_names_subresources_and_columns() -> None:
    crd = crd_manifest(WIDGETS)
    assert crd["metadata"]["name"] == "widgets.test.aihooks.dev"
    names = crd["spec"]["names"]
    assert names == {
        "kind": "Widget",
        "listKind": "WidgetList",
        "plural": "widgets",
        "singular": "widget",
        "shortNames": ["wd"],
        "categories": ["aihooks"],
    }
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {
        "status": {},
        "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
    }
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Replicas", "Age"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert sorted(conditions["items"]["required"]) == [
        "lastTransitionTime",
        "message",
        "reason",
        "status",
        "type",
    ]


def test_unions_without_structural_form_are_rejected() -> None:
    class Bad(BaseModel):
        value: int | list[str]

    with pytest.raises(SchemaError, match="no structural form"):
        structural_schema(Bad)
