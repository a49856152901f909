"""The AIDeployment controllers.

* `aideployment` (CompositeController): customize names the AIModelMaps the
  models reference (by name, in any namespace); sync resolves the models,
  builds the children and reports status. A spec no pod can be built from, or
  a model whose map or variant is missing, leaves every existing child as it
  is and says why in `Ready`/`ModelsResolved`, `status: Failed` and `errMsg`.
* `aideployment-maps` (DecoratorController): labels each AIDeployment with the
  maps it uses (`maps.premlabs.io/<hash>`), so a map finds its users by label.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    DecoratorRequest,
    DecoratorResponse,
    RelatedResourceRule,
)
from hooks.k8s.conditions import Want, merge_conditions
from hooks.k8s.names import label_value
from hooks.k8s.objects import (
    JSON,
    count_at,
    field_at,
    generation_of,
    labels_of,
    name_of,
    namespace_of,
)
from hooks.registry import Controller, Resource
from hooks.settings import Settings

from .api import (
    API_VERSION,
    AVAILABLE,
    MODELS_RESOLVED,
    READY,
    REASON_AVAILABLE,
    REASON_DEPLOYING,
    REASON_INVALID_SPEC,
    REASON_MODELS_RESOLVED,
    REASON_MODELS_UNRESOLVED,
    REASON_SCALED_TO_ZERO,
    REASON_UNAVAILABLE,
    USES_MAP_PREFIX,
    AIDeploymentSpec,
    AIDeploymentStatus,
    AIModel,
)
from .children import build_children, child_names, endpoint_urls, replicas_of
from .engines import SERVING, SpecError, serving_pod
from .resolve import Unresolved, index_maps, map_label, map_ref, resolve
from .template import check_template

DEPLOYMENTS = Resource("apps/v1", "deployments", "Deployment", update="InPlace")
SERVICES = Resource("v1", "services", "Service", update="InPlace")
INGRESSES = Resource("networking.k8s.io/v1", "ingresses", "Ingress", update="InPlace")
CONFIG_MAPS = Resource("v1", "configmaps", "ConfigMap", update="InPlace")
AI_DEPLOYMENTS = Resource(API_VERSION, "aideployments", "AIDeployment")
MAPS_KEY = f"AIModelMap.{API_VERSION}"


def sync(request: CompositeRequest, *, now: datetime, settings: Settings) -> CompositeResponse:
    parent = request.parent
    name, namespace = name_of(parent), namespace_of(parent)
    observed = _observed_deployment(request)
    try:
        spec = AIDeploymentSpec.model_validate(parent.get("spec") or {})
    except ValidationError as error:
        problem = _first_error(error)
        unknown = Want(MODELS_RESOLVED, None, REASON_INVALID_SPEC, "the spec does not parse")
        return _kept(request, observed, None, REASON_INVALID_SPEC, problem, unknown, now)
    models = resolve(
        deployment=name,
        namespace=namespace,
        engine=spec.engine.name,
        models=spec.models or [],
        maps=index_maps(request.related_of(MAPS_KEY)),
    )
    if isinstance(models, Unresolved):
        missing = Want(MODELS_RESOLVED, False, models.reason, models.message)
        return _kept(
            request, observed, spec, REASON_MODELS_UNRESOLVED, models.message, missing, now
        )
    resolved = Want(MODELS_RESOLVED, True, REASON_MODELS_RESOLVED, _resolved_message(len(models)))
    try:
        check_template(spec.deployment.template if spec.deployment else None)
        pod = serving_pod(spec, models, config_map=child_names(name)[1])
        children = build_children(name=name, namespace=namespace, spec=spec, pod=pod)
    except SpecError as error:
        return _kept(request, observed, spec, error.reason, error.message, resolved, now)
    desired = replicas_of(spec)
    available, ready = _replicas(observed)
    if desired == 0:
        summary = Want(READY, False, REASON_SCALED_TO_ZERO, "replicas is 0")
    elif available > 0:
        summary = Want(READY, True, REASON_AVAILABLE, f"serving on {ready}/{desired} pod(s)")
    else:
        summary = Want(
            READY, False, REASON_DEPLOYING, f"waiting for pods ({ready}/{desired} ready)"
        )
    status = AIDeploymentStatus(
        status="Ready" if summary.status else "NotReady",
        replicas=desired,
        ready_replicas=ready,
        ready=f"{ready}/{desired}",
        image=pod.image,
        endpoints=endpoint_urls(spec),
    )
    conditions = [
        summary,
        _available(observed, desired),
        resolved,
    ]
    return CompositeResponse(status=_status(parent, status, conditions, now), children=children)


def _kept(
    request: CompositeRequest,
    observed: JSON | None,
    spec: AIDeploymentSpec | None,
    reason: str,
    message: str,
    models: Want,
    now: datetime,
) -> CompositeResponse:
    """The observed children unchanged, and a status that says why nothing changes."""
    _, ready = _replicas(observed)
    if observed is not None:
        desired = count_at(observed, "spec", "replicas")
    else:
        desired = replicas_of(spec) if spec else 1
    running = " (the existing pods keep running)" if observed is not None else ""
    status = AIDeploymentStatus(
        status="Failed",
        err_msg=message,
        replicas=desired if observed is not None else None,
        ready_replicas=ready if observed is not None else None,
        ready=f"{ready}/{desired}" if observed is not None else None,
        image=_observed_image(observed),
        endpoints=endpoint_urls(spec) if spec else None,
    )
    conditions = [
        Want(READY, False, reason, message + running),
        _available(observed, desired),
        models,
    ]
    return CompositeResponse(
        status=_status(request.parent, status, conditions, now),
        children=request.kept_children(),
    )


def _status(
    parent: JSON, status: AIDeploymentStatus, wanted: list[Want], now: datetime
) -> dict[str, Any]:
    body = status.to_json()
    body["conditions"] = merge_conditions(
        field_at(parent, "status", "conditions"),
        wanted,
        now=now,
        generation=generation_of(parent),
    )
    return body


def _available(observed: JSON | None, desired: int) -> Want:
    available, _ = _replicas(observed)
    if available > 0:
        return Want(AVAILABLE, True, REASON_AVAILABLE, f"{available} pod(s) available")
    if desired == 0:
        return Want(AVAILABLE, False, REASON_SCALED_TO_ZERO, "replicas is 0")
    return Want(AVAILABLE, False, REASON_UNAVAILABLE, "no pod is available yet")


def _replicas(observed: JSON | None) -> tuple[int, int]:
    return count_at(observed, "status", "availableReplicas"), count_at(
        observed, "status", "readyReplicas"
    )


def _observed_deployment(request: CompositeRequest) -> JSON | None:
    wanted = child_names(name_of(request.parent))[0]
    found = [d for d in request.children_of(DEPLOYMENTS.key) if name_of(d) == wanted]
    return found[0] if found else None


def _observed_image(observed: JSON | None) -> str | None:
    containers = field_at(observed, "spec", "template", "spec", "containers")
    for container in containers if isinstance(containers, list) else ():
        if isinstance(container, dict) and container.get("name") == SERVING:
            image = container.get("image")
            return image if isinstance(image, str) and image else None
    return None


def _resolved_message(count: int) -> str:
    return f"{count} model(s) resolved" if count else "no models to resolve"


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"spec.{where}: {first['msg']}"


def customize(request: CustomizeRequest, *, now: datetime, settings: Settings) -> CustomizeResponse:
    """The referenced AIModelMaps, by name, one rule per namespace."""
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(
                api_version=API_VERSION, resource="aimodelmaps", namespace=ns, names=names
            )
            for ns, names in sorted(_referenced_maps(request.parent).items())
        ]
    )


def _referenced_maps(parent: JSON) -> dict[str, list[str]]:
    """Map names by namespace; read model by model, so one malformed model (reported by
    sync) does not hide the maps the others reference."""
    by_namespace: dict[str, set[str]] = defaultdict(set)
    models = field_at(parent, "spec", "models")
    for raw in models if isinstance(models, list) else ():
        try:
            ref = map_ref(AIModel.model_validate(raw), namespace_of(parent))
        except ValidationError:
            continue
        if ref is not None:
            by_namespace[ref[0]].add(ref[1])
    return {ns: sorted(names) for ns, names in by_namespace.items()}


def label_maps(
    request: DecoratorRequest, *, now: datetime, settings: Settings
) -> DecoratorResponse:
    """One label per referenced map; labels of maps no longer referenced are removed."""
    obj = request.object
    wanted: dict[str, str | None] = {
        map_label(ns, name): label_value(name)
        for ns, names in _referenced_maps(obj).items()
        for name in names
    }
    for key in labels_of(obj):
        if key.startswith(USES_MAP_PREFIX) and key not in wanted:
            wanted[key] = None
    return DecoratorResponse(labels=wanted)


CONTROLLERS = (
    Controller(
        name="aideployment",
        kind="CompositeController",
        parent=AI_DEPLOYMENTS,
        sync=sync,
        customize=customize,
        children=(CONFIG_MAPS, DEPLOYMENTS, INGRESSES, SERVICES),
    ),
    Controller(
        name="aideployment-maps",
        kind="DecoratorController",
        parent=AI_DEPLOYMENTS,
        sync=label_maps,
    ),
)
