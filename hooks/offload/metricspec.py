"""`offloadingConfig.metrics[]`: the autoscaling/v2 MetricSpec schema, as Kubernetes publishes it.

The schema is not modelled here field by field: it is copied from the Kubernetes
OpenAPI document (`autoscaling_v2_metricspec.yaml` beside this module), then made
structural for a CRD ($refs inlined, server-side defaults dropped, quantities as
int-or-string). `kubectl explain modeldeployment.spec.offloadingConfig.metrics`
therefore says what it says for an HPA. The only additions are what the HPA API
checks in Go and the CRD can check in CEL: the `type` enums, the one source that
matches `type`, the target types each source allows and a set target value, and the
maximum lengths of names, label keys and values and selector lists (`BOUNDS`), so a
ModelDeployment the API server accepts always gives an HPA it accepts too, and every
string and list a tenant writes is bounded.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

import yaml

from hooks.k8s.schema import LABEL_MAX, LIST_MAX, NAME_MAX, label_map

JSON = dict[str, Any]
_PREFIX = "io.k8s.api.autoscaling.v2."
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+"
    r"(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

SOURCES = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}
"""Each MetricSpec `type` and the field that holds its source."""
TARGET_TYPES = {
    "Resource": ("Utilization", "AverageValue"),
    "ContainerResource": ("Utilization", "AverageValue"),
    "Pods": ("AverageValue",),
    "Object": ("Value", "AverageValue"),
    "External": ("Value", "AverageValue"),
}
"""The target types the HPA accepts for each source."""
MAX_METRICS = 16
_QUALIFIED_NAME_MAX = 316
"""A resource name or label key: a DNS-subdomain prefix, `/`, a 63-character name."""
BOUNDS: dict[str, dict[str, JSON]] = {
    "CrossVersionObjectReference": {
        "apiVersion": {"maxLength": _QUALIFIED_NAME_MAX},
        "kind": {"maxLength": LABEL_MAX},
        "name": {"maxLength": NAME_MAX},
    },
    "MetricIdentifier": {"name": {"maxLength": NAME_MAX}},
    "ResourceMetricSource": {"name": {"maxLength": _QUALIFIED_NAME_MAX}},
    "ContainerResourceMetricSource": {
        "name": {"maxLength": _QUALIFIED_NAME_MAX},
        "container": {"maxLength": LABEL_MAX},
    },
    "LabelSelector": {
        "matchExpressions": {"maxItems": LIST_MAX},
        "matchLabels": label_map("matchLabels"),
    },
    "LabelSelectorRequirement": {
        "key": {"maxLength": _QUALIFIED_NAME_MAX},
        "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
        "values": {"maxItems": LIST_MAX, "items": {"type": "string", "maxLength": LABEL_MAX}},
    },
}
"""What the Go validation of an HPA (or the API server's limits) bounds and the published
schema leaves open, by schema name and field: added on top of the copy, so that every
string and list a tenant writes has a maximum."""


@cache
def openapi_components() -> dict[str, JSON]:
    """The copied OpenAPI schemas, by their OpenAPI name."""
    text = resources.files("hooks.offload").joinpath("autoscaling_v2_metricspec.yaml").read_text()
    loaded: dict[str, JSON] = yaml.safe_load(text)
    return loaded


def metric_spec_schema() -> JSON:
    """The structural schema of one MetricSpec, with the HPA's own rules added."""
    components = openapi_components()
    schema = _structural(components[_PREFIX + "MetricSpec"], components)
    schema["properties"]["type"]["enum"] = list(SOURCES)
    schema["x-kubernetes-validations"] = [
        {
            "rule": f"self.type == '{kind}' ? has(self.{field}) : !has(self.{field})",
            "message": f"{field} must be set when, and only when, type is {kind}",
        }
        for kind, field in SOURCES.items()
    ]
    for kind, field in SOURCES.items():
        source = schema["properties"][field]
        allowed = TARGET_TYPES[kind]
        source.setdefault("x-kubernetes-validations", []).append(
            {
                "rule": f"self.target.type in {list(allowed)}",
                "message": f"a {kind} metric's target type must be one of {', '.join(allowed)}",
            }
        )
        _target_rules(source["properties"]["target"])
    return schema


def _target_rules(target: JSON) -> None:
    target["properties"]["type"]["enum"] = ["Utilization", "Value", "AverageValue"]
    target["x-kubernetes-validations"] = [
        {
            "rule": "self.type != 'Utilization' || "
            "(has(self.averageUtilization) && self.averageUtilization > 0)",
            "message": "a Utilization target needs averageUtilization above 0",
        },
        {
            "rule": "self.type != 'Value' || has(self.value)",
            "message": "a Value target needs value",
        },
        {
            "rule": "self.type != 'AverageValue' || has(self.averageValue)",
            "message": "an AverageValue target needs averageValue",
        },
    ]
    for field in ("value", "averageValue"):
        target["properties"][field]["x-kubernetes-validations"] = [
            {
                "rule": "isQuantity(string(self)) && "
                "quantity(string(self)).isGreaterThan(quantity('0'))",
                "message": f"{field} must be a quantity above 0",
            }
        ]


def _structural(node: JSON, components: dict[str, JSON]) -> JSON:
    node = _inline(node, components)
    out: JSON = {}
    for key, value in node.items():
        if key == "default":
            # Defaults of the Go types; a CRD default must itself be valid, `{}` is not.
            continue
        if key == "properties":
            out[key] = {name: _structural(sub, components) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _structural(value, components)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _inline(node: JSON, components: dict[str, JSON]) -> JSON:
    """The referred schema with the referrer's own keys (its description) on top."""
    own = {k: v for k, v in node.items() if k != "allOf"}
    refs = [part["$ref"] for part in node.get("allOf", ()) if "$ref" in part]
    if "$ref" in own:
        refs.append(own.pop("$ref"))
    if not refs:
        return own
    name = refs[0].rsplit("/", 1)[-1]
    if name == _QUANTITY:
        quantity: JSON = {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            # Bounds the cost of the CEL rules on quantities.
            "maxLength": 64,
            "x-kubernetes-int-or-string": True,
        }
        return {**quantity, **{k: v for k, v in own.items() if k != "type"}}
    return {**_bounded(name, _inline(components[name], components)), **own}


def _bounded(name: str, schema: JSON) -> JSON:
    bounds = BOUNDS.get(name.rsplit(".", 1)[-1])
    if not bounds:
        return schema
    properties = {
        field: {**sub, **bounds.get(field, {})} for field, sub in schema["properties"].items()
    }
    return {**schema, "properties": properties}
