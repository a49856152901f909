"""The routing objects of the mesh modes: Istio's VirtualService and DestinationRule, and
the Gateway API's HTTPRoute.

Each mode is a DecoratorController of its own, because Metacontroller stops a whole
controller when one of its child kinds has no CRD: a cluster without Istio (or the
Gateway API) leaves out that one controller object and keeps the rest. The weights
are read from the ModelDeployment's `status.remotePercentage`, which the
`modeldeployment` controller decides, so they equal it by construction.
"""

from __future__ import annotations

from datetime import datetime

from hooks.contract import DecoratorRequest, DecoratorResponse, last_desired
from hooks.k8s.objects import sort_objects
from hooks.settings import Settings

from . import children as build
from .observe import InvalidSpec, Parent, read_parent


def _kept(request: DecoratorRequest) -> DecoratorResponse:
    """The routing objects as they are, for a spec that does not parse (the
    `modeldeployment` controller reports the field in `Ready`)."""
    kept = [last_desired(obj) for objs in request.attachments.values() for obj in objs.values()]
    return DecoratorResponse(attachments=sort_objects(kept))


def _mesh_inputs(request: DecoratorRequest) -> tuple[Parent, int | None] | None:
    """The ModelDeployment and the gateway's weight, when it routes at all; InvalidSpec
    when the spec does not parse."""
    refs = read_parent(request.object)
    if not refs.spec.enabled or refs.spec.offloading_config is None:
        return None
    status = request.object.get("status")
    status = status if isinstance(status, dict) else {}
    share = status.get("remotePercentage")
    share = share if isinstance(share, int) and 0 <= share <= 100 else 0
    return refs, share if status.get("backend") else None


def sync_istio(
    request: DecoratorRequest, *, now: datetime, settings: Settings
) -> DecoratorResponse:
    try:
        inputs = _mesh_inputs(request)
    except InvalidSpec:
        return _kept(request)
    if inputs is None or inputs[0].spec.routing.mode != "istio":
        return DecoratorResponse(attachments=[])
    refs, share = inputs
    service, port = refs.spec.service_ref.name, refs.spec.service_ref.target_port
    return DecoratorResponse(
        attachments=[
            build.build_destination_rule(refs.name, refs.namespace, service),
            build.build_virtual_service(refs.name, refs.namespace, service, port, share),
        ]
    )


def sync_gateway_api(
    request: DecoratorRequest, *, now: datetime, settings: Settings
) -> DecoratorResponse:
    try:
        inputs = _mesh_inputs(request)
    except InvalidSpec:
        return _kept(request)
    if inputs is None or inputs[0].spec.routing.mode != "gatewayAPI":
        return DecoratorResponse(attachments=[])
    refs, share = inputs
    spec = refs.spec
    route = build.build_http_route(
        refs.name,
        refs.namespace,
        spec.service_ref.name,
        spec.service_ref.target_port,
        share,
        spec.routing.parent_refs,
    )
    return DecoratorResponse(attachments=[route])
