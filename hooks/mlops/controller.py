"""The MLOps controllers: the hooks Metacontroller calls, and their wiring.

* `mlops-model`: a Model's volume, revisions (blue/green), ConfigMaps and Service;
  customize names the Model's pods, whose init container tells how the download goes.
* `mlops-endpointconfig` and `mlops-endpoint`: their hooks are in `endpoints`.
"""

from __future__ import annotations

from datetime import datetime

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    LabelSelector,
    RelatedResourceRule,
    last_desired,
)
from hooks.k8s.conditions import condition_of
from hooks.k8s.names import label_value
from hooks.k8s.objects import labels_of, name_of, namespace_of, sort_objects
from hooks.registry import Controller, Resource
from hooks.settings import Settings

from .api import (
    API_VERSION,
    MODEL_LABEL,
    READY,
    REASON_CAPTURE_LOOP,
    REASON_INVALID_SPEC,
    REASON_UNSUPPORTED_SCHEME,
    ModelSpec,
)
from .children import (
    build_config_map,
    build_deployment,
    build_service,
    build_volume_claim,
    model_labels,
)
from .endpoints import customize_config, customize_endpoint, sync_config, sync_endpoint
from .observe import (
    capture_problem,
    observe,
    read_spec,
    rule_problem,
    scheme_problem,
    spec_problem,
)
from .revisions import decide_rollout, revision_of
from .status import failed_status, model_status

MODELS = Resource(API_VERSION, "models", "Model")
CONFIGS = Resource(API_VERSION, "endpointconfigs", "EndpointConfig")
ENDPOINTS = Resource(API_VERSION, "endpoints", "Endpoint")
NOT_READY_RESYNC_SECONDS = 15.0


def sync_model(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    parent = request.parent
    spec = read_spec(parent, ModelSpec)
    world = observe(request)
    if spec is None:
        invalid = spec_problem(parent, ModelSpec)
        status = failed_status(parent, world, REASON_INVALID_SPEC, invalid, now=now)
        return CompositeResponse(status=status, children=request.kept_children())
    for reason, problem in (
        (REASON_INVALID_SPEC, rule_problem(spec)),
        (REASON_UNSUPPORTED_SCHEME, scheme_problem(spec)),
        (REASON_CAPTURE_LOOP, capture_problem(spec, world.name, world.namespace)),
    ):
        if problem is not None:
            status = failed_status(parent, world, reason, problem, now=now)
            return CompositeResponse(status=status, children=request.kept_children())
    wanted = revision_of(spec)
    rollout = decide_rollout(wanted, world.served, world.revisions)
    labels = model_labels(world.name, labels_of(parent))
    config_map = build_config_map(world.name, world.namespace, spec, labels, wanted)
    children = [
        build_service(world.name, world.namespace, labels, rollout.serve),
        config_map,
        build_deployment(world.name, world.namespace, spec, labels, wanted, config_map["data"]),
    ]
    if spec.replicas > 0 or world.claim is not None:
        # A template with no replicas needs no volume yet; one that exists is never dropped.
        children.append(build_volume_claim(world.name, world.namespace, spec, labels, world.claim))
    if rollout.keep is not None:
        # The old revision runs on exactly as it was until the Service has left it.
        for kept in (world.deployments.get(rollout.keep), world.config_maps.get(rollout.keep)):
            if kept is not None:
                children.append(last_desired(kept))
    status = model_status(parent, spec, world, rollout, now=now)
    ready = (condition_of(status, READY) or {}).get("status") == "True"
    return CompositeResponse(
        status=status,
        children=sort_objects(children),
        resync_after_seconds=None if ready else NOT_READY_RESYNC_SECONDS,
    )


def customize_model(
    request: CustomizeRequest, *, now: datetime, settings: Settings
) -> CustomizeResponse:
    """The Model's pods, for the state of their artifact download."""
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(
                api_version="v1",
                resource="pods",
                namespace=namespace_of(request.parent) or None,
                label_selector=LabelSelector(
                    match_labels={MODEL_LABEL: label_value(name_of(request.parent))}
                ),
            )
        ]
    )


MODEL = Controller(
    name="mlops-model",
    kind="CompositeController",
    parent=MODELS,
    sync=sync_model,
    customize=customize_model,
    children=(
        Resource("v1", "persistentvolumeclaims", "PersistentVolumeClaim", update="InPlace"),
        Resource("v1", "configmaps", "ConfigMap", update="InPlace"),
        Resource("v1", "services", "Service", update="InPlace"),
        Resource("apps/v1", "deployments", "Deployment", update="InPlace"),
    ),
)
ENDPOINT_CONFIG = Controller(
    name="mlops-endpointconfig",
    kind="CompositeController",
    parent=CONFIGS,
    sync=sync_config,
    customize=customize_config,
    children=(
        Resource(API_VERSION, "models", "Model", update="InPlace"),
        Resource("networking.istio.io/v1", "virtualservices", "VirtualService", update="InPlace"),
        Resource("v1", "services", "Service", update="InPlace"),
    ),
)
ENDPOINT = Controller(
    name="mlops-endpoint",
    kind="CompositeController",
    parent=ENDPOINTS,
    sync=sync_endpoint,
    customize=customize_endpoint,
    children=(Resource("networking.istio.io/v1", "gateways", "Gateway", update="InPlace"),),
)
CONTROLLERS = (MODEL, ENDPOINT_CONFIG, ENDPOINT)
