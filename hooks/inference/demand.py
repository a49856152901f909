"""Demand: when a model was last asked for, how long it stays warm, what it waits for.

A model's own demand is the newest of its `last-request-time` annotation and its
`creationTimestamp` (so a new model starts once, then cools down). Demand flows
along dependencies: a model is active while its own cooldown runs or while any
model that (transitively) depends on it is active, so dependencies wake first and
stay up while a dependent is busy. Everything here is a pure function of the
objects and of `now`; activity windows are absolute times, so messages built from
them do not change from one sync to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import lru_cache

DEFAULT_COOLDOWN = timedelta(minutes=10)
_UNITS = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "μs": Fraction(1, 10**6),
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}
_TERM = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_SECONDS = Fraction(2**63 - 1, 10**9)
"""Go's time.Duration is int64 nanoseconds: metav1.Duration cannot hold more."""
MAX_DURATION_TEXT = 64
"""Longer durations are refused before parsing (the CRD's `cooldownPeriod` maxLength)."""
MAX_TIME_TEXT = 64
"""No RFC 3339 time is longer; annotations are tenant-written, so longer is not a time."""
_LATEST = datetime.max.replace(tzinfo=UTC)


@lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta | None:
    """A Go duration (`10m`, `1h30m`, `15m0s`, `0`), or None when it is not one."""
    if text == "0":
        return timedelta(0)
    if len(text) > MAX_DURATION_TEXT:
        return None
    position, total = 0, Fraction(0)
    for match in _TERM.finditer(text):
        if match.start() != position:
            return None
        total += Fraction(match[1]) * _UNITS[match[2]]
        position = match.end()
    if position != len(text) or not text or total > _MAX_SECONDS:
        return None
    return timedelta(microseconds=int(total * 10**6))


def parse_cooldown(value: object) -> timedelta | None:
    """`spec.cooldownPeriod` as a timedelta; None when absent or invalid."""
    return parse_duration(value) if isinstance(value, str) else None


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time in UTC, or None (annotations are user-editable)."""
    if not isinstance(value, str) or not value or len(value) > MAX_TIME_TEXT:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        # 0001-01-01T00:00:00+14:00 is before the first moment Python can hold in UTC.
        return moment.astimezone(UTC) if moment.tzinfo else None
    except (ValueError, OverflowError):
        return None


def newest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


@dataclass(frozen=True, slots=True)
class Demand:
    """What one model contributes: its own last demand and how long it keeps it warm."""

    key: str
    namespace: str
    model_name: str
    dependencies: tuple[str, ...]
    last: datetime | None
    cooldown: timedelta
    deleting: bool = False

    @property
    def until(self) -> datetime | None:
        if self.deleting or self.last is None:
            return None
        try:
            return self.last + self.cooldown
        except OverflowError:
            return _LATEST


@dataclass(frozen=True, slots=True)
class Activity:
    """A model's demand once its dependents' is added: when it ends, and the newest request."""

    until: datetime | None
    latest: datetime | None

    def active(self, now: datetime) -> bool:
        return self.until is not None and now < self.until


def by_model_name(demands: Iterable[Demand]) -> dict[tuple[str, str], list[Demand]]:
    """Models indexed by (namespace, modelName), each list sorted by key."""
    index: dict[tuple[str, str], list[Demand]] = {}
    for demand in sorted(demands, key=lambda d: d.key):
        index.setdefault((demand.namespace, demand.model_name), []).append(demand)
    return index


def activities(demands: Sequence[Demand]) -> dict[str, Activity]:
    """Every model's activity, its dependents' demand included.

    Each model that has dependencies pushes its own window to everything it
    reaches; the cost is the sum of those reaches (linear for the shallow graphs
    pipelines make), and cycles are harmless.
    """
    index = by_model_name(demands)
    until = {d.key: d.until for d in demands}
    latest = {d.key: None if d.deleting else d.last for d in demands}
    for source in demands:
        if not source.dependencies or source.deleting:
            continue
        seen = {source.key}
        frontier = [source]
        while frontier:
            current = frontier.pop()
            for name in current.dependencies:
                for target in index.get((current.namespace, name), ()):
                    if target.key in seen:
                        continue
                    seen.add(target.key)
                    until[target.key] = newest(until[target.key], source.until)
                    latest[target.key] = newest(latest[target.key], source.last)
                    frontier.append(target)
    return {key: Activity(until[key], latest[key]) for key in until}


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Whether a model may start as far as its dependencies go."""

    missing: tuple[str, ...] = ()
    not_ready: tuple[str, ...] = ()
    cycle: tuple[str, ...] = ()
    """Model names along a cycle through this model, first and last equal."""

    @property
    def satisfied(self) -> bool:
        return not (self.missing or self.not_ready or self.cycle)


def check_dependencies(
    me: Demand, index: Mapping[tuple[str, str], list[Demand]], ready: Mapping[str, bool]
) -> Dependencies:
    """Resolve `me`'s dependencies by modelName in its namespace.

    A name matching several models is satisfied when any of them is ready.
    """
    missing, not_ready = [], []
    for name in dict.fromkeys(me.dependencies):
        targets = index.get((me.namespace, name), [])
        if not targets:
            missing.append(name)
        elif not any(ready.get(t.key, False) for t in targets):
            not_ready.append(name)
    return Dependencies(tuple(missing), tuple(not_ready), find_cycle(me, index))


def find_cycle(me: Demand, index: Mapping[tuple[str, str], list[Demand]]) -> tuple[str, ...]:
    """The shortest dependency path from `me` back to itself, as model names; () if none."""
    parents: dict[str, Demand | None] = {me.key: None}
    frontier = [me]
    while frontier:
        following = []
        for current in frontier:
            for name in current.dependencies:
                for target in index.get((current.namespace, name), ()):
                    if target.key == me.key:
                        return (*_path(current, parents), me.model_name)
                    if target.key not in parents:
                        parents[target.key] = current
                        following.append(target)
        frontier = following
    return ()


def _path(last: Demand, parents: Mapping[str, Demand | None]) -> tuple[str, ...]:
    names = []
    step: Demand | None = last
    while step is not None:
        names.append(step.model_name)
        step = parents[step.key]
    return tuple(reversed(names))
