"""The split across a sequence of syncs: sustain and hysteresis windows, failure and recovery.

Each step is a full sync of the ModelDeployment hook, its status fed back as the
next step's parent status, as Metacontroller does; the clock is the step's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from hooks.offload.controller import sync
from hooks.offload.decide import Previous, Windows, step
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.offload.factory import (
    CPU_90,
    cpu_current,
    hpa_status,
    model_deployment,
    request,
    user_service,
    workload,
)

SETTINGS = Settings()


@dataclass(frozen=True)
class Step:
    seconds: float
    """Since the start."""
    cpu: int | None
    """The HPA's reading; None: ScalingActive=False, nothing measured."""
    ready: int = 2
    want: int = 0
    """remotePercentage after this sync."""
    reason: str | None = None


def run(steps: list[Step], **spec: Any) -> list[dict[str, Any]]:
    status: dict[str, Any] | None = None
    answers = []
    for s in steps:
        parent = model_deployment(status=status, **spec)
        current = [cpu_current(s.cpu)] if s.cpu is not None else [{"type": ""}]
        hpa = hpa_status([CPU_90], current, active=s.cpu is not None)
        answer = sync(
            request(
                parent,
                related=[workload(ready=s.ready), user_service()],
                children=[hpa],
            ),
            now=NOW + timedelta(seconds=s.seconds),
            settings=SETTINGS,
        ).to_json()
        status = answer["status"]
        assert status["remotePercentage"] == s.want, (s, status)
        offloading = next(c for c in status["conditions"] if c["type"] == "Offloading")
        if s.reason:
            assert offloading["reason"] == s.reason, (s, offloading)
        answers.append(answer)
    return answers


CASES = {
    "under target stays local": [Step(0, 30), Step(60, 50), Step(600, 89)],
    "over for the scaleUp window offloads": [
        Step(0, 95, reason="BelowTarget"),
        Step(29, 95, reason="BelowTarget"),
        Step(30, 95, want=50, reason="MetricOverTarget"),
    ],
    "a dip restarts the scaleUp window": [
        Step(0, 95),
        Step(20, 50),
        Step(35, 95),
        Step(60, 95),
        Step(65, 95, want=50),
    ],
    "back under only after the scaleDown window": [
        Step(0, 95),
        Step(30, 95, want=50),
        Step(40, 40, want=50, reason="MetricOverTarget"),
        Step(339, 40, want=50),
        Step(340, 40, want=0, reason="BelowTarget"),
    ],
    "the tolerance band keeps offloading": [
        Step(0, 95),
        Step(30, 95, want=50),
        Step(40, 85, want=50),
        Step(400, 85, want=50),  # 85 > 90 x 0.9: still pushing
        Step(401, 70, want=50),
        Step(701, 70, want=0),
    ],
    "no ready replica sends everything at once": [
        Step(0, 30),
        Step(1, None, ready=0, want=100, reason="SourceUnavailable"),
        Step(2, 30, ready=2, want=0, reason="BelowTarget"),
    ],
    "recovery returns to the metric share": [
        Step(0, 95),
        Step(30, 95, want=50),
        Step(31, None, ready=0, want=100, reason="SourceUnavailable"),
        Step(60, None, ready=1, want=50, reason="MetricsUnavailable"),
        Step(75, 95, ready=1, want=50, reason="MetricOverTarget"),
    ],
    "unreadable metrics hold the share and say so": [
        Step(0, None, want=0, reason="MetricsUnavailable"),
        Step(10, 95),
        Step(40, 95, want=50),
        Step(50, None, want=50, reason="MetricsUnavailable"),
        Step(500, None, want=50, reason="MetricsUnavailable"),
    ],
}


@pytest.mark.parametrize("steps", CASES.values(), ids=CASES.keys())
def test_sequence(steps: list[Step]) -> None:
    run(steps)


def test_resync_wakes_the_hook_when_a_window_ends() -> None:
    first, second = run([Step(0, 95), Step(10, 95)])
    assert first["resyncAfterSeconds"] == 30
    assert second["resyncAfterSeconds"] == 20
    *_, restoring = run([Step(0, 95), Step(30, 95, want=50), Step(100, 40, want=50)])
    assert restoring["resyncAfterSeconds"] == 300


def test_the_window_start_is_the_condition_transition_time() -> None:
    *_, last = run([Step(0, 95), Step(10, 95)])
    condition = next(c for c in last["status"]["conditions"] if c["type"] == "MetricsOverTarget")
    assert condition["status"] == "True"
    assert condition["lastTransitionTime"] == "2026-01-15T10:30:00Z"


def test_percentage_zero_never_offloads_on_metrics() -> None:
    run([Step(0, 95), Step(30, 95, want=0), Step(31, None, ready=0, want=100)], percentage=0)


def test_windows_of_zero_switch_at_once() -> None:
    run([Step(0, 95, want=50), Step(1, 10, want=0)], up=0, down=0)


WINDOWS = Windows(timedelta(seconds=30), timedelta(seconds=300), 0, 0)  # type: ignore[arg-type]


def test_step_holds_everything_when_nothing_is_known() -> None:
    previous = Previous(latched=True, pushing=False, since=NOW)
    state = step(previous, None, WINDOWS, NOW + timedelta(hours=1))
    assert (state.latched, state.pushing, state.since, state.wake_at) == (True, False, NOW, None)


def test_step_never_dates_a_window_in_the_future() -> None:
    previous = Previous(latched=False, pushing=True, since=NOW + timedelta(minutes=5))
    state = step(previous, True, WINDOWS, NOW)
    assert state.since == NOW
