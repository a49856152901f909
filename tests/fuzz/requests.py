"""Hook requests as Metacontroller v2 sends them, for every controller of `hooks.systems`.

A target is a controller and the committed CRD of its parent kind (none for a
decorated core kind such as Node). A request carries a parent drawn from that CRD
(spec, a previous status, tenant labels and annotations, a name with dots or
leading digits), observed children of the controller's child kinds and related
objects of the kinds its own customize hook asks for, each with hostile
annotations, specs and statuses. Nothing here is written per system.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import yaml

from hooks.contract import LAST_APPLIED, CustomizeRequest
from hooks.registry import Controller, Resource
from hooks.settings import Settings
from tests.fuzz.checks import valid_name
from tests.fuzz.hostile import (
    NOW,
    annotations,
    chance,
    date_time,
    dns_label,
    dns_subdomain,
    free_json,
    labels,
    last_applied,
    shaped_spec,
    shaped_status,
)
from tests.fuzz.schema import value_of

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SCOPED = frozenset({"nodes", "namespaces", "persistentvolumes", "storageclasses"})
"""Core resources without a namespace; a project kind says its scope in its CRD."""


@dataclass(frozen=True)
class Crd:
    kind: str
    api_version: str
    plural: str
    namespaced: bool
    spec: dict[str, Any]
    status: dict[str, Any] | None

    @property
    def key(self) -> str:
        return f"{self.kind}.{self.api_version}"


def committed_crds(root: Path = REPO_ROOT) -> dict[str, Crd]:
    """The CRDs in `crds/`, by v2 map key (`Kind.group/version`)."""
    found = {}
    for path in sorted((root / "crds").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        for version in spec["versions"]:
            schema = version["schema"]["openAPIV3Schema"]["properties"]
            crd = Crd(
                kind=spec["names"]["kind"],
                api_version=f"{spec['group']}/{version['name']}",
                plural=spec["names"]["plural"],
                namespaced=spec["scope"] == "Namespaced",
                spec=schema.get("spec", {"type": "object"}),
                status=schema.get("status"),
            )
            found[crd.key] = crd
    return found


@dataclass(frozen=True)
class Target:
    """One controller to fuzz, with everything its requests are drawn from."""

    controller: Controller
    crds: dict[str, Crd]
    kinds: dict[tuple[str, str], Resource]
    """(apiVersion, plural) -> Resource, for the kinds of related rules."""
    keys: tuple[str, ...]

    @property
    def crd(self) -> Crd | None:
        return self.crds.get(self.controller.parent.key)

    @property
    def namespaced(self) -> bool:
        return _namespaced(self.controller.parent, self.crds)

    def routes(self) -> list[str]:
        return [f"/{self.controller.name}/{hook}" for hook in self.controller.hooks()]


def targets(
    controllers: Sequence[Controller], crds: dict[str, Crd], keys: tuple[str, ...]
) -> list[Target]:
    kinds: dict[tuple[str, str], Resource] = {}
    for controller in controllers:
        for resource in (controller.parent, *controller.children):
            kinds[(resource.api_version, resource.resource)] = resource
    for crd in crds.values():
        kinds.setdefault(
            (crd.api_version, crd.plural), Resource(crd.api_version, crd.plural, crd.kind)
        )
    return [Target(c, crds, kinds, keys) for c in controllers]


def _namespaced(resource: Resource, crds: dict[str, Crd]) -> bool:
    crd = crds.get(resource.key)
    return crd.namespaced if crd is not None else resource.resource not in CLUSTER_SCOPED


def metadata(
    rng: Random, keys: tuple[str, ...], *, name: str, namespace: str | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": f"00000000-0000-0000-0000-{rng.randrange(10**12):012d}",
        "resourceVersion": str(rng.randint(1, 10**6)),
        "generation": rng.choice((1, 2, 2**63 - 1)),
        "creationTimestamp": date_time(rng),
    }
    if namespace:
        meta["namespace"] = namespace
    found_labels, found_annotations = labels(rng, keys), annotations(rng, keys)
    if found_labels:
        meta["labels"] = found_labels
    if found_annotations:
        meta["annotations"] = found_annotations
    return meta


def object_of(
    rng: Random,
    target: Target,
    resource: Resource,
    *,
    name: str,
    namespace: str | None,
    selected: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One observed object of a kind: from its CRD when it is the project's, else shaped."""
    ns = namespace if _namespaced(resource, target.crds) else None
    meta = metadata(rng, target.keys, name=name, namespace=ns)
    if selected:
        meta["labels"] = {**meta.get("labels", {}), **selected}
    obj: dict[str, Any] = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": meta,
    }
    crd = target.crds.get(resource.key)
    if crd is not None:
        obj["spec"] = value_of(rng, crd.spec)
        if crd.status is not None and chance(rng, 2):
            obj["status"] = value_of(rng, crd.status)
    else:
        obj["spec"] = shaped_spec(rng)
        obj["status"] = shaped_status(rng)
    if chance(rng, 4):
        body = {k: v for k, v in obj.items() if k != "status"}
        meta.setdefault("annotations", {})[LAST_APPLIED] = last_applied(rng, body)
    _fit_annotations(meta)
    return obj


ANNOTATIONS_MAX = 256 * 1024
"""The API server refuses an object whose annotations are larger in total."""


def _fit_annotations(meta: dict[str, Any]) -> None:
    found = meta.get("annotations") or {}
    while sum(len(k) + len(v) for k, v in found.items()) > ANNOTATIONS_MAX:
        del found[max(found, key=lambda k: len(found[k]))]


def parent_of(rng: Random, target: Target, *, deleting: bool) -> dict[str, Any]:
    resource = target.controller.parent
    namespace = dns_label(rng) if target.namespaced else None
    parent = object_of(rng, target, resource, name=dns_subdomain(rng), namespace=namespace)
    if target.crd is not None:
        shape = rng.randrange(20)
        if shape == 0:
            parent.pop("spec")
        elif shape == 1:
            parent["spec"] = free_json(rng)
    if deleting:
        parent["metadata"]["deletionTimestamp"] = date_time(rng)
        parent["metadata"]["finalizers"] = [f"metacontroller.io/{target.controller.name}"]
    return parent


def object_map(objects: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Objects keyed as v2 does: kind key, then `namespace/name` or `name`."""
    result: dict[str, dict[str, Any]] = {}
    for obj in objects:
        meta = obj["metadata"]
        inner = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        result.setdefault(f"{obj['kind']}.{obj['apiVersion']}", {})[inner] = obj
    return result


def _name_for(rng: Random, kind: str, own: str) -> str:
    """A name the API server lets an object of that kind have: often the parent's."""
    for candidate in (own, own[:63].rstrip("-."), dns_subdomain(rng), dns_label(rng)):
        if valid_name(kind, candidate) and chance(rng, 2):
            return candidate
    return (
        "a" + dns_label(rng)[:61].rstrip("-")
        if kind in ("Service", "Namespace")
        else dns_label(rng)
    )


def children_of(rng: Random, target: Target, parent: dict[str, Any]) -> dict[str, Any]:
    namespace = parent["metadata"].get("namespace")
    own = parent["metadata"]["name"]
    found = [
        object_of(rng, target, child, name=_name_for(rng, child.kind, own), namespace=namespace)
        for child in target.controller.children
        for _ in range(rng.randint(0, 2))
    ]
    observed: dict[str, Any] = {child.key: {} for child in target.controller.children}
    observed.update(object_map(found))
    return observed


def related_of(rng: Random, target: Target, parent: dict[str, Any]) -> dict[str, Any]:
    """Objects of the kinds the controller's customize hook asks for, matching its rules."""
    customize = target.controller.customize
    if customize is None:
        return {}
    try:
        request = CustomizeRequest.model_validate({"parent": parent})
        rules = customize(request, now=NOW, settings=Settings()).related_resources
    except Exception:
        return {}
    namespace = parent["metadata"].get("namespace")
    own = parent["metadata"]["name"]
    found: list[dict[str, Any]] = []
    for rule in rules:
        resource = target.kinds.get((rule.api_version, rule.resource))
        if resource is None:
            continue
        selected = rule.label_selector.match_labels if rule.label_selector else None
        for _ in range(rng.randint(0, 3)):
            name = rng.choice(rule.names) if rule.names else _name_for(rng, resource.kind, own)
            where = rule.namespace or (namespace if chance(rng, 2) else dns_label(rng))
            found.append(
                object_of(rng, target, resource, name=name, namespace=where, selected=selected)
            )
    return object_map(found)


def hook_request(rng: Random, target: Target) -> tuple[str, dict[str, Any]]:
    """(route, body) for one of the target's hooks."""
    hook = rng.choice(sorted(target.controller.hooks()))
    parent = parent_of(rng, target, deleting=hook == "finalize" or chance(rng, 10))
    route = f"/{target.controller.name}/{hook}"
    if hook == "customize":
        return route, {"controller": {}, "parent": parent}
    related = related_of(rng, target, parent)
    finalizing = "deletionTimestamp" in parent["metadata"]
    body: dict[str, Any]
    if target.controller.kind == "DecoratorController":
        body = {"controller": {}, "object": parent, "attachments": {}, "related": related}
    else:
        children = children_of(rng, target, parent)
        body = {"controller": {}, "parent": parent, "children": children, "related": related}
    body["finalizing"] = finalizing
    return route, body


def fed_back(body: dict[str, Any], answer: dict[str, Any], decorator: bool) -> dict[str, Any]:
    """The next request after Metacontroller applied an answer: its children observed
    (with the last-applied annotation it writes), its status and labels on the parent."""
    body = json.loads(json.dumps(body))
    if decorator:
        obj = body["object"]
        meta = obj["metadata"]
        for field in ("labels", "annotations"):
            merged = {**meta.get(field, {}), **(answer.get(field) or {})}
            meta[field] = {k: v for k, v in merged.items() if v is not None}
        if answer.get("status") is not None:
            obj["status"] = answer["status"]
        return body
    parent = body["parent"]
    namespace = parent["metadata"].get("namespace")
    observed = []
    for child in answer.get("children") or []:
        applied = json.loads(json.dumps(child))
        meta = applied.setdefault("metadata", {})
        if namespace and "namespace" not in meta:
            meta["namespace"] = namespace
        meta.setdefault("annotations", {})[LAST_APPLIED] = json.dumps(child, sort_keys=True)
        observed.append(applied)
    children = {key: {} for key in body["children"]}
    children.update(object_map(observed))
    body["children"] = children
    if "status" in answer:
        parent["status"] = answer["status"]
    return body
