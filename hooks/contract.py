"""The Metacontroller hook contract, version v2: the boundary of the project.

Requests are parsed leniently (Metacontroller and the API server add fields);
responses are strict and carry only the fields Metacontroller v2 decodes, since
it rejects unknown fields. Object maps are keyed as v2 sends them:
`<Kind>.<group>/<version>` (or `<Kind>.<version>` for the core group), then
`<namespace>/<name>` (or `<name>` for cluster-scoped objects).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from hooks.k8s.objects import JSON, annotations_of, meta, sort_objects

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
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()


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
    last_applied = annotations_of(observed).get(LAST_APPLIED)
    if last_applied:
        parsed = json.loads(last_applied)
        if isinstance(parsed, dict):
            return parsed
    metadata = {k: v for k, v in meta(observed).items() if k not in _SERVER_METADATA}
    body = {k: v for k, v in observed.items() if k not in ("metadata", "status")}
    return {**body, "metadata": metadata}


class CompositeResponse(_Response):
    """Answer of a CompositeController sync or finalize hook.

    `children` is the complete desired set and is always serialised.
    """

    status: JSON | None = None
    children: list[JSON] = Field(default_factory=list)
    resync_after_seconds: float | None = None
    finalized: bool | None = None


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
