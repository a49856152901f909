"""The Metacontroller hook contract, version v2: the boundary of the project.

Requests are parsed leniently (Metacontroller and the API server add fields);
responses are strict and carry only the fields Metacontroller v2 decodes, since
it rejects unknown fields. Object maps are keyed as v2 sends them:
`<Kind>.<group>/<version>` (or `<Kind>.<version>` for the core group), then
`<namespace>/<name>` (or `<name>` for cluster-scoped objects).

Observed children are tenant-editable, their last-applied annotation included: a
child is kept as last applied only when that annotation is the same whole object,
else as observed; one that is not a whole object either cannot be re-emitted, and
the hook fails (HTTP 500) so Metacontroller keeps everything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pydantic_core
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from hooks.k8s.objects import JSON, annotations_of, meta, sort_objects

log = logging.getLogger(__name__)
ObjectMap = dict[str, dict[str, JSON]]
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"
# Server-populated metadata that a kept child must not carry back.
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "ownerReferences",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
MAX_RESYNC_SECONDS = 86400.0
"""A longer wait is a day: Metacontroller turns seconds into int64 nanoseconds."""


class KeptChildError(ValueError):
    """An observed child is not a whole object, so it cannot be answered as kept."""


def resource_key(api_version: str, kind: str) -> str:
    """The v2 map key of a kind: `Deployment.apps/v1`, `Service.v1`."""
    return f"{kind}.{api_version}"


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    def to_json(self) -> JSON:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_bytes(self) -> bytes:
        """Compact JSON with sorted keys; pydantic-core's encoder, since an answer can carry
        a megabyte of a tenant's spec and the standard one takes tens of milliseconds."""
        return pydantic_core.to_json(_sorted_keys(self.to_json()))


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def _objects(objects: ObjectMap, key: str) -> list[JSON]:
    return sort_objects((objects.get(key) or {}).values())


class CompositeRequest(_Request):
    """Sync and finalize request of a CompositeController."""

    controller: JSON = Field(default_factory=dict)
    parent: JSON
    children: ObjectMap = Field(default_factory=dict)
    related: ObjectMap = Field(default_factory=dict)
    finalizing: bool = False

    def children_of(self, key: str) -> list[JSON]:
        """Observed children of one kind (a `resource_key`), sorted."""
        return _objects(self.children, key)

    def related_of(self, key: str) -> list[JSON]:
        """Related objects of one kind (a `resource_key`), sorted."""
        return _objects(self.related, key)

    def kept_children(self) -> list[JSON]:
        """The observed children as last desired: what to answer when the hook cannot decide.

        Metacontroller deletes every child not in the answer, so a hook that
        understands the spec to be invalid answers these to change nothing.
        """
        kept = [last_desired(obj) for objs in self.children.values() for obj in objs.values()]
        return sort_objects(kept)


def last_desired(observed: Mapping[str, Any]) -> JSON:
    """An observed child as the hook last desired it (its last-applied configuration, or
    the object without server-populated fields): how to keep one child unchanged."""
    applied = _last_applied(observed)
    if applied is not None:
        return applied
    metadata = {k: v for k, v in meta(observed).items() if k not in _SERVER_METADATA}
    annotations = {k: v for k, v in annotations_of(observed).items() if k != LAST_APPLIED}
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    body = {k: v for k, v in observed.items() if k not in ("metadata", "status")}
    kept = {**body, "metadata": metadata}
    if not _whole(kept):
        raise KeptChildError(f"an observed child is not a whole object: {_identity(observed)}")
    return kept


def _last_applied(observed: Mapping[str, Any]) -> JSON | None:
    """The child as last applied, when its annotation is that same whole object."""
    text = annotations_of(observed).get(LAST_APPLIED)
    if text is None:
        return None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict) and _whole(parsed) and _same(parsed, observed):
        return parsed
    log.warning(
        "ignoring a last-applied annotation that is not this object",
        extra={"child": "/".join(_identity(observed))},
    )
    return None


def _whole(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata")
    return (
        all(isinstance(obj.get(k), str) and obj.get(k) for k in ("apiVersion", "kind"))
        and isinstance(metadata, Mapping)
        and isinstance(metadata.get("name"), str)
        and bool(metadata.get("name"))
    )


def _same(applied: Mapping[str, Any], observed: Mapping[str, Any]) -> bool:
    """The same kind and name; a namespace left out is the parent's, as Metacontroller applies."""
    mine, theirs = _identity(applied), _identity(observed)
    return mine[:2] == theirs[:2] and mine[3] == theirs[3] and mine[2] in ("", theirs[2])


def _identity(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = meta(obj)
    return (
        str(obj.get("apiVersion", "")),
        str(obj.get("kind", "")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name", "")),
    )


class CompositeResponse(_Response):
    """Answer of a CompositeController sync or finalize hook.

    `children` is the complete desired set and is always serialised.
    """

    status: JSON | None = None
    children: list[JSON] = Field(default_factory=list)
    resync_after_seconds: float | None = None
    finalized: bool | None = None

    _bounded_resync = field_validator("resync_after_seconds")(lambda v: _bounded_resync(v))


def _bounded_resync(value: float | None) -> float | None:
    """Within [0, a day]: the hook's clock arithmetic may ask for years."""
    return None if value is None else min(max(value, 0.0), MAX_RESYNC_SECONDS)


class DecoratorRequest(_Request):
    """Sync and finalize request of a DecoratorController.

    The decorated object arrives as `object` (documented) or `parent` (newer
    releases); attachments as `attachments` or `children`.
    """

    controller: JSON = Field(default_factory=dict)
    object: JSON = Field(validation_alias=AliasChoices("object", "parent"))
    attachments: ObjectMap = Field(
        default_factory=dict, validation_alias=AliasChoices("attachments", "children")
    )
    related: ObjectMap = Field(default_factory=dict)
    finalizing: bool = False

    def related_of(self, key: str) -> list[JSON]:
        return _objects(self.related, key)


class DecoratorResponse(_Response):
    """Answer of a DecoratorController hook; a `None` label or annotation deletes that key."""

    labels: dict[str, str | None] | None = None
    annotations: dict[str, str | None] | None = None
    status: JSON | None = None
    attachments: list[JSON] = Field(default_factory=list)
    resync_after_seconds: float | None = None
    finalized: bool | None = None

    _bounded_resync = field_validator("resync_after_seconds")(lambda v: _bounded_resync(v))

    def to_json(self) -> JSON:
        # exclude_none would drop the nulls that delete labels and annotations.
        body = super().to_json()
        for field in ("labels", "annotations"):
            value = getattr(self, field)
            if value is not None:
                body[field] = dict(sorted(value.items()))
        return body


class CustomizeRequest(_Request):
    """Customize request: the parent (or decorated object) whose related objects are asked for."""

    controller: JSON = Field(default_factory=dict)
    parent: JSON = Field(validation_alias=AliasChoices("parent", "object"))


class LabelSelector(_Response):
    match_labels: dict[str, str] | None = None
    match_expressions: list[JSON] | None = None


class RelatedResourceRule(_Response):
    """One kind of related object: by label selector, or by `names` (not both)."""

    api_version: str
    resource: str
    label_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    namespace: str | None = None
    names: list[str] | None = None


class CustomizeResponse(_Response):
    related_resources: list[RelatedResourceRule] = Field(default_factory=list)
