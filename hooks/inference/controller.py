"""The InferenceModel controllers: the hooks Metacontroller calls, and their wiring.

* `inferencemodel` (CompositeController): customize names the related objects
  (the pool's Nodes, Deployments and InferenceModels, and the namespace's
  InferenceModels for dependencies); sync decides replicas and status; finalize
  scales the Deployment to zero, deletes it, then lets the object go.
* `inferencemodel-pool` (DecoratorController): labels each InferenceModel with
  its pool, so that customize can select a pool's models by label.
"""

from __future__ import annotations

from datetime import datetime

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    DecoratorRequest,
    DecoratorResponse,
    LabelSelector,
    RelatedResourceRule,
    resource_key,
)
from hooks.k8s.conditions import Want
from hooks.k8s.objects import JSON, annotations_of, is_deleting, name_of, namespace_of
from hooks.registry import Controller, Resource
from hooks.settings import Settings

from .api import (
    API_VERSION,
    BACKEND_SERVICE,
    LAST_REQUEST_ANNOTATION,
    MANAGED_LABEL,
    PLURAL,
    POOL_LABEL,
    REASON_INVALID_SPEC,
    REASON_SERVICE_CONFLICT,
    REASON_SERVICE_CREATED,
)
from .children import backend, build_deployment, build_service
from .decide import Outcome, decide, placement
from .demand import parse_time
from .observe import (
    Model,
    World,
    observe,
    own_deployment,
    pool_id,
    read_claim,
    read_model,
    read_spec,
    spec_problem,
)
from .status import (
    both,
    external_conditions,
    model_status,
    terminating_conditions,
    wanted_conditions,
)

DEPLOYMENT = Resource("apps/v1", "deployments", "Deployment", update="InPlace")
SERVICE = Resource("v1", "services", "Service", update="InPlace")
SERVICES_KEY = resource_key("v1", "Service")
MODELS = Resource(API_VERSION, PLURAL, "InferenceModel")
FINALIZE_RESYNC_SECONDS = 5.0


def sync(request: CompositeRequest, *, now: datetime, settings: Settings) -> CompositeResponse:
    parent = request.parent
    if is_deleting(parent):
        return finalize(request, now=now, settings=settings)
    me = read_model(parent)
    if me is None:
        return _invalid_spec(request, now)
    if not me.managed:
        status = model_status(
            parent,
            declared=me.spec.memory,
            wanted=external_conditions(me.spec.backend_url),
            own=None,
            managed=False,
            now=now,
        )
        return CompositeResponse(status=status, children=[])
    world = observe(request, me)
    observed = _own_deployment(request)
    outcome = decide(world, now)
    wanted = wanted_conditions(outcome, world.own, observed)
    if outcome.keep:
        children = request.kept_children()
    else:
        service, service_wanted = _service(request, me)
        children = [_deployment(parent, world, outcome), *service]
        wanted += service_wanted
    status = model_status(
        parent,
        declared=me.spec.memory,
        wanted=wanted,
        own=world.own,
        managed=True,
        now=now,
    )
    return CompositeResponse(
        status=status, children=children, resync_after_seconds=_resync(outcome, now)
    )


def _invalid_spec(request: CompositeRequest, now: datetime) -> CompositeResponse:
    """A spec the hook cannot read: the children stay as they are, `Ready` says why."""
    observed = _own_deployment(request)
    own = read_claim(observed) if observed is not None else None
    status = model_status(
        request.parent,
        declared="0",
        wanted=both(False, REASON_INVALID_SPEC, spec_problem(request.parent)),
        own=own,
        managed=True,
        now=now,
    )
    return CompositeResponse(status=status, children=request.kept_children())


def finalize(request: CompositeRequest, *, now: datetime, settings: Settings) -> CompositeResponse:
    """Scale the Deployment to zero, delete it once its pods are gone, then let go.

    Nothing is stored to release: the budget is derived from what is running,
    and the memory is free only once the pods are gone.
    """
    parent = request.parent
    me = read_model(parent)
    observed = _own_deployment(request)
    own = read_claim(observed) if observed is not None else None
    children: list[JSON] = []
    if me is not None and me.managed and own is not None and own.occupying:
        world = World(me=me, own=own, namespace_models=(), pool_models=(), claims=(), budget=0)
        children = [_deployment(parent, world, Outcome(0))]
    status = model_status(
        parent,
        declared=me.spec.memory if me is not None else "0",
        wanted=terminating_conditions(own),
        own=own,
        managed=me is None or me.managed,
        now=now,
    )
    gone = observed is None
    return CompositeResponse(
        status=status,
        children=children,
        finalized=gone,
        resync_after_seconds=None if gone else FINALIZE_RESYNC_SECONDS,
    )


def customize(request: CustomizeRequest, *, now: datetime, settings: Settings) -> CustomizeResponse:
    """The pool's Nodes, Deployments and InferenceModels, and the namespace's InferenceModels."""
    parent = request.parent
    spec = read_spec(parent)
    if spec is None:
        # sync reports the spec; there is no pool to relate.
        return CustomizeResponse(related_resources=[])
    pool = pool_id(spec.node_selector)
    namespace = namespace_of(parent)
    target = backend(spec.backend_url, namespace)
    services = []
    if spec.container_image and target is not None and target.service is not None:
        # To tell our Service from another of the same name, which is left alone.
        services.append(
            RelatedResourceRule(
                api_version="v1",
                resource="services",
                namespace=namespace or None,
                names=[target.service],
            )
        )
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(
                api_version="v1",
                resource="nodes",
                label_selector=LabelSelector(match_labels=dict(sorted(spec.node_selector.items()))),
            ),
            RelatedResourceRule(
                api_version="apps/v1",
                resource="deployments",
                label_selector=LabelSelector(
                    match_labels={MANAGED_LABEL: "true", POOL_LABEL: pool}
                ),
            ),
            RelatedResourceRule(
                api_version=API_VERSION,
                resource=PLURAL,
                label_selector=LabelSelector(match_labels={POOL_LABEL: pool}),
            ),
            RelatedResourceRule(
                api_version=API_VERSION, resource=PLURAL, namespace=namespace or None
            ),
            *services,
        ]
    )


def label_pool(
    request: DecoratorRequest, *, now: datetime, settings: Settings
) -> DecoratorResponse:
    """The pool label of an InferenceModel: a stable hash of its whole nodeSelector."""
    spec = read_spec(request.object)
    if spec is None:
        return DecoratorResponse(labels={})
    return DecoratorResponse(labels={POOL_LABEL: pool_id(spec.node_selector)})


def _service(request: CompositeRequest, me: Model) -> tuple[list[JSON], list[Want]]:
    """The Service `backendUrl` names, unless one of that name exists that is not ours."""
    namespace = me.demand.namespace
    service = build_service(name=me.name, namespace=namespace, spec=me.spec)
    if service is None:
        return [], []
    name = name_of(service)
    ours = any(name_of(s) == name for s in request.children_of(SERVICES_KEY))
    taken = any(
        name_of(s) == name and (namespace_of(s) or namespace) == namespace
        for s in request.related_of(SERVICES_KEY)
    )
    if taken and not ours:
        message = (
            f"Service {name}, which backendUrl names, exists and is not this model's:"
            " it is left alone, and requests reach whatever pods it selects"
        )
        return [], [Want(BACKEND_SERVICE, False, REASON_SERVICE_CONFLICT, message)]
    port = service["spec"]["ports"][0]["port"]
    message = f"Service {name} sends port {port} to this model's pods"
    return [service], [Want(BACKEND_SERVICE, True, REASON_SERVICE_CREATED, message)]


def _own_deployment(request: CompositeRequest) -> JSON | None:
    parent = request.parent
    return own_deployment(request, namespace_of(parent), name_of(parent))


def _deployment(parent: JSON, world: World, outcome: Outcome) -> JSON:
    me = world.me
    pool, claim = placement(world)
    # The demand annotation is copied as written, but only when it is a time.
    last_request = annotations_of(parent).get(LAST_REQUEST_ANNOTATION)
    return build_deployment(
        name=me.name,
        namespace=me.demand.namespace,
        spec=me.spec,
        pool=pool,
        replicas=outcome.replicas,
        last_request=last_request if parse_time(last_request) else None,
        claim=claim,
    )


def _resync(outcome: Outcome, now: datetime) -> float | None:
    if outcome.resync_at is None or outcome.resync_at <= now:
        return None
    return (outcome.resync_at - now).total_seconds()


INFERENCE_MODEL = Controller(
    name="inferencemodel",
    kind="CompositeController",
    parent=MODELS,
    sync=sync,
    finalize=finalize,
    customize=customize,
    children=(DEPLOYMENT, SERVICE),
)
INFERENCE_MODEL_POOL = Controller(
    name="inferencemodel-pool",
    kind="DecoratorController",
    parent=MODELS,
    sync=label_pool,
)
CONTROLLERS = (INFERENCE_MODEL, INFERENCE_MODEL_POOL)
"""The composite controller first: `aihooks render` gives an InferenceModel to the first
controller that watches it."""
