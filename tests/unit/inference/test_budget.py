"""The admission plan and the pool budget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.inference.budget import (
    Admit,
    Decision,
    Reclaim,
    Running,
    Shortage,
    Waiting,
    node_memory,
    plan,
    pool_budget,
    queue,
)
from hooks.k8s.quantity import parse_bytes
from tests.conftest import NOW
from tests.unit.inference.factory import A100, DEFAULT, node

GI = 1024**3
EARLY, LATE = NOW - timedelta(minutes=5), NOW - timedelta(minutes=1)


@pytest.mark.parametrize(
    ("reason", "budget", "running", "waiting", "want"),
    [
        (
            "fits in an empty pool",
            80 * GI,
            [],
            [Waiting("ns/a", 48 * GI, LATE)],
            {"ns/a": Admit()},
        ),
        (
            "two 48Gi in 80Gi: the newest request goes first",
            80 * GI,
            [],
            [Waiting("ns/a", 48 * GI, EARLY), Waiting("ns/b", 48 * GI, LATE)],
            {
                "ns/b": Admit(),
                "ns/a": Shortage(48 * GI, 32 * GI, 80 * GI, (("ns/b", 48 * GI),)),
            },
        ),
        (
            "same time: by key",
            80 * GI,
            [],
            [Waiting("ns/b", 48 * GI, LATE), Waiting("ns/a", 48 * GI, LATE)],
            {
                "ns/a": Admit(),
                "ns/b": Shortage(48 * GI, 32 * GI, 80 * GI, (("ns/a", 48 * GI),)),
            },
        ),
        (
            "a running model with demand blocks",
            80 * GI,
            [Running("ns/r", 48 * GI, active=True)],
            [Waiting("ns/a", 48 * GI, LATE)],
            {"ns/a": Shortage(48 * GI, 32 * GI, 80 * GI, (("ns/r", 48 * GI),))},
        ),
        (
            "idle models are reclaimed least recently used first",
            80 * GI,
            [
                Running("ns/new", 16 * GI, active=False, latest=LATE),
                Running("ns/old", 16 * GI, active=False, latest=EARLY),
                Running("ns/busy", 32 * GI, active=True),
            ],
            [Waiting("ns/a", 40 * GI, LATE)],
            {
                "ns/a": Reclaim(
                    (
                        Running("ns/old", 16 * GI, active=False, latest=EARLY),
                        Running("ns/new", 16 * GI, active=False, latest=LATE),
                    )
                )
            },
        ),
        (
            "a reservation is not given to the next in line",
            64 * GI,
            [Running("ns/idle", 32 * GI, active=False, latest=EARLY)],
            [Waiting("ns/a", 48 * GI, LATE), Waiting("ns/b", 16 * GI, EARLY)],
            {
                "ns/a": Reclaim((Running("ns/idle", 32 * GI, active=False, latest=EARLY),)),
                "ns/b": Shortage(16 * GI, 0, 64 * GI, (("ns/a", 48 * GI),)),
            },
        ),
        (
            "a smaller model behind a blocked one may start",
            80 * GI,
            [Running("ns/r", 48 * GI, active=True)],
            [Waiting("ns/big", 48 * GI, LATE), Waiting("ns/small", 16 * GI, EARLY)],
            {
                "ns/big": Shortage(48 * GI, 32 * GI, 80 * GI, (("ns/r", 48 * GI),)),
                "ns/small": Admit(),
            },
        ),
        (
            "bigger than the whole pool",
            80 * GI,
            [],
            [Waiting("ns/huge", 96 * GI, LATE)],
            {"ns/huge": Shortage(96 * GI, 80 * GI, 80 * GI, ())},
        ),
        (
            "an overcommitted pool admits nothing",
            32 * GI,
            [Running("ns/r", 48 * GI, active=True)],
            [Waiting("ns/a", 0, LATE)],
            {"ns/a": Shortage(0, 0, 32 * GI, (("ns/r", 48 * GI),))},
        ),
    ],
)
def test_plan(
    reason: str,
    budget: int,
    running: list[Running],
    waiting: list[Waiting],
    want: dict[str, Decision],
) -> None:
    assert plan(budget, running, waiting) == want, reason


def test_queue_order_ignores_input_order() -> None:
    models = [Waiting("ns/b", 1, LATE), Waiting("ns/a", 1, None), Waiting("ns/c", 1, LATE)]
    assert [w.key for w in queue(models)] == ["ns/b", "ns/c", "ns/a"]
    assert queue(models) == queue(reversed(models))


_RUNNING = st.builds(
    Running,
    key=st.from_regex(r"ns/r[0-9]", fullmatch=True),
    memory=st.integers(0, 64).map(lambda g: g * GI),
    active=st.booleans(),
    latest=st.one_of(st.none(), st.integers(-60, 0).map(lambda m: NOW + timedelta(minutes=m))),
)
_WAITING = st.builds(
    Waiting,
    key=st.from_regex(r"ns/w[0-9]", fullmatch=True),
    memory=st.integers(0, 64).map(lambda g: g * GI),
    latest=st.one_of(st.none(), st.integers(-60, 0).map(lambda m: NOW + timedelta(minutes=m))),
)


@given(
    budget=st.integers(0, 160).map(lambda g: g * GI),
    running=st.lists(_RUNNING, max_size=5, unique_by=lambda r: r.key),
    waiting=st.lists(_WAITING, max_size=6, unique_by=lambda w: w.key),
)
def test_plan_never_admits_beyond_the_observed_free_memory(
    budget: int, running: list[Running], waiting: list[Waiting]
) -> None:
    decisions = plan(budget, running, waiting)
    assert set(decisions) == {w.key for w in waiting}
    used = sum(r.memory for r in running)
    admitted = sum(w.memory for w in waiting if isinstance(decisions[w.key], Admit))
    assert admitted == 0 or used + admitted <= budget
    reclaimed = [r.key for d in decisions.values() if isinstance(d, Reclaim) for r in d.idle]
    assert len(reclaimed) == len(set(reclaimed)), "an idle model is reserved once"
    idle = {r.key for r in running if not r.active}
    assert set(reclaimed) <= idle, "only idle models are reclaimed"
    assert plan(budget, list(reversed(running)), list(reversed(waiting))) == decisions


def test_pool_budget() -> None:
    nodes = [
        node("a", memory="40Gi"),
        node("b", memory="40Gi", budget="80Gi"),
        node("c", memory="40Gi", budget="lots"),
        node("d", memory="40Gi", unschedulable=True),
        node("e", memory="64Gi", labels=DEFAULT),
        node("f", memory="40Gi", labels={**A100, "accelerator": "a100"}),
    ]
    assert node_memory(nodes[1]) == 80 * GI
    assert node_memory({"metadata": {}}) == 0
    assert pool_budget(nodes, A100) == parse_bytes("200Gi")
    assert pool_budget(nodes, {**A100, "accelerator": "a100"}) == 40 * GI
    assert pool_budget(nodes, {}) == parse_bytes("264Gi")
