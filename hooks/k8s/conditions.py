"""Status conditions per the Kubernetes API conventions.

A hook states the conditions it wants; `merge_conditions` carries each
condition's `lastTransitionTime` over from the previous status while its
`status` is unchanged, so two syncs of the same inputs give the same status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from hooks.k8s.model import KubeModel

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(KubeModel):
    """One aspect of the object's state (metav1.Condition)."""

    type: str = Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        max_length=316,
    )
    """Type of condition in CamelCase, e.g. Ready."""
    status: ConditionStatus
    """Status of the condition: True, False or Unknown."""
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    """Machine-readable CamelCase reason for the condition's last transition."""
    message: str = Field(default="", max_length=32768)
    """Human-readable details about the transition."""
    last_transition_time: str
    """When the condition last changed status (RFC 3339)."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation the condition was set from."""


CONDITIONS_SCHEMA_EXTRA: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}
"""Schema markers for a `conditions` list: a map keyed by `type`, as kubectl expects."""


@dataclass(frozen=True)
class Want:
    """A condition as a hook wants it, before transition times are settled."""

    type: str
    status: bool | None
    reason: str
    message: str


def rfc3339(moment: datetime) -> str:
    """RFC 3339 text in UTC with second precision, as metav1.Time serialises."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    previous: Iterable[Mapping[str, Any]] | None,
    wanted: Sequence[Want],
    *,
    now: datetime,
    generation: int | None,
) -> list[dict[str, Any]]:
    """The conditions list for the new status, in the order wanted."""
    before = {c.get("type"): c for c in previous or () if isinstance(c, Mapping)}
    result = []
    for want in wanted:
        status: ConditionStatus = (
            "Unknown" if want.status is None else "True" if want.status else "False"
        )
        old = before.get(want.type) or {}
        kept = old.get("lastTransitionTime") if old.get("status") == status else None
        since = str(kept) if kept else rfc3339(now)
        condition = Condition(
            type=want.type,
            status=status,
            reason=want.reason,
            message=want.message,
            last_transition_time=since,
            observed_generation=generation,
        )
        result.append(condition.to_json())
    return result


def condition_of(status: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    """The condition of that type in a status, if any."""
    for condition in (status or {}).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == type_:
            return condition
    return None
