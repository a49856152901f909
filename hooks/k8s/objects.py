"""Reading observed Kubernetes objects and building fresh child objects.

Children are built from scratch with only the fields this project owns; observed
objects are read through these helpers, which tolerate any missing field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MANAGED_BY = "aihooks"

JSON = dict[str, Any]


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("namespace") or "")


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (meta(obj).get("labels") or {}).items()}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (meta(obj).get("annotations") or {}).items()}


def generation_of(obj: Mapping[str, Any]) -> int | None:
    value = meta(obj).get("generation")
    return value if isinstance(value, int) else None


def field_at(obj: object, *path: str) -> Any:
    """The value at path through nested mappings; None where a step is missing or not one.

    Observed objects are read with this: a tenant can give any field any shape."""
    value: Any = obj
    for step in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


INT32_MAX = 2**31 - 1


def count_at(obj: object, *path: str, default: int = 0) -> int:
    """A count at path (replicas, pods: int32 in Kubernetes), else default."""
    value = field_at(obj, *path)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT32_MAX:
        return default
    return value


def is_deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def ref_of(obj: Mapping[str, Any]) -> str:
    """`Kind namespace/name`, for log lines and messages."""
    namespace = namespace_of(obj)
    where = f"{namespace}/{name_of(obj)}" if namespace else name_of(obj)
    return f"{obj.get('kind', '?')} {where}"


def standard_labels(
    *, name: str, instance: str, component: str, part_of: str | None = None
) -> dict[str, str]:
    """The recommended `app.kubernetes.io/*` labels for a child."""
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if part_of:
        labels["app.kubernetes.io/part-of"] = part_of
    return labels


def new_object(
    api_version: str,
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> JSON:
    """A fresh object with sorted labels and annotations and no other metadata."""
    metadata: JSON = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(sorted(labels.items()))
    if annotations:
        metadata["annotations"] = dict(sorted(annotations.items()))
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def sort_objects(objects: Iterable[JSON]) -> list[JSON]:
    """Objects in a stable order: by apiVersion, kind, namespace, name."""
    return sorted(
        objects,
        key=lambda o: (o.get("apiVersion", ""), o.get("kind", ""), namespace_of(o), name_of(o)),
    )


def matches_selector(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    """True when every pair of an equality selector is among the labels."""
    return all(labels.get(key) == value for key, value in selector.items())
