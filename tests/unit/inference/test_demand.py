"""Demand: Go durations, cooldown boundaries, demand along dependencies, cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.inference.demand import (
    Activity,
    Demand,
    activities,
    by_model_name,
    check_dependencies,
    parse_cooldown,
    parse_duration,
    parse_time,
)
from tests.conftest import NOW


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("15m0s", timedelta(minutes=15)),
        ("0", timedelta(0)),
        ("1.5h", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("2us", timedelta(microseconds=2)),
        ("1µs", timedelta(microseconds=1)),
        ("2562047h", timedelta(hours=2562047)),
    ],
)
def test_durations(text: str, want: timedelta) -> None:
    assert parse_duration(text) == want


@pytest.mark.parametrize("text", ["", "10", "m", "10 m", "-5m", "1d", "10mm", "2562048h", "h1"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_cooldown_and_times_are_lenient() -> None:
    assert parse_cooldown(None) is None
    assert parse_cooldown(600) is None
    assert parse_time("2026-01-15T10:30:00Z") == NOW
    assert parse_time("2026-01-15T11:30:00+01:00") == NOW
    for bad in ("yesterday", "2026-01-15T10:30:00", "", None, 5):
        assert parse_time(bad) is None


def demand(
    key: str,
    last: datetime | None = NOW,
    *,
    deps: tuple[str, ...] = (),
    cooldown: timedelta = timedelta(minutes=10),
    deleting: bool = False,
) -> Demand:
    namespace, _, name = key.partition("/")
    return Demand(key, namespace, name, deps, last, cooldown, deleting)


def test_cooldown_boundaries() -> None:
    act = activities([demand("ns/a", NOW)])["ns/a"]
    assert act == Activity(NOW + timedelta(minutes=10), NOW)
    assert act.active(NOW + timedelta(minutes=10) - timedelta(microseconds=1))
    assert not act.active(NOW + timedelta(minutes=10))
    assert not activities([demand("ns/a", None)])["ns/a"].active(NOW)
    assert not activities([demand("ns/a", NOW, deleting=True)])["ns/a"].active(NOW)


def test_demand_flows_to_dependencies_transitively() -> None:
    early = NOW - timedelta(hours=2)
    acts = activities(
        [
            demand("ns/app", NOW, deps=("chat",), cooldown=timedelta(minutes=30)),
            demand("ns/chat", early, deps=("tok",)),
            demand("ns/tok", early),
            demand("ns/other", early),
            demand("elsewhere/tok", early),
        ]
    )
    until = NOW + timedelta(minutes=30)
    assert acts["ns/chat"] == Activity(until, NOW)
    assert acts["ns/tok"] == Activity(until, NOW)
    assert not acts["ns/other"].active(NOW)
    assert not acts["elsewhere/tok"].active(NOW), "dependencies resolve in the namespace only"


def test_deleting_dependents_do_not_keep_dependencies_up() -> None:
    acts = activities([demand("ns/app", NOW, deps=("tok",), deleting=True), demand("ns/tok", None)])
    assert not acts["ns/tok"].active(NOW)


def test_cycles_are_found_and_harmless() -> None:
    models = [
        demand("ns/a", NOW, deps=("b",)),
        demand("ns/b", None, deps=("c",)),
        demand("ns/c", None, deps=("a",)),
        demand("ns/d", None, deps=("d",)),
        demand("ns/e", None, deps=("a",)),
    ]
    acts = activities(models)
    assert all(acts[k].active(NOW) for k in ("ns/a", "ns/b", "ns/c"))
    index = by_model_name(models)
    ready: dict[str, bool] = {}
    assert check_dependencies(models[0], index, ready).cycle == ("a", "b", "c", "a")
    assert check_dependencies(models[3], index, ready).cycle == ("d", "d")
    outside = check_dependencies(models[4], index, ready)
    assert outside.cycle == ()
    assert outside.not_ready == ("a",)


def test_dependencies_missing_and_not_ready() -> None:
    me = demand("ns/app", deps=("tok", "emb", "gone", "tok"))
    index = by_model_name([me, demand("ns/tok"), demand("ns/emb"), demand("ns/emb2")])
    result = check_dependencies(me, index, {"ns/tok": True})
    assert (result.missing, result.not_ready, result.satisfied) == (("gone",), ("emb",), False)
    index = by_model_name([me, demand("ns/tok")])
    assert check_dependencies(demand("ns/app", deps=("tok",)), index, {"ns/tok": True}).satisfied


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.lists(st.integers(0, 5), max_size=3),
            st.integers(-120, 0),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_activity_covers_every_dependent(graph: list[tuple[int, list[int], int]]) -> None:
    """Property: a model is active at least as long as any model that reaches it."""
    models = {}
    for number, deps, minutes in graph:
        models[f"ns/m{number}"] = demand(
            f"ns/m{number}",
            NOW + timedelta(minutes=minutes),
            deps=tuple(f"m{d}" for d in deps),
        )
    acts = activities(list(models.values()))
    for source in models.values():
        for name in source.dependencies:
            target = models.get(f"ns/{name}")
            if target is not None and source.until is not None:
                assert acts[target.key].until is not None
                assert acts[target.key].until >= acts[source.key].until  # type: ignore[operator]


def test_times_are_utc() -> None:
    moment = parse_time("2026-01-15T10:30:00.5+02:00")
    assert moment == datetime(2026, 1, 15, 8, 30, 0, 500000, tzinfo=UTC)
