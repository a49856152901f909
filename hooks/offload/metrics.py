"""Each metric of `offloadingConfig.metrics[]` against its target, read from the HPA's status.

The HPA controller measures the source's pods (through the ModelDeployment's scale
subresource) and writes `status.currentMetrics`, one entry per spec metric in spec
order. Here each entry is matched to its spec metric and compared with the target
the right way round: a metric is over when current > target, for Utilization
(percent of the pods' requests, already averaged once by the HPA), Value and
AverageValue alike. What cannot be read is `None`, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hooks.k8s.quantity import Quantity, QuantityError, format_quantity

from .metricspec import MAX_METRICS, SOURCES

_TARGET_FIELDS = {
    "Utilization": "averageUtilization",
    "Value": "value",
    "AverageValue": "averageValue",
}


@dataclass(frozen=True, slots=True)
class Target:
    """One spec metric: what it measures and the value it must stay under."""

    name: str
    """For people: `Resource cpu`, `Pods requests-per-second`."""
    source: str
    """The MetricSpec type."""
    identity: tuple[str, ...]
    """What an HPA status entry must name to be this metric's."""
    target_type: str
    target: Fraction
    target_text: str


@dataclass(frozen=True, slots=True)
class Reading:
    """A metric as last measured."""

    target: Target
    current: Fraction | None
    """None: the HPA has no value for it."""
    current_text: str | None

    def above(self, factor: Fraction) -> bool | None:
        """current > target x factor; None when unknown."""
        if self.current is None:
            return None
        return self.current > self.target.target * factor

    @property
    def over(self) -> bool:
        return self.current is not None and self.current > self.target.target


class MetricError(ValueError):
    """A spec metric the CRD schema should have refused (a bad quantity, no target)."""


def read_targets(metrics: Sequence[Mapping[str, Any]]) -> list[Target]:
    """The spec metrics as targets; MetricError names the first bad one."""
    return [_target(i, metric) for i, metric in enumerate(metrics)]


def _target(index: int, metric: Mapping[str, Any]) -> Target:
    source = str(metric.get("type", ""))
    field = SOURCES.get(source)
    body = metric.get(field) if field else None
    if not isinstance(body, Mapping):
        raise MetricError(f"metrics[{index}]: type {source!r} without its source")
    target = body.get("target")
    if not isinstance(target, Mapping):
        raise MetricError(f"metrics[{index}]: no target")
    target_type = str(target.get("type", ""))
    key = _TARGET_FIELDS.get(target_type)
    raw = target.get(key) if key else None
    if raw is None:
        raise MetricError(f"metrics[{index}]: target type {target_type!r} without its value")
    value = _number(raw, utilization=target_type == "Utilization")
    if value is None:
        raise MetricError(f"metrics[{index}]: target {raw!r} is not a quantity")
    if value <= 0:
        # The HPA API refuses it, and would refuse the metrics HPA with it.
        raise MetricError(f"metrics[{index}]: target {raw!r} must be above 0")
    identity, name = _identity(source, body)
    text = f"{raw}%" if target_type == "Utilization" else str(raw)
    return Target(name, source, identity, target_type, value, text)


def _identity(source: str, body: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    if source in ("Resource", "ContainerResource"):
        resource = str(body.get("name", ""))
        container = str(body.get("container", ""))
        shown = f"{resource} ({container})" if container else resource
        return (source, resource, container), f"{source} {shown}"
    metric = body.get("metric")
    metric_name = str(metric.get("name", "")) if isinstance(metric, Mapping) else ""
    if source == "Object":
        described = body.get("describedObject")
        described = described if isinstance(described, Mapping) else {}
        kind, obj = str(described.get("kind", "")), str(described.get("name", ""))
        return (source, metric_name, kind, obj), f"Object {metric_name} ({kind} {obj})"
    return (source, metric_name), f"{source} {metric_name}"


def _number(raw: Any, *, utilization: bool) -> Fraction | None:
    if utilization:
        return Fraction(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    try:
        return Quantity.parse(raw).value
    except QuantityError:
        return None


def read_current(targets: Sequence[Target], current_metrics: Sequence[Any] | None) -> list[Reading]:
    """Each target with its value from `status.currentMetrics` (positional, checked by name)."""
    # The HPA writes one entry per spec metric; more is not an HPA's status.
    entries = [e for e in (current_metrics or ())[: 4 * MAX_METRICS] if isinstance(e, Mapping)]
    readings = []
    for index, target in enumerate(targets):
        entry = entries[index] if index < len(entries) else None
        if entry is None or _status_identity(entry) != target.identity:
            entry = next((e for e in entries if _status_identity(e) == target.identity), None)
        readings.append(_reading(target, entry))
    return readings


def _status_identity(entry: Mapping[str, Any]) -> tuple[str, ...] | None:
    source = str(entry.get("type", ""))
    field = SOURCES.get(source)
    body = entry.get(field) if field else None
    if not isinstance(body, Mapping):
        return None
    return _identity(source, body)[0]


def _reading(target: Target, entry: Mapping[str, Any] | None) -> Reading:
    if entry is None:
        return Reading(target, None, None)
    current = entry[SOURCES[target.source]].get("current")
    raw = current.get(_TARGET_FIELDS[target.target_type]) if isinstance(current, Mapping) else None
    if raw is None:
        return Reading(target, None, None)
    value = _number(raw, utilization=target.target_type == "Utilization")
    if value is None:
        return Reading(target, None, None)
    text = f"{raw}%" if target.target_type == "Utilization" else format_quantity(value)
    return Reading(target, value, text)


def pressure(
    readings: Sequence[Reading],
    *,
    offloading: bool,
    up_tolerance: Fraction,
    down_tolerance: Fraction,
) -> bool | None:
    """Whether the metrics push towards offloading; None when that cannot be told.

    Not offloading: True once any metric is above target x (1 + up). Offloading: True
    until every metric is below target x (1 - down), the band that stops flapping.
    One metric over is enough to say True even when others cannot be read; saying
    False needs them all.
    """
    if not readings:
        return False
    if not offloading:
        over = [r.above(1 + up_tolerance) for r in readings]
        if any(o is True for o in over):
            return True
        return None if any(o is None for o in over) else False
    # Offloading stops only when each metric is strictly under the lower band.
    under = [
        None if r.current is None else r.current < r.target.target * (1 - down_tolerance)
        for r in readings
    ]
    if any(u is False for u in under):
        return True
    return None if any(u is None for u in under) else False
