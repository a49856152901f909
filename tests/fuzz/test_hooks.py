"""Schema-driven fuzz of every hook of every controller, through the real app.

    pytest tests/fuzz                                  # the CI run, a few thousand cases
    FUZZ_CASES=100000 pytest tests/fuzz                # a long campaign
    FUZZ_CONTROLLER=aideployment,inferencemodel pytest tests/fuzz
    FUZZ_REPORT=fuzz.json pytest tests/fuzz            # figures as JSON; failures are
                                                       # collected instead of stopping the run
    FUZZ_SEED=random (or a number) pytest tests/fuzz   # other cases than CI's fixed ones

Asserted for every case: no 500 for schema-valid input, 4xx for undecodable bodies,
only fields Metacontroller knows, a status the CRD keeps, valid children,
byte-identical answers to the same request, and a fixpoint within three rounds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from hooks.systems import CONTROLLERS
from tests.fuzz.harness import Campaign
from tests.fuzz.hostile import JSON_TEXTS, harvested_keys
from tests.fuzz.requests import Target, committed_crds, hook_request, targets

CASES = int(os.environ.get("FUZZ_CASES", "2000"))
REPORT = os.environ.get("FUZZ_REPORT")
SEED = os.environ.get("FUZZ_SEED")
ALL_TARGETS = targets(CONTROLLERS, committed_crds(), harvested_keys(CONTROLLERS))
_WANTED = {n for n in os.environ.get("FUZZ_CONTROLLER", "").split(",") if n}
TARGETS = [t for t in ALL_TARGETS if not _WANTED or t.controller.name in _WANTED]


@pytest.fixture(scope="module")
def campaign() -> Iterator[Campaign]:
    run = Campaign(CONTROLLERS)
    yield run
    run.close()
    if REPORT:
        Path(REPORT).write_text(json.dumps(run.figures(), indent=2) + "\n")


def _fuzzed(test: Any) -> Any:
    examples = max(CASES // len(TARGETS or ALL_TARGETS), 1)
    configured = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )(test)
    if SEED is not None and SEED != "random":
        return seed(int(SEED))(configured)
    return configured


def test_fuzz_selects_controllers() -> None:
    assert TARGETS, f"FUZZ_CONTROLLER={sorted(_WANTED)} names no controller"


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.controller.name)
def test_hooks_answer_hostile_input(target: Target, campaign: Campaign) -> None:
    found: list[list[str]] = []

    @_fuzzed
    @given(case=st.integers(0, 2**64))
    def check(case: int) -> None:
        problems = campaign.run(target, *hook_request(Random(case), target))
        if problems and REPORT:
            found.append(problems)
            return
        assert not problems, problems

    check()
    assert not found, f"{len(found)} cases failed; see {REPORT}"


_UNDECODABLE = (
    b"",
    b"{",
    b"[]",
    b'"text"',
    b"null",
    b"{}",
    b'{"children": {}}',
    b'{"parent": "x", "object": "x"}',
    b'{"parent": [], "object": []}',
    b'{"parent": null, "object": null}',
    b"\xff\xfe",
    JSON_TEXTS[-2].encode(),
)


@pytest.mark.parametrize(
    "route", [route for t in TARGETS for route in t.routes()], ids=lambda r: r.strip("/")
)
def test_undecodable_bodies_are_4xx(route: str, campaign: Campaign) -> None:
    @_fuzzed
    @given(body=st.one_of(st.sampled_from(_UNDECODABLE), st.binary(max_size=64).filter(_not_json)))
    def check(body: bytes) -> None:
        code, _ = campaign.post(route, body)
        assert 400 <= code < 500, (body[:80], code)

    check()


def _not_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return True
    return False
