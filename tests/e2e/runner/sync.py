"""One sync of one parent (CompositeController) or decorated object (DecoratorController).

The order follows Metacontroller v4.17.2: finalizer, observed children, related
objects, the hook, the resync request, finalizer removal, children, status.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.e2e.runner import hooks
from tests.e2e.runner.api import Api, ApiError, Kind
from tests.e2e.runner.merge import (
    JSON,
    last_applied_of,
    map_key,
    object_key,
    selector_matches,
    three_way_merge,
    with_last_applied,
)

DECORATOR_ANNOTATION = "metacontroller.k8s.io/decorator-controller"
Lister = Callable[[Kind, str | None, JSON | None], list[JSON]]


@dataclass(frozen=True)
class ChildRule:
    kind: Kind
    method: str

    @property
    def key(self) -> str:
        return map_key(self.kind.api_version, self.kind.kind)


def child_rules(api: Api, rules: list[JSON]) -> list[ChildRule]:
    return [
        ChildRule(
            api.kind(r["apiVersion"], r["resource"]),
            (r.get("updateStrategy") or {}).get("method", "OnDelete"),
        )
        for r in rules
    ]


def finalizer_name(controller: JSON) -> str:
    kind = controller["kind"].lower()
    return f"metacontroller.io/{kind}-{controller['metadata']['name']}"


def _meta(obj: JSON) -> JSON:
    metadata: JSON = obj.setdefault("metadata", {})
    return metadata


def owner_reference(parent: JSON) -> JSON:
    return {
        "apiVersion": parent["apiVersion"],
        "kind": parent["kind"],
        "name": parent["metadata"]["name"],
        "uid": parent["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: JSON, parent: JSON) -> bool:
    return any(
        ref.get("controller") and ref.get("uid") == parent["metadata"]["uid"]
        for ref in obj["metadata"].get("ownerReferences") or ()
    )


def related_objects(api: Api, lister: Lister, rules: list[JSON]) -> dict[str, dict[str, JSON]]:
    """Objects selected by customize rules, keyed as v2 does (any namespace)."""
    related: dict[str, dict[str, JSON]] = {}
    namespaces: dict[str, JSON] | None = None
    for rule in rules:
        kind = api.kind(rule["apiVersion"], rule["resource"])
        bucket = related.setdefault(map_key(kind.api_version, kind.kind), {})
        namespace = rule.get("namespace") if kind.namespaced else None
        for obj in lister(kind, namespace or None, rule.get("labelSelector")):
            if rule.get("names") and obj["metadata"]["name"] not in rule["names"]:
                continue
            if rule.get("namespaceSelector") is not None:
                if namespaces is None:
                    namespaces = {
                        n["metadata"]["name"]: n
                        for n in lister(api.kind("v1", "namespaces"), None, None)
                    }
                home = namespaces.get(obj["metadata"].get("namespace", ""), {"metadata": {}})
                labels = home["metadata"].get("labels") or {}
                if not selector_matches(rule["namespaceSelector"], labels):
                    continue
            bucket[object_key(obj)] = obj
    return related


def manage_children(
    api: Api,
    parent: JSON,
    rules: list[ChildRule],
    observed: dict[str, dict[str, JSON]],
    desired: list[JSON],
    *,
    labels: dict[str, str],
    annotations: dict[str, str],
) -> None:
    """Create, update (per update strategy) and delete children toward the desired set."""
    namespace = parent["metadata"].get("namespace")
    by_key = {rule.key: rule for rule in rules}
    wanted: dict[str, dict[str, JSON]] = {key: {} for key in by_key}
    for original in desired:
        child = copy.deepcopy(original)
        key = map_key(child["apiVersion"], child["kind"])
        if key not in by_key:
            raise ValueError(f"hook returned {key}, which the controller does not declare")
        meta = _meta(child)
        if by_key[key].kind.namespaced and not meta.get("namespace"):
            meta["namespace"] = namespace
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
        if annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        meta["ownerReferences"] = [owner_reference(parent)]
        wanted[key][object_key(child)] = child
    for key, rule in by_key.items():
        have = observed.get(key, {})
        for inner, want in sorted(wanted[key].items()):
            current = have.get(inner)
            if current is None:
                api.create(rule.kind, with_last_applied(want))
            elif rule.method in ("InPlace", "RollingInPlace"):
                merged = three_way_merge(current, last_applied_of(current), with_last_applied(want))
                if merged != current:
                    api.update(rule.kind, merged)
            elif rule.method in ("Recreate", "RollingRecreate") and last_applied_of(
                current
            ) != last_applied_of(with_last_applied(want)):
                meta = current["metadata"]
                api.delete(rule.kind, meta.get("namespace"), meta["name"])
        for inner, current in sorted(have.items()):
            if inner not in wanted[key] and not current["metadata"].get("deletionTimestamp"):
                meta = current["metadata"]
                api.delete(rule.kind, meta.get("namespace"), meta["name"])


def set_finalizer(api: Api, kind: Kind, obj: JSON, name: str, present: bool) -> JSON:
    finalizers = list(obj["metadata"].get("finalizers") or [])
    if (name in finalizers) == present:
        return obj
    finalizers = [*finalizers, name] if present else [f for f in finalizers if f != name]
    patch = {
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": obj["metadata"]["resourceVersion"],
        }
    }
    meta = obj["metadata"]
    return api.merge_patch(kind, meta.get("namespace"), meta["name"], patch)


def update_status(api: Api, kind: Kind, obj: JSON, status: JSON | None, *, inject: bool) -> None:
    """Replace the status wholesale (with observedGeneration when asked); skip when equal."""
    new = dict(status or {})
    if inject:
        new["observedGeneration"] = obj["metadata"].get("generation")
    if obj.get("status") == new:
        return
    try:
        api.update(kind, {**obj, "status": new}, status=True)
    except ApiError as error:
        if error.status not in (404, 409):
            raise


def _start(api: Api, controller: JSON, kind: Kind, obj: JSON) -> tuple[JSON, bool] | None:
    """Add the finalizer when the controller finalizes; None when there is nothing to do
    (deleted, and no finalizer of ours holds the object)."""
    name = finalizer_name(controller)
    deleting = bool(obj["metadata"].get("deletionTimestamp"))
    finalizes = "finalize" in controller["spec"]["hooks"]
    if deleting and (not finalizes or name not in (obj["metadata"].get("finalizers") or [])):
        return None
    if finalizes and not deleting:
        obj = set_finalizer(api, kind, obj, name, True)
    return obj, deleting


def _call_and_finalize(
    api: Api,
    client: httpx.Client,
    controller: JSON,
    kind: Kind,
    obj: JSON,
    body: JSON,
    fields: frozenset[str],
) -> JSON:
    """Call sync (or finalize while deleting); drop the finalizer once it says finalized."""
    hook = controller["spec"]["hooks"]["finalize" if body["finalizing"] else "sync"]
    answer = hooks.call(client, hook, body, fields)
    if body["finalizing"] and answer.get("finalized"):
        set_finalizer(api, kind, obj, finalizer_name(controller), False)
    return answer


def sync_composite(
    api: Api,
    client: httpx.Client,
    controller: JSON,
    parent_kind: Kind,
    parent: JSON,
    observed: dict[str, dict[str, JSON]],
    related: dict[str, dict[str, JSON]],
) -> float | None:
    spec = controller["spec"]
    started = _start(api, controller, parent_kind, parent)
    if started is None:
        return None
    parent, deleting = started
    body = {
        "controller": controller,
        "parent": parent,
        "children": observed,
        "related": related,
        "finalizing": deleting,
    }
    answer = _call_and_finalize(
        api, client, controller, parent_kind, parent, body, hooks.COMPOSITE_FIELDS
    )
    rules = child_rules(api, spec.get("childResources") or [])
    labels = {"controller-uid": parent["metadata"]["uid"]} if spec.get("generateSelector") else {}
    manage_children(
        api, parent, rules, observed, answer.get("children") or [], labels=labels, annotations={}
    )
    update_status(api, parent_kind, parent, answer.get("status"), inject=True)
    resync = answer.get("resyncAfterSeconds")
    return float(resync) if resync else None


def sync_decorator(
    api: Api,
    client: httpx.Client,
    controller: JSON,
    kind: Kind,
    obj: JSON,
    attachments: dict[str, dict[str, JSON]],
    related: dict[str, dict[str, JSON]],
) -> float | None:
    spec = controller["spec"]
    started = _start(api, controller, kind, obj)
    if started is None:
        return None
    obj, deleting = started
    body = {
        "controller": controller,
        "object": obj,
        "attachments": attachments,
        "related": related,
        "finalizing": deleting,
    }
    answer = _call_and_finalize(api, client, controller, kind, obj, body, hooks.DECORATOR_FIELDS)
    meta = obj["metadata"]
    patch: JSON = {}
    for field in ("labels", "annotations"):
        current = meta.get(field) or {}
        change = {
            key: value
            for key, value in (answer.get(field) or {}).items()
            if (value is None and key in current)
            or (value is not None and current.get(key) != value)
        }
        if change:
            patch[field] = change
    if patch:
        obj = api.merge_patch(kind, meta.get("namespace"), meta["name"], {"metadata": patch})
    rules = child_rules(api, spec.get("attachments") or [])
    manage_children(
        api,
        obj,
        rules,
        attachments,
        answer.get("attachments") or [],
        labels={},
        annotations={DECORATOR_ANNOTATION: controller["metadata"]["name"]},
    )
    if answer.get("status") is not None:
        update_status(api, kind, obj, answer["status"], inject=False)
    resync = answer.get("resyncAfterSeconds")
    return float(resync) if resync else None
