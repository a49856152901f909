import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.router.config import RouterConfig
from hooks.router.throttle import demand_interval, due_at
from tests.conftest import NOW

S = timedelta(seconds=1)
INTERVAL = 10 * S


@pytest.mark.parametrize(
    ("reason", "cooldown", "want"),
    [
        ("a tenth of the default 10m cooldown", timedelta(minutes=10), timedelta(minutes=1)),
        ("a tenth of a 5m cooldown", timedelta(minutes=5), timedelta(seconds=30)),
        ("never more than the maximum", timedelta(hours=2), timedelta(minutes=1)),
        ("never less than the minimum", timedelta(seconds=3), timedelta(seconds=1)),
        ("zero cooldown", timedelta(0), timedelta(seconds=1)),
    ],
)
def test_demand_interval(reason: str, cooldown: timedelta, want: timedelta) -> None:
    assert demand_interval(cooldown, RouterConfig()) == want, reason


@pytest.mark.parametrize(
    ("reason", "pending", "written", "last_write_at", "want"),
    [
        ("no request", None, None, None, None),
        ("never written: now", NOW, None, None, NOW),
        ("nothing newer than the annotation", NOW, NOW, NOW, None),
        ("annotation old enough: now", NOW, NOW - 11 * S, NOW - 11 * S, NOW),
        (
            "annotation fresh: when it turns interval old",
            NOW,
            NOW - 4 * S,
            None,
            NOW + 6 * S,
        ),
        (
            "own write recent: after its interval",
            NOW,
            NOW - 20 * S,
            NOW - 3 * S,
            NOW + 7 * S,
        ),
    ],
)
def test_due_at(
    reason: str,
    pending: datetime | None,
    written: datetime | None,
    last_write_at: datetime | None,
    want: datetime | None,
) -> None:
    got = due_at(
        pending=pending,
        written=written,
        last_write_at=last_write_at,
        interval=INTERVAL,
    )
    assert got == want, reason


@given(gaps=st.lists(st.integers(min_value=0, max_value=25), min_size=1, max_size=200))
def test_busy_model_writes_at_most_once_per_interval_and_lands_the_last_request(
    gaps: list[int],
) -> None:
    """Simulate requests (seconds apart) and a writer that writes whenever due."""
    now = NOW
    pending = written = last_write_at = None
    writes: list[datetime] = []

    def flush_until(moment: datetime) -> None:
        nonlocal written, last_write_at
        while True:
            at = due_at(
                pending=pending,
                written=written,
                last_write_at=last_write_at,
                interval=INTERVAL,
            )
            if at is None or at > moment:
                return
            writes.append(at)
            written, last_write_at = pending, at

    for gap in gaps:
        flush_until(now + gap * S)
        now += gap * S
        pending = now
        flush_until(now)
    flush_until(now + 10 * INTERVAL)
    assert all(b - a >= INTERVAL for a, b in itertools.pairwise(writes))
    assert written == pending
    # The last request is written at most one interval after it happened.
    assert writes[-1] - pending <= INTERVAL
