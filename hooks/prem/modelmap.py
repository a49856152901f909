"""The AIModelMap controller: the map's ConfigMap, and a status of its variants and users.

The ConfigMap (named like the map, labelled `mlcontroller.premlabs.io/aimodelmap`)
holds every variant's engine config file under `<engine>-<variant>-engineConfigFile`,
as the original did, and follows every edit. AIDeployments do not read it: each
mounts its own copy (a child of the AIDeployment), so that a map edit rolls the
pods that use it. Users are the AIDeployments the `aideployment-maps` decorator
labelled with this map, in any namespace.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    LabelSelector,
    RelatedResourceRule,
)
from hooks.k8s.conditions import Condition, Want, merge_conditions
from hooks.k8s.names import label_value
from hooks.k8s.objects import (
    JSON,
    MANAGED_BY,
    field_at,
    generation_of,
    is_deleting,
    name_of,
    namespace_of,
    new_object,
)
from hooks.registry import Controller, Resource
from hooks.settings import Settings

from .api import (
    API_VERSION,
    MAP_ENGINES,
    MODEL_MAP_LABEL,
    READY,
    REASON_INVALID_SPEC,
    AIModelMapSpec,
    AIModelMapStatus,
)
from .resolve import map_label

CONFIG_MAPS = Resource("v1", "configmaps", "ConfigMap", update="InPlace")
MODEL_MAPS = Resource(API_VERSION, "aimodelmaps", "AIModelMap")
USERS_KEY = f"AIDeployment.{API_VERSION}"
MAX_LISTED_USERS = 50


def config_key(engine: str, variant: str) -> str:
    """The original's ConfigMap key for a variant's engine config file."""
    return f"{engine}-{variant}-engineConfigFile"


def build_config_map(name: str, namespace: str, spec: AIModelMapSpec) -> JSON | None:
    data = {
        config_key(engine, v.variant): v.engine_config_file
        for engine in MAP_ENGINES
        for v in spec.variants(engine)
        if v.engine_config_file
    }
    if not data:
        return None
    value = label_value(name)
    config = new_object(
        "v1",
        "ConfigMap",
        name,
        namespace=namespace,
        labels={MODEL_MAP_LABEL: value, "app.kubernetes.io/managed-by": MANAGED_BY},
        annotations={MODEL_MAP_LABEL: name},
    )
    config["data"] = dict(sorted(data.items()))
    return config


def sync(request: CompositeRequest, *, now: datetime, settings: Settings) -> CompositeResponse:
    parent = request.parent
    name, namespace = name_of(parent), namespace_of(parent)
    previous = field_at(parent, "status", "conditions")
    generation = generation_of(parent)
    try:
        spec = AIModelMapSpec.model_validate(parent.get("spec") or {})
    except ValidationError as error:
        want = Want(READY, False, REASON_INVALID_SPEC, str(error.errors()[0]["msg"]))
        conditions = merge_conditions(previous, [want], now=now, generation=generation)
        return CompositeResponse(
            status={"conditions": conditions}, children=request.kept_children()
        )
    users = sorted(
        f"{namespace_of(d)}/{name_of(d)}"
        for d in request.related_of(USERS_KEY)
        if not is_deleting(d)
    )
    variants = {e: [v.variant for v in spec.variants(e)] for e in MAP_ENGINES if spec.variants(e)}
    count = sum(len(v) for v in variants.values())
    message = f"{count} variant(s); used by {len(users)} AIDeployment(s)"
    want = Want(READY, True, "Published", message)
    status = AIModelMapStatus(
        variants=variants,
        variant_count=count,
        used_by=users[:MAX_LISTED_USERS],
        used_by_count=len(users),
        conditions=[
            Condition.model_validate(c)
            for c in merge_conditions(previous, [want], now=now, generation=generation)
        ],
    )
    config = build_config_map(name, namespace, spec)
    return CompositeResponse(status=status.to_json(), children=[config] if config else [])


def customize(request: CustomizeRequest, *, now: datetime, settings: Settings) -> CustomizeResponse:
    """The AIDeployments, in any namespace, labelled as users of this map."""
    key = map_label(namespace_of(request.parent), name_of(request.parent))
    selector = LabelSelector(match_expressions=[{"key": key, "operator": "Exists"}])
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(
                api_version=API_VERSION, resource="aideployments", label_selector=selector
            )
        ]
    )


CONTROLLERS = (
    Controller(
        name="aimodelmap",
        kind="CompositeController",
        parent=MODEL_MAPS,
        sync=sync,
        customize=customize,
        children=(CONFIG_MAPS,),
    ),
)
