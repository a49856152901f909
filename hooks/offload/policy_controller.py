"""The Policy controller: a Policy's validity and the ModelDeployments that use it.

Its related objects are the ModelDeployments of its namespace, so a ModelDeployment
that starts or stops referencing it re-syncs it; the list it reports is bounded.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    RelatedResourceRule,
)
from hooks.k8s.objects import JSON, name_of, namespace_of
from hooks.settings import Settings

from .api import API_VERSION, KIND, PLURAL, PolicySpec
from .status import policy_status


def sync_policy(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    parent = request.parent
    name, namespace = name_of(parent), namespace_of(parent)
    try:
        spec: PolicySpec | None = PolicySpec.model_validate(parent.get("spec") or {})
    except ValidationError:
        spec = None
    if spec is None:
        valid, message = False, "The spec does not parse"
    elif spec.type == "location":
        valid = bool(spec.locations)
        places = ", ".join(f"{p.type} {p.name}" for p in spec.locations)
        message = f"Backends must run in one of: {places}" if valid else "No locations"
    else:
        valid = bool(spec.flavors)
        offered = ", ".join(f"{f.type} {f.name}" for f in spec.flavors)
        message = f"Backends must offer one of: {offered}" if valid else "No flavors"
    users = sorted(
        name_of(md)
        for md in request.related_of(f"{KIND}.{API_VERSION}")
        if namespace_of(md) == namespace and _uses(md, name)
    )
    status = policy_status(parent, valid=valid, message=message, users=users, now=now)
    return CompositeResponse(status=status, children=[])


def _uses(model_deployment: JSON, policy: str) -> bool:
    spec = model_deployment.get("spec")
    policies = spec.get("policies") if isinstance(spec, dict) else None
    return any(
        isinstance(ref, dict) and ref.get("refType") == "localPolicy" and ref.get("name") == policy
        for ref in (policies or [])[:32]
    )


def customize_policy(
    request: CustomizeRequest, *, now: datetime, settings: Settings
) -> CustomizeResponse:
    """The ModelDeployments of the Policy's namespace (to count its users)."""
    namespace = namespace_of(request.parent) or None
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(api_version=API_VERSION, resource=PLURAL, namespace=namespace)
        ]
    )
