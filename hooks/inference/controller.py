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
)
from hooks.k8s.objects import JSON, annotations_of, is_deleting, name_of, namespace_of
from hooks.registry import Controller, Resource
from hooks.settings import Settings

from .api import (
    API_VERSION,
    LAST_REQUEST_ANNOTATION,
    MANAGED_LABEL,
    PLURAL,
    POOL_LABEL,
    REASON_INVALID_SPEC,
)
from .children import build_deployment, deployment_name
from .decide import Outcome, decide, placement
from .demand import parse_time
from .observe import (
    DEPLOYMENTS_KEY,
    World,
    observe,
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
    status = model_status(
        parent,
        declared=me.spec.memory,
        wanted=wanted_conditions(outcome, world.own, observed),
        own=world.own,
        managed=True,
        now=now,
    )
    children = request.kept_children() if outcome.keep else [_deployment(parent, world, outcome)]
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


def _own_deployment(request: CompositeRequest) -> JSON | None:
    name = deployment_name(name_of(request.parent))
    observed = [d for d in request.children_of(DEPLOYMENTS_KEY) if name_of(d) == name]
    return observed[0] if observed else None


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
    children=(DEPLOYMENT,),
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
