"""What a sync sees: the request turned into small frozen views.

The parent, its observed Deployment and the related objects (the pool's Nodes,
the pool's Deployments, the InferenceModels of the pool and of the namespace)
become `Model`, `Claim` and a budget. Objects are read leniently: a peer whose
spec does not parse is left out of the queue, but its Deployment still counts
against the budget, so a bad peer can only make admission more careful.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from hooks.contract import CompositeRequest, resource_key
from hooks.k8s.model import describe_errors
from hooks.k8s.names import stable_hash
from hooks.k8s.objects import (
    JSON,
    annotations_of,
    count_at,
    is_deleting,
    labels_of,
    meta,
    name_of,
    namespace_of,
)
from hooks.k8s.quantity import QuantityError, parse_bytes

from .api import (
    API_VERSION,
    KIND,
    LAST_REQUEST_ANNOTATION,
    MANAGED_LABEL,
    MEMORY_ANNOTATION,
    POOL_LABEL,
    InferenceModelSpec,
)
from .budget import pool_budget
from .children import deployment_name
from .demand import DEFAULT_COOLDOWN, Demand, newest, parse_duration, parse_time

log = logging.getLogger(__name__)
MODELS_KEY = resource_key(API_VERSION, KIND)
DEPLOYMENTS_KEY = resource_key("apps/v1", "Deployment")
NODES_KEY = resource_key("v1", "Node")


def pool_id(node_selector: Mapping[str, str]) -> str:
    """The pool label value: a stable hash of the whole selector, order-independent."""
    return _pool_hash(tuple(sorted(node_selector.items())))


@lru_cache(maxsize=1024)
def _pool_hash(pairs: tuple[tuple[str, str], ...]) -> str:
    # Pure and called once per related model: memoised so a pool of 1,000 costs one hash.
    return stable_hash(json.dumps(pairs, separators=(",", ":")), 16)


memory_bytes = lru_cache(maxsize=1024)(parse_bytes)
"""Bytes of a memory quantity; memoised, since a pool repeats a few sizes many times."""


def pool_text(node_selector: Mapping[str, str]) -> str:
    """The pool as people read it: `k=v` pairs sorted by key."""
    pairs = ",".join(f"{k}={v}" for k, v in sorted(node_selector.items()))
    return pairs or "(every node)"


def model_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


@dataclass(frozen=True, slots=True)
class Model:
    """One InferenceModel as admission and dependencies see it."""

    key: str
    name: str
    spec: InferenceModelSpec
    pool: str
    labelled: bool
    """Its pool label is the pool of its spec: its peers can see it."""
    memory: int
    cooldown: timedelta | None
    """None when `cooldownPeriod` is not a usable duration."""
    demand: Demand
    ready: bool
    deleting: bool

    @property
    def managed(self) -> bool:
        """The controller runs its backend (it has a `containerImage`)."""
        return bool(self.spec.container_image)


def spec_problem(obj: Mapping[str, Any]) -> str:
    """Why an InferenceModel's spec cannot be read, naming the field."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return "spec: must be an object"
    try:
        memory_bytes(InferenceModelSpec.model_validate(spec).memory)
    except ValidationError as error:
        return describe_errors(error, limit=1)
    except QuantityError as error:
        return f"spec.memory: {error}"
    return "spec: cannot be read"


def read_spec(obj: Mapping[str, Any]) -> InferenceModelSpec | None:
    """The spec, or None when it does not parse (customize and the pool label need no more)."""
    spec = obj.get("spec")
    try:
        return InferenceModelSpec.model_validate(spec if isinstance(spec, Mapping) else {})
    except ValidationError:
        return None


def read_model(obj: Mapping[str, Any]) -> Model | None:
    """The view of an InferenceModel, or None when its spec does not parse."""
    try:
        spec = InferenceModelSpec.model_validate(obj.get("spec"))
        memory = memory_bytes(spec.memory)
    except (ValidationError, QuantityError):
        return None
    namespace, name = namespace_of(obj), name_of(obj)
    key = model_key(namespace, name)
    cooldown = parse_duration(spec.cooldown_period)
    last = newest(
        parse_time(annotations_of(obj).get(LAST_REQUEST_ANNOTATION)),
        parse_time(meta(obj).get("creationTimestamp")),
    )
    pool = pool_id(spec.node_selector)
    status = obj.get("status")
    deleting = is_deleting(obj)
    return Model(
        key=key,
        name=name,
        spec=spec,
        pool=pool,
        labelled=labels_of(obj).get(POOL_LABEL) == pool,
        memory=memory,
        cooldown=cooldown,
        demand=Demand(
            key=key,
            namespace=namespace,
            model_name=spec.model_name,
            dependencies=tuple(spec.dependencies),
            last=last,
            cooldown=cooldown if cooldown is not None else DEFAULT_COOLDOWN,
            deleting=deleting,
        ),
        ready=isinstance(status, Mapping) and status.get("ready") is True,
        deleting=deleting,
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """A model's Deployment as the budget sees it."""

    key: str
    """The owning InferenceModel (`namespace/name`)."""
    pool: str
    memory: int
    """What it was admitted with (its `inference.eh-ops.io/memory` annotation)."""
    replicas: int
    pods: int
    ready_pods: int

    @property
    def occupying(self) -> bool:
        """It wants pods or still has some: its memory is not free."""
        return self.replicas > 0 or self.pods > 0


def read_claim(deployment: Mapping[str, Any]) -> Claim:
    try:
        memory = memory_bytes(annotations_of(deployment).get(MEMORY_ANNOTATION, "0"))
    except QuantityError as error:
        log.warning(
            "ignoring a Deployment's memory claim that is not a quantity",
            extra={
                "deployment": model_key(namespace_of(deployment), name_of(deployment)),
                "error": str(error),
            },
        )
        memory = 0
    return Claim(
        key=model_key(namespace_of(deployment), owner_of(deployment)),
        pool=labels_of(deployment).get(POOL_LABEL, ""),
        memory=memory,
        replicas=count_at(deployment, "spec", "replicas", default=1),
        pods=count_at(deployment, "status", "replicas"),
        ready_pods=count_at(deployment, "status", "readyReplicas"),
    )


def owner_of(deployment: Mapping[str, Any]) -> str:
    """The name of the InferenceModel a Deployment belongs to."""
    for ref in meta(deployment).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") and ref.get("kind") == KIND:
            return str(ref.get("name", ""))
    return labels_of(deployment).get("app.kubernetes.io/name", name_of(deployment))


@dataclass(frozen=True, slots=True)
class World:
    """Everything one sync decides from."""

    me: Model
    own: Claim | None
    """The parent's own Deployment, as observed."""
    namespace_models: Sequence[Model]
    """The InferenceModels of the parent's namespace (dependencies), the parent included."""
    pool_models: Sequence[Model]
    """The InferenceModels labelled for the parent's pool, the parent included."""
    claims: Sequence[Claim]
    """The other models' Deployments in the pool."""
    budget: int


def own_deployment(request: CompositeRequest, namespace: str, name: str) -> JSON | None:
    """The parent's Deployment among the observed children, matched by namespace and name."""
    key = model_key(namespace, deployment_name(name))
    for deployment in request.children_of(DEPLOYMENTS_KEY):
        if model_key(namespace_of(deployment) or namespace, name_of(deployment)) == key:
            return deployment
    return None


def observe(request: CompositeRequest, me: Model) -> World:
    # Metacontroller only shows a parent its own children; `aihooks render` shows
    # every Deployment as a child. Reading the others as claims serves both.
    namespace = me.demand.namespace
    deployments = {
        model_key(namespace_of(d) or namespace, name_of(d)): d
        for d in (*request.related_of(DEPLOYMENTS_KEY), *request.children_of(DEPLOYMENTS_KEY))
    }
    # A Deployment of the same name in another namespace is another model's claim.
    own_key = model_key(namespace, deployment_name(me.name))
    observed = own_deployment(request, namespace, me.name)
    own = replace(read_claim(observed), key=me.key) if observed is not None else None
    models: dict[str, Model] = {}
    for obj in request.related_of(MODELS_KEY):
        model = read_model(obj)
        if model is not None and model.key != me.key:
            models[model.key] = model
    peers = [m for m in models.values() if m.pool == me.pool and m.labelled]
    claims = [
        claim
        for claim in (
            read_claim(d)
            for key, d in deployments.items()
            if labels_of(d).get(MANAGED_LABEL) == "true" and key != own_key
        )
        if claim.pool == me.pool and claim.key != me.key
    ]
    return World(
        me=me,
        own=own,
        namespace_models=sorted(
            [me, *(m for m in models.values() if m.demand.namespace == namespace)],
            key=lambda m: m.key,
        ),
        pool_models=sorted([me, *peers], key=lambda m: m.key),
        claims=sorted(claims, key=lambda c: c.key),
        budget=pool_budget(request.related_of(NODES_KEY), me.spec.node_selector),
    )
