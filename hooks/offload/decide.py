"""The share of requests sent to the remote: pure, from the views, the last status and `now`.

Two parts. The metric share is a latch with windows: it turns on (to
`behavior.percentage`) once the metrics have pushed towards offloading for the
scaleUp window, and off once they have stopped pushing for the scaleDown window.
The moment the push last changed is the `MetricsOverTarget` condition's
`lastTransitionTime`, and the latch is the last status' `metricPercentage`, so the
same inputs always give the same answer and a resync wakes the hook when a window
ends. Over it, the source: no ready replica means 100 % at once; no eligible
backend means 0 %, whatever else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from hooks.k8s.conditions import condition_of

from .api import (
    METRICS_OVER_TARGET,
    REASON_BELOW_TARGET,
    REASON_METRIC_OVER_TARGET,
    REASON_METRICS_UNAVAILABLE,
    REASON_SOURCE_UNAVAILABLE,
    Behavior,
    ScalingRules,
)
from .metrics import Reading, pressure

DEFAULT_UP_WINDOW = 30
DEFAULT_DOWN_WINDOW = 300
DEFAULT_UP_TOLERANCE = Fraction(0)
DEFAULT_DOWN_TOLERANCE = Fraction(1, 10)


@dataclass(frozen=True, slots=True)
class Windows:
    up: timedelta
    down: timedelta
    up_tolerance: Fraction
    down_tolerance: Fraction


def windows_of(behavior: Behavior) -> Windows:
    up = behavior.scale_up or ScalingRules()
    down = behavior.scale_down or ScalingRules()
    up_window, down_window = up.stabilization_window_seconds, down.stabilization_window_seconds
    return Windows(
        up=timedelta(seconds=DEFAULT_UP_WINDOW if up_window is None else up_window),
        down=timedelta(seconds=DEFAULT_DOWN_WINDOW if down_window is None else down_window),
        up_tolerance=_fraction(up.tolerance, DEFAULT_UP_TOLERANCE),
        down_tolerance=_fraction(down.tolerance, DEFAULT_DOWN_TOLERANCE),
    )


def _fraction(value: float | None, default: Fraction) -> Fraction:
    # Limited to what people write (0.05, 0.1): no float noise in comparisons.
    return default if value is None else Fraction(value).limit_denominator(10_000)


@dataclass(frozen=True, slots=True)
class Previous:
    """What the last status remembers."""

    latched: bool
    """The metric share was on."""
    pushing: bool | None
    """The MetricsOverTarget condition's status."""
    since: datetime | None
    """Its lastTransitionTime."""


def previous_of(status: Mapping[str, Any] | None) -> Previous:
    status = status if isinstance(status, Mapping) else {}
    share = status.get("metricPercentage")
    condition = condition_of(status, METRICS_OVER_TARGET) or {}
    pushing = {"True": True, "False": False}.get(str(condition.get("status")))
    return Previous(
        latched=isinstance(share, int) and not isinstance(share, bool) and share > 0,
        pushing=pushing,
        since=_parse_time(condition.get("lastTransitionTime")),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _next_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class MetricState:
    """The latch after this sync."""

    latched: bool
    pushing: bool | None
    """None: no reading could say (the previous status is kept)."""
    since: datetime | None
    wake_at: datetime | None
    """When a window ends, if one is running."""


def step(previous: Previous, pushing: bool | None, windows: Windows, now: datetime) -> MetricState:
    """One sync of the latch."""
    if pushing is None:
        return MetricState(previous.latched, previous.pushing, previous.since, None)
    # Status times have whole seconds: a window starts at the next one, so that it is
    # never cut short by the rounding of the time it is read back from.
    start = _next_second(now)
    since = previous.since if previous.pushing is pushing and previous.since else start
    since = min(since, start)
    if not previous.latched:
        if not pushing:
            return MetricState(False, pushing, since, None)
        if now - since >= windows.up:
            return MetricState(True, pushing, since, None)
        return MetricState(False, pushing, since, since + windows.up)
    if pushing:
        return MetricState(True, pushing, since, None)
    if now - since >= windows.down:
        return MetricState(False, pushing, since, None)
    return MetricState(True, pushing, since, since + windows.down)


@dataclass(frozen=True, slots=True)
class Decision:
    remote_percentage: int
    metric_percentage: int
    reason: str
    message: str
    state: MetricState


def decide(
    *,
    readings: Sequence[Reading],
    unreadable_message: str,
    source_down: bool,
    source_message: str,
    behavior: Behavior,
    previous: Previous,
    now: datetime,
) -> Decision:
    """The split, given that a backend is eligible (the caller sends 0 % otherwise).

    Readings without a value (no HPA status yet, ScalingActive=False) leave the push
    unknown unless another metric settles it: the latch holds and the reason says so.
    """
    windows = windows_of(behavior)
    push = pressure(
        readings,
        offloading=previous.latched,
        up_tolerance=windows.up_tolerance,
        down_tolerance=windows.down_tolerance,
    )
    state = step(previous, push, windows, now)
    share = behavior.percentage if state.latched else 0
    if source_down:
        return Decision(100, share, REASON_SOURCE_UNAVAILABLE, source_message, state)
    if push is None:
        message = (
            f"Metrics cannot be read ({unreadable_message}); keeping {share}% remote until they can"
        )
        return Decision(share, share, REASON_METRICS_UNAVAILABLE, message, state)
    over = [r.target.name for r in readings if r.over]
    if state.latched:
        message = (
            f"{', '.join(over)} over target: {share}% of requests go to the remote"
            if over
            else f"Metrics back under target; {share}% remote until the scaleDown window "
            f"of {int(windows.down.total_seconds())}s has passed"
        )
        return Decision(share, share, REASON_METRIC_OVER_TARGET, message, state)
    if push:
        message = (
            f"{', '.join(over) or 'A metric'} over target; offloading after the scaleUp "
            f"window of {int(windows.up.total_seconds())}s"
        )
    else:
        message = "Every metric is under its target" if readings else "No metrics to watch"
    return Decision(0, 0, REASON_BELOW_TARGET, message, state)
