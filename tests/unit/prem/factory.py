"""AIDeployment and AIModelMap objects and hook calls for the prem tests."""

from __future__ import annotations

import copy
from typing import Any

from hooks.contract import CompositeRequest, DecoratorRequest
from hooks.prem import aideployment, modelmap
from hooks.settings import Settings
from tests.conftest import NOW

JSON = dict[str, Any]
API_VERSION = "premlabs.io/v1alpha1"
MAPS_KEY = f"AIModelMap.{API_VERSION}"
DEPLOYMENTS_KEY = "Deployment.apps/v1"


def ai_deployment(spec: JSON, name: str = "demo", namespace: str = "default", **meta: Any) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": "AIDeployment",
        "metadata": {"name": name, "namespace": namespace, "generation": 1, "uid": "u1", **meta},
        "spec": spec,
    }


def model_map(spec: JSON, name: str = "catalog", namespace: str = "default") -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": "AIModelMap",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": spec,
    }


def sync(parent: JSON, *, maps: tuple[JSON, ...] = (), children: tuple[JSON, ...] = ()) -> JSON:
    """The sync answer, as JSON, for a parent with related maps and observed children."""
    observed: dict[str, dict[str, JSON]] = {}
    for child in children:
        key = f"{child['kind']}.{child['apiVersion']}"
        meta = child["metadata"]
        observed.setdefault(key, {})[f"{meta.get('namespace', '')}/{meta['name']}"] = child
    related = {MAPS_KEY: {f"{m['metadata']['namespace']}/{m['metadata']['name']}": m for m in maps}}
    request = CompositeRequest.model_validate(
        {"parent": parent, "children": observed, "related": related}
    )
    return aideployment.sync(request, now=NOW, settings=Settings()).to_json()


def sync_map(parent: JSON, users: tuple[JSON, ...] = ()) -> JSON:
    related = {
        f"AIDeployment.{API_VERSION}": {
            f"{u['metadata']['namespace']}/{u['metadata']['name']}": u for u in users
        }
    }
    request = CompositeRequest.model_validate({"parent": parent, "related": related})
    return modelmap.sync(request, now=NOW, settings=Settings()).to_json()


def label_maps(obj: JSON) -> JSON:
    request = DecoratorRequest.model_validate({"object": obj})
    return aideployment.label_maps(request, now=NOW, settings=Settings()).to_json()


def child(answer: JSON, kind: str) -> JSON:
    found = [c for c in answer["children"] if c["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} children"
    return found[0]


def serving(answer: JSON) -> JSON:
    container: JSON = child(answer, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "serving"
    return container


def condition(answer: JSON, type_: str) -> JSON:
    found = [c for c in answer["status"]["conditions"] if c["type"] == type_]
    assert found, f"no {type_} condition"
    return found[0]


def observed(desired: JSON, status: JSON | None = None) -> JSON:
    """A child as the API server would return it, with a status."""
    obj = copy.deepcopy(desired)
    obj["metadata"]["uid"] = f"uid-{obj['metadata']['name']}"
    obj["metadata"]["resourceVersion"] = "7"
    if status is not None:
        obj["status"] = status
    return obj
