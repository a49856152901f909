"""Pure helpers: label selectors, object-map keys and Metacontroller's 3-way merge."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics; a missing selector matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def selector_query(selector: Mapping[str, Any] | None) -> str:
    """The `labelSelector` query parameter of a metav1.LabelSelector."""
    if not selector:
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression["key"], expression["operator"]
        values = ",".join(expression.get("values") or [])
        terms.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[operator]
        )
    return ",".join(terms)


def map_key(api_version: str, kind: str) -> str:
    """The v2 object-map key: `Deployment.apps/v1`, `Service.v1`."""
    return f"{kind}.{api_version}"


def object_key(obj: Mapping[str, Any]) -> str:
    """The v2 inner key: `namespace/name`, or `name` for cluster-scoped objects."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


def three_way_merge(observed: JSON, last_applied: JSON, desired: JSON) -> JSON:
    """Observed with the fields of desired set, and the fields that were last applied
    but are no longer desired removed; fields set by others are kept. Lists are
    replaced whole. This is how Metacontroller's default apply updates children."""
    result = copy.deepcopy(observed)
    for key in last_applied:
        if key not in desired:
            result.pop(key, None)
    for key, value in desired.items():
        old = result.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            previous = last_applied.get(key)
            result[key] = three_way_merge(
                old, previous if isinstance(previous, dict) else {}, value
            )
        else:
            result[key] = copy.deepcopy(value)
    return result


def with_last_applied(desired: JSON) -> JSON:
    """Desired with the annotation that records it, for the next 3-way merge."""
    recorded = copy.deepcopy(desired)
    annotations = recorded.setdefault("metadata", {}).setdefault("annotations", {})
    annotations.pop(LAST_APPLIED, None)
    text = json.dumps(recorded, sort_keys=True, separators=(",", ":"))
    out = copy.deepcopy(desired)
    out.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = text
    return out


def last_applied_of(observed: Mapping[str, Any]) -> JSON:
    text = ((observed.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}
