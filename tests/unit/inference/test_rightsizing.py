"""Right-sizing from the metrics observer's annotations, with the seed's numbers."""

from __future__ import annotations

import re

import pytest

from hooks.inference.api import LAST_OBSERVATION_ANNOTATION, MEMORY_PATTERN, PEAK_MEMORY_ANNOTATION
from hooks.inference.rightsizing import RightSizing, right_sizing
from hooks.k8s.quantity import parse_bytes


def observed(peak: str | None = None, when: str | None = None) -> dict[str, str]:
    annotations = {}
    if peak is not None:
        annotations[PEAK_MEMORY_ANNOTATION] = peak
    if when is not None:
        annotations[LAST_OBSERVATION_ANNOTATION] = when
    return annotations


@pytest.mark.parametrize(
    ("reason", "declared", "annotations", "want"),
    [
        (
            "seed example: 75Gi of 80Gi is 93%, no recommendation",
            "80Gi",
            observed("75Gi", "2024-01-15T10:30:00Z"),
            RightSizing("75Gi", 93, None, "2024-01-15T10:30:00Z"),
        ),
        (
            "70Gi of 80Gi is under 90%",
            "80Gi",
            observed("70Gi"),
            RightSizing(
                "70Gi",
                87,
                "Consider reducing memory from 80Gi to 77Gi "
                "(observed peak 70Gi, 12% overprovisioned)",
            ),
        ),
        ("exactly 90% is fine", "80Gi", observed("72Gi"), RightSizing("72Gi", 90)),
        (
            "the peak is printed canonically, the suggestion rounded up to a Mi",
            "16Gi",
            observed("1536Mi"),
            RightSizing(
                "1536Mi",
                9,
                "Consider reducing memory from 16Gi to 1690Mi "
                "(observed peak 1536Mi, 90% overprovisioned)",
            ),
        ),
        ("above the declared memory", "16Gi", observed("20Gi"), RightSizing("20Gi", 125)),
        ("nothing observed", "16Gi", observed(), RightSizing()),
        ("a bad peak is ignored", "16Gi", observed("lots", "bad"), RightSizing()),
        ("zero declared", "0Gi", observed("1Gi"), RightSizing("1Gi")),
        (
            "time normalised to UTC",
            "16Gi",
            observed(when="2024-01-15T12:30:00+02:00"),
            RightSizing(last_observation="2024-01-15T10:30:00Z"),
        ),
    ],
)
def test_right_sizing(
    reason: str, declared: str, annotations: dict[str, str], want: RightSizing
) -> None:
    assert right_sizing(declared, annotations) == want, reason


@pytest.mark.parametrize(
    ("declared", "peak"),
    # Working sets as metrics-server reports them: kibibytes, rarely a round number.
    [("80Gi", "65498112Ki"), ("80Gi", "70356987Ki"), ("16Gi", "1234567Ki"), ("1Ti", "3Ki")],
)
def test_a_recommendation_is_a_memory_the_crd_accepts(declared: str, peak: str) -> None:
    recommendation = right_sizing(declared, observed(peak)).recommendation
    assert recommendation is not None
    suggested = recommendation.split(" to ", 1)[1].split(" ", 1)[0]
    assert re.match(MEMORY_PATTERN, suggested), suggested
    wanted = parse_bytes(peak) * 11 / 10
    assert wanted <= parse_bytes(suggested) < wanted + 2**20
