"""The offloading controllers: the hooks Metacontroller calls, and their wiring.

* `modeldeployment` (CompositeController): customize names the related objects (the
  source workload, the user's Service, the localPolicy Policies, the gateway
  Service's EndpointSlices); sync decides the split and emits the metrics HPA, the
  local Service, the gateway and, while the source is down, the failover
  EndpointSlice. Related objects are watched, so a workload that loses its last
  ready replica re-syncs its ModelDeployments at once.
* `modeldeployment-istio` and `modeldeployment-gatewayapi` (DecoratorControllers,
  `meshes`): the routing objects of the two mesh modes.
* `policy` (CompositeController, `policy_controller`): a Policy's validity and users.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from functools import lru_cache

from pydantic import ValidationError

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    LabelSelector,
    RelatedResourceRule,
)
from hooks.k8s.conditions import Want
from hooks.k8s.objects import JSON, name_of, namespace_of
from hooks.registry import Controller, Resource
from hooks.settings import Settings

from . import children as build
from .api import (
    API_VERSION,
    KIND,
    OFFLOADING,
    PLURAL,
    POLICY_API_VERSION,
    POLICY_KIND,
    POLICY_PLURAL,
    READY,
    REASON_DISABLED,
    REASON_INVALID_BACKEND,
    REASON_INVALID_METRICS,
    REASON_INVALID_REFERENCE,
    REASON_INVALID_SPEC,
    REASON_METRICS_UNAVAILABLE,
    REASON_ROUTED,
    REASON_SERVICE_NOT_FOUND,
    ModelDeploymentSpec,
    NamedRemoteBackend,
)
from .decide import Decision, decide, previous_of
from .gateway import GatewayPlan, LocalLeg, build_gateway_children, plan_problems
from .meshes import sync_gateway_api, sync_istio
from .metrics import MetricError, Reading, Target, read_current, read_targets
from .observe import (
    DEPLOYMENTS_KEY,
    HPA_KEY,
    SERVICE_NAME_LABEL,
    SERVICES_KEY,
    SLICE_CONTROLLER,
    SLICE_MANAGER_LABEL,
    SLICES_KEY,
    Hpa,
    InvalidSpec,
    Parent,
    Source,
    UserService,
    child_named,
    gateway_endpoints,
    previous_source,
    read_hpa,
    read_parent,
    read_policies,
    read_service,
    read_source,
    related_named,
    source_key,
)
from .policy import Choice, candidates, choose
from .policy_controller import customize_policy, sync_policy
from .status import Outcome, model_deployment_status

MODEL_DEPLOYMENTS = Resource(API_VERSION, PLURAL, KIND)
POLICIES = Resource(POLICY_API_VERSION, POLICY_PLURAL, POLICY_KIND)
SOURCE_RESOURCES = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "ReplicaSet": "replicasets",
    "DaemonSet": "daemonsets",
}


@lru_cache(maxsize=8)
def default_backend(text: str) -> NamedRemoteBackend | str | None:
    """The install's default remote backend, or the reason it cannot be used."""
    if not text.strip():
        return None
    try:
        fields = json.loads(text)
        if isinstance(fields, dict):
            fields.setdefault("name", "default")
        backend = NamedRemoteBackend.model_validate(fields)
    except (ValueError, ValidationError) as error:
        return f"the default remote backend setting is invalid: {error}".splitlines()[0]
    oauth = backend.auth_config.oauth_config if backend.auth_config else None
    if oauth is not None and oauth.client_secret is not None:
        return (
            "the default remote backend setting is invalid: clientSecret must come from "
            "a Secret (clientSecretRef)"
        )
    return backend


def sync(request: CompositeRequest, *, now: datetime, settings: Settings) -> CompositeResponse:
    parent = request.parent
    try:
        refs = read_parent(parent)
    except InvalidSpec as error:
        # What is already there stays right until the spec is fixed.
        invalid = Want(READY, False, REASON_INVALID_SPEC, str(error))
        return CompositeResponse(
            status=model_deployment_status(
                parent, _kept(parent, previous_source(parent), invalid), now
            ),
            children=request.kept_children(),
        )
    spec, namespace = refs.spec, refs.namespace
    source = read_source(
        related_named(
            request, source_key(spec.model_source_ref.kind), namespace, spec.model_source_ref.name
        )
    )
    config = spec.offloading_config
    if not spec.enabled or config is None:
        why = "enabled is false" if not spec.enabled else "no offloadingConfig"
        message = f"Offloading is disabled ({why}): no routing objects"
        outcome = _simple(source, Want(READY, True, REASON_DISABLED, message), REASON_DISABLED)
        return CompositeResponse(status=model_deployment_status(parent, outcome, now), children=[])
    elsewhere = [
        f"{what} is in namespace {ref.namespace}"
        for what, ref in (
            ("modelSourceRef", spec.model_source_ref),
            ("serviceRef", spec.service_ref),
        )
        # A parent without a namespace is a file given to `aihooks render`.
        if namespace and ref.namespace and ref.namespace != namespace
    ]
    service = read_service(
        related_named(request, SERVICES_KEY, namespace, spec.service_ref.name),
        spec.service_ref.target_port,
    )
    problem = _reference_problem(elsewhere, service, spec)
    try:
        targets = read_targets(config.metrics)
    except MetricError as error:
        problem = problem or Want(READY, False, REASON_INVALID_METRICS, str(error))
        targets = []
    if problem is not None:
        # What is already there stays right until the references are fixed.
        return CompositeResponse(
            status=model_deployment_status(parent, _kept(parent, source, problem), now),
            children=request.kept_children(),
        )
    assert service.port is not None
    hpa = read_hpa(child_named(request, HPA_KEY, build.hpa_name(refs.name)))
    readings, unreadable = _readings(targets, hpa)
    local_policies = [p.name for p in spec.policies if p.ref_type == "localPolicy"]
    remote_policies = [p.name for p in spec.policies if p.ref_type == "remotePolicy"]
    default = default_backend(settings.offload_default_remote_backend)
    choice = choose(
        candidates(config, default if isinstance(default, NamedRemoteBackend) else None),
        local_policies,
        read_policies(request, namespace, local_policies),
    )
    if isinstance(default, str) and choice.backend is None:
        choice = Choice(None, choice.reason, default)
    decision = decide(
        readings=readings,
        unreadable_message=unreadable,
        source_down=source.down,
        source_message=_source_message(spec, source),
        behavior=config.behavior,
        previous=previous_of(parent.get("status")),
        now=now,
    )
    share = decision.remote_percentage if choice.backend is not None else 0
    children, problems = _children(request, refs, service, choice, share, source, settings)
    if problems:
        # Envoy would refuse the new configuration: the running one stays, and says so.
        invalid = Want(READY, False, REASON_INVALID_BACKEND, "; ".join(problems))
        return CompositeResponse(
            status=model_deployment_status(parent, _kept(parent, source, invalid), now),
            children=request.kept_children(),
        )
    gateway = child_named(request, DEPLOYMENTS_KEY, build.gateway_service_name(refs.name))
    outcome = Outcome(
        ready=_ready(choice, decision, gateway, spec.routing.mode),
        offloading=_offloading(choice, decision, share),
        remote_percentage=share,
        metric_percentage=decision.metric_percentage,
        backend=choice.backend.name if choice.backend else None,
        source_ready=source.ready,
        selector=source.selector,
        readings=readings,
        state=decision.state if targets else None,
        remote_policies=remote_policies,
    )
    wake = decision.state.wake_at
    return CompositeResponse(
        status=model_deployment_status(parent, outcome, now),
        children=children,
        resync_after_seconds=(wake - now).total_seconds() if wake and wake > now else None,
    )


def _simple(source: Source, ready: Want, reason: str) -> Outcome:
    offloading = Want(OFFLOADING, False, reason, ready.message)
    return Outcome(
        ready=ready,
        offloading=offloading,
        remote_percentage=0,
        metric_percentage=0,
        backend=None,
        source_ready=source.ready,
        selector=source.selector,
    )


def _kept(parent: JSON, source: Source, problem: Want) -> Outcome:
    """The status while the observed children are kept: the split they carry, the
    problem as the reason."""
    status = parent.get("status")
    status = status if isinstance(status, dict) else {}

    def percent(field: str) -> int:
        value = status.get(field)
        return value if isinstance(value, int) and 0 <= value <= 100 else 0

    backend = status.get("backend")
    return replace(
        _simple(source, problem, problem.reason),
        offloading=Want(
            OFFLOADING, percent("remotePercentage") > 0, problem.reason, problem.message
        ),
        remote_percentage=percent("remotePercentage"),
        metric_percentage=percent("metricPercentage"),
        backend=backend if isinstance(backend, str) else None,
    )


def _reference_problem(
    elsewhere: list[str], service: UserService, spec: ModelDeploymentSpec
) -> Want | None:
    if elsewhere:
        message = "; ".join(elsewhere) + ": only objects of the ModelDeployment's own namespace"
        return Want(READY, False, REASON_INVALID_REFERENCE, message)
    ref = spec.service_ref
    if not service.found:
        return Want(READY, False, REASON_SERVICE_NOT_FOUND, f"Service {ref.name} not found")
    if service.port is None:
        message = f"Service {ref.name} has no port {ref.target_port} (serviceRef.targetPort)"
        return Want(READY, False, REASON_SERVICE_NOT_FOUND, message)
    return None


def _readings(targets: list[Target], hpa: Hpa | None) -> tuple[list[Reading], str]:
    unknown = [Reading(t, None, None) for t in targets]
    if not targets:
        return [], ""
    not_yet = "the metrics HPA has not measured the current spec yet"
    if hpa is None or hpa.scaling_active is None:
        return unknown, not_yet
    try:
        measured = read_targets(hpa.metrics)
    except MetricError:
        measured = []
    if not hpa.current or [_key(t) for t in measured] != [_key(t) for t in targets]:
        return unknown, not_yet
    message = f"HPA ScalingActive={'True' if hpa.scaling_active else 'False'}, {hpa.message}"
    return read_current(targets, hpa.current_metrics), message


def _key(target: Target) -> tuple[object, ...]:
    # The API server may print a quantity anew (0.5 as 500m): compare values, not text.
    return (target.identity, target.target_type, target.target)


def _source_message(spec: ModelDeploymentSpec, source: Source) -> str:
    ref = spec.model_source_ref
    if not source.found:
        return f"{ref.kind} {ref.name} not found: every request goes to the remote"
    if source.desired == 0:
        return f"{ref.kind} {ref.name} is scaled to 0: every request goes to the remote"
    return f"{ref.kind} {ref.name} has no ready replica: every request goes to the remote"


def _children(
    request: CompositeRequest,
    refs: Parent,
    service: UserService,
    choice: Choice,
    share: int,
    source: Source,
    settings: Settings,
) -> tuple[list[JSON], list[str]]:
    """The children, and what in the gateway's plan Envoy would refuse."""
    spec, name, namespace = refs.spec, refs.name, refs.namespace
    config = spec.offloading_config
    assert config is not None
    assert service.port is not None
    port = service.port
    out: list[JSON] = []
    problems: list[str] = []
    if config.metrics:
        out.append(build.build_hpa(name, namespace, config.metrics))
    local_service = spec.service_ref.name
    if service.selector is not None:
        out.append(build.build_local_service(name, namespace, service.selector, port))
        local_service = build.local_service_name(name)
    plan = gateway_plan(refs, LocalLeg(local_service, port.port), choice.backend, share)
    if plan is not None:
        problems = plan_problems(plan)
        out += build_gateway_children(plan, settings=settings)
        if plan.local is not None and plan.remote is not None and source.down:
            addresses = gateway_endpoints(
                request.related_of(SLICES_KEY), build.gateway_service_name(name)
            )
            out.append(
                build.build_failover_slice(name, namespace, spec.service_ref.name, port, addresses)
            )
    return out, problems


def gateway_plan(
    refs: Parent, local: LocalLeg | None, backend: NamedRemoteBackend | None, share: int
) -> GatewayPlan | None:
    """What the Envoy gateway does: the split in gateway mode; in the mesh modes, which
    split themselves, the remote leg and its credentials alone (no gateway without one)."""
    spec = refs.spec
    remote = (
        build.remote_leg(
            backend,
            model=spec.model,
            environment=spec.environment,
            remote_policies=[p.name for p in spec.policies if p.ref_type == "remotePolicy"],
        )
        if backend is not None
        else None
    )
    if spec.routing.mode != "gateway":
        if remote is None:
            return None
        local, share = None, 100
    return GatewayPlan(
        name=refs.name,
        namespace=refs.namespace,
        local=local,
        remote=remote,
        remote_percentage=share,
        labels=build.labels(refs.name, "gateway"),
    )


def _ready(choice: Choice, decision: Decision, gateway: JSON | None, mode: str) -> Want:
    if choice.backend is None:
        return Want(READY, False, str(choice.reason), choice.message)
    if decision.reason == REASON_METRICS_UNAVAILABLE:
        return Want(READY, False, REASON_METRICS_UNAVAILABLE, decision.message)
    available = ((gateway or {}).get("status") or {}).get("availableReplicas")
    if not isinstance(available, int) or available < 1:
        return Want(READY, False, "GatewayNotReady", "Waiting for the offload gateway's pods")
    where = {"gateway": "the offload gateway", "istio": "Istio", "gatewayAPI": "an HTTPRoute"}
    return Want(
        READY,
        True,
        REASON_ROUTED,
        f"Routing through {where[mode]}: {decision.remote_percentage}% to {choice.backend.name}",
    )


def _offloading(choice: Choice, decision: Decision, share: int) -> Want:
    if choice.backend is None:
        return Want(OFFLOADING, False, str(choice.reason), choice.message)
    return Want(OFFLOADING, share > 0, decision.reason, decision.message)


def customize(request: CustomizeRequest, *, now: datetime, settings: Settings) -> CustomizeResponse:
    """The source workload, the user's Service, the localPolicy Policies and the gateway's
    EndpointSlices, all by name or label in the ModelDeployment's namespace."""
    parent = request.parent
    namespace = namespace_of(parent) or None
    try:
        spec = ModelDeploymentSpec.model_validate(parent.get("spec") or {})
    except ValidationError:
        return CustomizeResponse()
    ref = spec.model_source_ref
    rules = [
        RelatedResourceRule(
            api_version="apps/v1",
            resource=SOURCE_RESOURCES[ref.kind],
            namespace=namespace,
            names=[ref.name],
        ),
        RelatedResourceRule(
            api_version="v1",
            resource="services",
            namespace=namespace,
            names=[spec.service_ref.name],
        ),
        RelatedResourceRule(
            api_version="discovery.k8s.io/v1",
            resource="endpointslices",
            namespace=namespace,
            label_selector=LabelSelector(
                match_labels={
                    SERVICE_NAME_LABEL: build.gateway_service_name(name_of(parent)),
                    SLICE_MANAGER_LABEL: SLICE_CONTROLLER,
                }
            ),
        ),
    ]
    local = sorted({p.name for p in spec.policies if p.ref_type == "localPolicy"})
    if local:
        rules.append(
            RelatedResourceRule(
                api_version=POLICY_API_VERSION,
                resource=POLICY_PLURAL,
                namespace=namespace,
                names=local,
            )
        )
    return CustomizeResponse(related_resources=rules)


def _child(api_version: str, resource: str, kind: str) -> Resource:
    return Resource(api_version, resource, kind, update="InPlace")


MODEL_DEPLOYMENT = Controller(
    name="modeldeployment",
    kind="CompositeController",
    parent=MODEL_DEPLOYMENTS,
    sync=sync,
    customize=customize,
    children=(
        _child("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
        _child("v1", "services", "Service"),
        _child("v1", "configmaps", "ConfigMap"),
        _child("apps/v1", "deployments", "Deployment"),
        _child("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    ),
)
MODEL_DEPLOYMENT_ISTIO = Controller(
    name="modeldeployment-istio",
    kind="DecoratorController",
    parent=MODEL_DEPLOYMENTS,
    sync=sync_istio,
    children=(
        _child("networking.istio.io/v1", "virtualservices", "VirtualService"),
        _child("networking.istio.io/v1", "destinationrules", "DestinationRule"),
    ),
)
MODEL_DEPLOYMENT_GATEWAY_API = Controller(
    name="modeldeployment-gatewayapi",
    kind="DecoratorController",
    parent=MODEL_DEPLOYMENTS,
    sync=sync_gateway_api,
    children=(_child("gateway.networking.k8s.io/v1", "httproutes", "HTTPRoute"),),
)
POLICY = Controller(
    name="policy",
    kind="CompositeController",
    parent=POLICIES,
    sync=sync_policy,
    customize=customize_policy,
)
CONTROLLERS = (MODEL_DEPLOYMENT, MODEL_DEPLOYMENT_ISTIO, MODEL_DEPLOYMENT_GATEWAY_API, POLICY)
"""The composite controller first: `aihooks render` gives a ModelDeployment to the first
controller that watches it."""
