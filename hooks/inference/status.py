"""The status of an InferenceModel: computed from what is observed, then the decision.

`ready` and `replicas` come from the observed Deployment; `Ready` and `Available`
follow the Deployment while the model is meant to run, and the decision's reason
(`ScaledToZero`, `Pending`, `InsufficientMemory`, `Failed`) while it is not. No
field depends on the clock other than through `lastTransitionTime`, which
`merge_conditions` keeps while a condition's status does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hooks.k8s.conditions import Want, merge_conditions
from hooks.k8s.objects import (
    JSON,
    annotations_of,
    field_at,
    generation_of,
    meta,
    name_of,
    namespace_of,
)

from .api import (
    AVAILABLE,
    BACKEND_REFUSED_ANNOTATION,
    LEGACY_FINALIZER,
    ORIGINAL_FINALIZER,
    READY,
    REASON_BACKEND_NOT_ALLOWED,
    REASON_DEPLOYED,
    REASON_DEPLOYING,
    REASON_EXTERNAL,
    REASON_FAILED,
    REASON_LEGACY_FINALIZER,
    REASON_TERMINATING,
    ROUTABLE,
    InferenceModelStatus,
)
from .decide import Outcome
from .observe import Claim
from .rightsizing import right_sizing

DEPLOYED_READY = "Deployment is ready and serving traffic"
DEPLOYED_AVAILABLE = "Model is available and serving requests"


def wanted_conditions(
    outcome: Outcome, own: Claim | None, deployment: Mapping[str, Any] | None
) -> list[Want]:
    """`Ready` and `Available` for a model the controller runs."""
    if outcome.reason is not None:
        return both(False, outcome.reason, outcome.message)
    if own is not None and own.replicas > 0 and own.ready_pods > 0:
        return [
            Want(READY, True, REASON_DEPLOYED, DEPLOYED_READY),
            Want(AVAILABLE, True, REASON_DEPLOYED, DEPLOYED_AVAILABLE),
        ]
    failure = deployment_failure(deployment)
    if failure:
        return both(False, REASON_FAILED, failure)
    ready = own.ready_pods if own is not None else 0
    wanted = outcome.replicas
    return both(
        False,
        REASON_DEPLOYING,
        f"Waiting for the Deployment's pods to become ready ({ready}/{wanted} ready)",
    )


def both(status: bool | None, reason: str, message: str) -> list[Want]:
    """`Ready` and `Available` alike, as they are whenever the model does not serve."""
    return [Want(READY, status, reason, message), Want(AVAILABLE, status, reason, message)]


def deployment_failure(deployment: Mapping[str, Any] | None) -> str | None:
    """The Deployment's own report that it cannot progress, if any."""
    conditions = field_at(deployment, "status", "conditions")
    for condition in conditions if isinstance(conditions, list) else ():
        if not isinstance(condition, Mapping):
            continue
        kind, state = condition.get("type"), condition.get("status")
        stuck = kind == "Progressing" and state == "False"
        if stuck or (kind == "ReplicaFailure" and state == "True"):
            reason = condition.get("reason", kind)
            return f"Deployment {reason}: {condition.get('message', '')}".rstrip(": ")
    return None


def model_status(
    parent: Mapping[str, Any],
    *,
    declared: str,
    wanted: Sequence[Want],
    own: Claim | None,
    managed: bool,
    now: datetime,
) -> JSON:
    """The whole status; `ready` and `replicas` are left out for a backend run elsewhere."""
    previous = field_at(parent, "status", "conditions")
    wanted = [*wanted, *routable(parent), *legacy_finalizer(parent)]
    conditions = merge_conditions(previous, wanted, now=now, generation=generation_of(parent))
    sizing = right_sizing(declared, annotations_of(parent))
    ready = replicas = None
    if managed:
        replicas = own.pods if own is not None else 0
        ready = any(w.type == READY and w.status is True for w in wanted)
    status = InferenceModelStatus.model_validate(
        {
            "ready": ready,
            "replicas": replicas,
            "observed_peak_memory": sizing.observed_peak_memory,
            "utilization_percent": sizing.utilization_percent,
            "recommendation": sizing.recommendation,
            "last_observation": sizing.last_observation,
            "conditions": conditions,
        }
    )
    return status.to_json()


def external_conditions(backend_url: str) -> list[Want]:
    message = (
        f"No containerImage: the backend at {backend_url} is managed outside this controller;"
        " its readiness is not observed"
    )
    return both(None, REASON_EXTERNAL, message)


def terminating_conditions(own: Claim | None) -> list[Want]:
    if own is None:
        message = "Model is being deleted: its Deployment is gone"
    elif own.occupying:
        message = f"Model is being deleted: scaling its Deployment to zero ({own.pods} pods left)"
    else:
        message = "Model is being deleted: deleting its Deployment"
    return both(False, REASON_TERMINATING, message)


def routable(parent: Mapping[str, Any]) -> list[Want]:
    """`Routable=False` while the request router reports it refuses the backend."""
    refused = annotations_of(parent).get(BACKEND_REFUSED_ANNOTATION)
    if not refused:
        return []
    message = f"The request router refuses to forward to this backend: {refused[:1024]}"
    return [Want(ROUTABLE, False, REASON_BACKEND_NOT_ALLOWED, message)]


def legacy_finalizer(parent: Mapping[str, Any]) -> list[Want]:
    """`LegacyFinalizer` while the original controller's finalizer is on the object, with
    the one command that removes it (a JSON patch that first tests the entry it removes,
    so it cannot remove another finalizer that moved into its place)."""
    finalizers = meta(parent).get("finalizers")
    if not isinstance(finalizers, list) or ORIGINAL_FINALIZER not in finalizers:
        return []
    index = finalizers.index(ORIGINAL_FINALIZER)
    path = f"/metadata/finalizers/{index}"
    patch = (
        f'[{{"op":"test","path":"{path}","value":"{ORIGINAL_FINALIZER}"}},'
        f'{{"op":"remove","path":"{path}"}}]'
    )
    message = (
        f"The finalizer {ORIGINAL_FINALIZER} of the original inference-budget controller is"
        " on this object and nothing here removes it, so deleting it would hang; remove it"
        f" with: kubectl patch inferencemodel {name_of(parent)} -n {namespace_of(parent)}"
        f" --type json -p '{patch}'"
    )
    return [Want(LEGACY_FINALIZER, True, REASON_LEGACY_FINALIZER, message)]
