"""The status of a ModelDeployment and of a Policy: what was observed, then what was decided.

Every field is a function of the inputs; time enters only through conditions'
`lastTransitionTime`, kept by `merge_conditions` while a status does not change.
The `MetricsOverTarget` condition is also the memory of the sustain windows: its
transition time is when the metrics last started or stopped pushing, so it is set
from the decision's own `since`, not from `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hooks.k8s.conditions import Want, merge_conditions, rfc3339
from hooks.k8s.objects import JSON, generation_of

from .api import (
    METRICS_OVER_TARGET,
    READY,
    REMOTE_POLICIES,
    MetricValue,
    ModelDeploymentStatus,
    PolicyStatus,
)
from .decide import MetricState
from .metrics import Reading


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything the ModelDeployment status reports."""

    ready: Want
    offloading: Want
    remote_percentage: int
    metric_percentage: int
    backend: str | None
    source_ready: int
    selector: str | None
    readings: Sequence[Reading] = ()
    state: MetricState | None = None
    """None: no metrics are watched (no MetricsOverTarget condition)."""
    remote_policies: Sequence[str] = ()


def model_deployment_status(parent: Mapping[str, Any], outcome: Outcome, now: datetime) -> JSON:
    previous = (parent.get("status") or {}).get("conditions")
    wanted = [outcome.ready, outcome.offloading]
    state = outcome.state
    if state is not None:
        wanted.append(_metrics_condition(outcome.readings, state))
    if outcome.remote_policies:
        names = ", ".join(outcome.remote_policies)
        wanted.append(
            Want(
                REMOTE_POLICIES,
                True,
                "PassedOn",
                f"Remote policies {names} are sent to the remote in the "
                "X-Offload-Remote-Policies header; the remote enforces them",
            )
        )
    conditions = merge_conditions(previous, wanted, now=now, generation=generation_of(parent))
    if state is not None and state.since is not None:
        # The window's start is the decision's, which may predate this sync.
        for condition in conditions:
            if condition["type"] == METRICS_OVER_TARGET:
                condition["lastTransitionTime"] = rfc3339(state.since)
    status = ModelDeploymentStatus(
        offloading_status=outcome.remote_percentage > 0,
        remote_percentage=outcome.remote_percentage,
        metric_percentage=outcome.metric_percentage,
        backend=outcome.backend,
        source_ready_replicas=outcome.source_ready,
        metrics=[_metric_value(r) for r in outcome.readings],
        selector=outcome.selector,
        conditions=conditions,
    )
    return status.to_json()


def _metrics_condition(readings: Sequence[Reading], state: MetricState) -> Want:
    shown = "; ".join(
        f"{r.target.name} {r.current_text or 'unknown'}/{r.target.target_text}" for r in readings
    )
    if state.pushing is None:
        return Want(METRICS_OVER_TARGET, None, "Unknown", f"Not measured yet: {shown}")
    if state.pushing:
        return Want(METRICS_OVER_TARGET, True, "OverTarget", shown)
    return Want(METRICS_OVER_TARGET, False, "UnderTarget", shown or "No metrics")


def _metric_value(reading: Reading) -> MetricValue:
    return MetricValue(
        name=reading.target.name,
        current=reading.current_text,
        target=reading.target.target_text,
        over=reading.over,
    )


def policy_status(
    parent: Mapping[str, Any], *, valid: bool, message: str, users: Sequence[str], now: datetime
) -> JSON:
    previous = (parent.get("status") or {}).get("conditions")
    ready = Want(READY, valid, "Valid" if valid else "Invalid", message)
    conditions = merge_conditions(previous, [ready], now=now, generation=generation_of(parent))
    status = PolicyStatus(
        valid=valid,
        model_deployments=list(users[:50]),
        model_deployment_count=len(users),
        conditions=conditions,
    )
    return status.to_json()
