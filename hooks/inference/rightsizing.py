"""Right-sizing: what the observed peak memory says about the declared memory.

The metrics observer writes the peak it saw and when it looked as annotations on
the InferenceModel; the sync hook turns them into status fields with the
original controller's formula. A recommendation appears only while it is true:
it is cleared as soon as the peak no longer suggests one (the original kept
stale ones). The suggested size is rounded up to a whole Mi, so that it can be
pasted into `spec.memory` as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from hooks.k8s.conditions import rfc3339
from hooks.k8s.quantity import Quantity, QuantityError

from .api import LAST_OBSERVATION_ANNOTATION, PEAK_MEMORY_ANNOTATION
from .demand import parse_time

OVERPROVISIONED_BELOW = Fraction(9, 10)
HEADROOM = Fraction(11, 10)
MEBIBYTE = 2**20
"""Suggestions are rounded up to whole mebibytes: `spec.memory` takes only integers with a
binary suffix (`^[0-9]+(Ki|Mi|Gi|Ti)$`), and a byte count would fail that pattern."""


@dataclass(frozen=True, slots=True)
class RightSizing:
    observed_peak_memory: str | None = None
    utilization_percent: int | None = None
    recommendation: str | None = None
    last_observation: str | None = None


def right_sizing(declared: str, annotations: Mapping[str, str]) -> RightSizing:
    """The status fields for a model declaring `declared`, from the observer's annotations."""
    observed = parse_time(annotations.get(LAST_OBSERVATION_ANNOTATION))
    last_observation = rfc3339(observed) if observed else None
    try:
        peak = Quantity.parse(annotations.get(PEAK_MEMORY_ANNOTATION, ""))
        total = Quantity.parse(declared)
    except QuantityError:
        return RightSizing(last_observation=last_observation)
    if peak.value < 0:
        return RightSizing(last_observation=last_observation)
    peak_text = str(Quantity.bytes(peak.ceil()))
    if total.value <= 0:
        return RightSizing(observed_peak_memory=peak_text, last_observation=last_observation)
    usage = peak.value / total.value
    return RightSizing(
        observed_peak_memory=peak_text,
        utilization_percent=math.floor(usage * 100),
        recommendation=recommend(declared, peak.value, usage),
        last_observation=last_observation,
    )


def recommend(declared: str, peak: Fraction, usage: Fraction) -> str | None:
    """The seed's suggestion when under 90% of the declared memory is used, else None."""
    if usage >= OVERPROVISIONED_BELOW:
        return None
    suggested = Quantity.bytes(math.ceil(peak * HEADROOM / MEBIBYTE) * MEBIBYTE)
    over = math.floor((1 - usage) * 100)
    return (
        f"Consider reducing memory from {declared} to {suggested} "
        f"(observed peak {Quantity.bytes(math.ceil(peak))}, {over}% overprovisioned)"
    )
