"""Status conditions per the Kubernetes API conventions.

A hook states the conditions it wants; `merge_conditions` carries each
condition's `lastTransitionTime` over from the previous status while its
`status` is unchanged, so two syncs of the same inputs give the same status.
The schema is metav1.Condition's exactly (required fields, patterns, lengths), and
what reaches it is made to fit: a previous time that is not RFC 3339 is replaced,
a message longer than the limit is cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from hooks.k8s.model import KubeModel

ConditionStatus = Literal["True", "False", "Unknown"]
MESSAGE_MAX = 32768
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


class Condition(KubeModel):
    """One aspect of the object's state (metav1.Condition)."""

    type: str = Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        max_length=316,
    )
    """Type of condition in CamelCase, e.g. Ready."""
    status: ConditionStatus
    """Status of the condition: True, False or Unknown."""
    reason: str = Field(
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", min_length=1, max_length=1024
    )
    """Machine-readable CamelCase reason for the condition's last transition."""
    message: str = Field(max_length=MESSAGE_MAX)
    """Human-readable details about the transition."""
    last_transition_time: str = Field(json_schema_extra={"format": "date-time"})
    """When the condition last changed status (RFC 3339)."""
    # Optional but never null, as in metav1.Condition: None is left out of the JSON.
    observed_generation: Annotated[int, Field(ge=0)] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra={"format": "int64"}
    )
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
    utc = moment.astimezone(UTC)
    # strftime's %Y drops the leading zeros of years before 1000.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


def is_rfc3339(value: object) -> bool:
    """True when value is a time the API server accepts for `format: date-time`."""
    if not isinstance(value, str) or len(value) > 64 or not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


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
        since = kept if isinstance(kept, str) and is_rfc3339(kept) else rfc3339(now)
        condition = Condition(
            type=want.type,
            status=status,
            reason=want.reason,
            message=_fitted(want.message),
            last_transition_time=since,
            observed_generation=generation,
        )
        result.append(condition.to_json())
    return result


def _fitted(message: str) -> str:
    if len(message) <= MESSAGE_MAX:
        return message
    return message[: MESSAGE_MAX - 1] + "…"


def condition_of(status: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    """The condition of that type in a status, if any."""
    for condition in (status or {}).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == type_:
            return condition
    return None
