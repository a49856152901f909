"""Every metric type and target type against current values, the right way round."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from hooks.offload.metrics import MetricError, pressure, read_current, read_targets


def _target(kind: str, value: Any) -> dict[str, Any]:
    field = {"Utilization": "averageUtilization", "Value": "value", "AverageValue": "averageValue"}
    return {"type": kind, field[kind]: value}


def _current(kind: str, value: Any) -> dict[str, Any]:
    field = {"Utilization": "averageUtilization", "Value": "value", "AverageValue": "averageValue"}
    return {field[kind]: value}


SOURCES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # source type: (spec body without target, status body without current)
    "Resource": ({"name": "cpu"}, {"name": "cpu"}),
    "ContainerResource": ({"name": "cpu", "container": "app"}, {"name": "cpu", "container": "app"}),
    "Pods": ({"metric": {"name": "rps"}}, {"metric": {"name": "rps"}}),
    "Object": (
        {"metric": {"name": "rps"}, "describedObject": {"kind": "Ingress", "name": "main"}},
        {"metric": {"name": "rps"}, "describedObject": {"kind": "Ingress", "name": "main"}},
    ),
    "External": ({"metric": {"name": "queue"}}, {"metric": {"name": "queue"}}),
}
FIELD = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def spec_metric(source: str, target_type: str, value: Any) -> dict[str, Any]:
    body = {**SOURCES[source][0], "target": _target(target_type, value)}
    return {"type": source, FIELD[source]: body}


def status_metric(source: str, target_type: str, value: Any) -> dict[str, Any]:
    body = {**SOURCES[source][1], "current": _current(target_type, value)}
    return {"type": source, FIELD[source]: body}


# (source, target type, target, current, over): the original read Value and
# AverageValue the wrong way round (target > current meant "over").
CASES = [
    ("Resource", "Utilization", 90, 95, True),
    ("Resource", "Utilization", 90, 90, False),
    ("Resource", "Utilization", 90, 30, False),
    ("Resource", "AverageValue", "500m", "600m", True),
    ("Resource", "AverageValue", "500m", "400m", False),
    ("ContainerResource", "Utilization", 80, 81, True),
    ("ContainerResource", "AverageValue", "1Gi", "512Mi", False),
    ("Pods", "AverageValue", "10", "12", True),
    ("Pods", "AverageValue", 10, "9500m", False),
    ("Object", "Value", "2k", "2001", True),
    ("Object", "Value", "2k", "1999", False),
    ("Object", "AverageValue", "100", "150", True),
    ("External", "Value", "100", "50", False),
    ("External", "Value", 100, "150", True),
    ("External", "AverageValue", "30", "31", True),
    ("External", "AverageValue", "30", "3", False),
]


@pytest.mark.parametrize(("source", "kind", "target", "current", "over"), CASES)
def test_current_against_target(
    source: str, kind: str, target: Any, current: Any, over: bool
) -> None:
    targets = read_targets([spec_metric(source, kind, target)])
    (reading,) = read_current(targets, [status_metric(source, kind, current)])
    assert reading.current is not None
    assert reading.over is over
    assert (
        pressure([reading], offloading=False, up_tolerance=Fraction(0), down_tolerance=Fraction(0))
        is over
    )


def test_status_entries_are_matched_by_identity_not_only_position() -> None:
    targets = read_targets(
        [spec_metric("Resource", "Utilization", 90), spec_metric("Pods", "AverageValue", "10")]
    )
    # Reversed, as a status written for an older spec order would be.
    current = [
        status_metric("Pods", "AverageValue", "11"),
        status_metric("Resource", "Utilization", 20),
    ]
    cpu, rps = read_current(targets, current)
    assert (cpu.current, cpu.over) == (Fraction(20), False)
    assert (rps.current, rps.over) == (Fraction(11), True)


def test_a_failed_metric_reads_as_unknown_never_zero() -> None:
    targets = read_targets([spec_metric("Resource", "Utilization", 90)])
    # What the HPA controller writes for a metric it could not compute.
    (reading,) = read_current(targets, [{"type": ""}])
    assert reading.current is None
    off = pressure(
        [reading], offloading=False, up_tolerance=Fraction(0), down_tolerance=Fraction(0)
    )
    on = pressure([reading], offloading=True, up_tolerance=Fraction(0), down_tolerance=Fraction(0))
    assert off is None
    assert on is None


def test_one_metric_over_is_enough_even_when_another_is_unknown() -> None:
    targets = read_targets(
        [spec_metric("Resource", "Utilization", 90), spec_metric("External", "Value", "5")]
    )
    readings = read_current(targets, [{"type": ""}, status_metric("External", "Value", "6")])
    up = pressure(readings, offloading=False, up_tolerance=Fraction(0), down_tolerance=Fraction(0))
    assert up is True
    # Stopping needs every metric under: an unknown one cannot say so.
    down = pressure(readings, offloading=True, up_tolerance=Fraction(0), down_tolerance=Fraction(0))
    assert down is True


@pytest.mark.parametrize(
    ("current", "offloading", "want"),
    [
        (95, False, False),  # within scaleUp tolerance: 90 x 1.1 = 99
        (100, False, True),
        (85, True, True),  # above 90 x (1 - 0.1) = 81: the band keeps offloading
        (80, True, False),
    ],
)
def test_tolerances_make_a_band(current: int, offloading: bool, want: bool) -> None:
    targets = read_targets([spec_metric("Resource", "Utilization", 90)])
    readings = read_current(targets, [status_metric("Resource", "Utilization", current)])
    got = pressure(
        readings,
        offloading=offloading,
        up_tolerance=Fraction(1, 10),
        down_tolerance=Fraction(1, 10),
    )
    assert got is want


@pytest.mark.parametrize(
    "metric",
    [
        {"type": "Resource"},
        {"type": "Resource", "resource": {"name": "cpu"}},
        {"type": "Pods", "pods": {"target": {"type": "AverageValue"}}},
        {"type": "Pods", "pods": {"target": {"type": "AverageValue", "averageValue": "lots"}}},
        {"type": "Nope", "resource": {}},
        {"type": "External", "external": {"target": {"type": "Value", "value": "0"}}},
        {"type": "Pods", "pods": {"target": {"type": "AverageValue", "averageValue": "-1"}}},
    ],
)
def test_bad_metrics_are_errors(metric: dict[str, Any]) -> None:
    with pytest.raises(MetricError):
        read_targets([metric])


def test_names_and_texts_for_people() -> None:
    targets = read_targets(
        [spec_metric("ContainerResource", "Utilization", 80), spec_metric("Object", "Value", "2k")]
    )
    readings = read_current(
        targets,
        [
            status_metric("ContainerResource", "Utilization", 85),
            status_metric("Object", "Value", "2500"),
        ],
    )
    assert [(r.target.name, r.current_text, r.target.target_text) for r in readings] == [
        ("ContainerResource cpu (app)", "85%", "80%"),
        ("Object rps (Ingress main)", "2500", "2k"),
    ]
