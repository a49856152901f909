"""The `InsufficientMemory` message: written by the sync hook, read back by the router.

The router answers a request for a model that cannot start with HTTP 429 and
`details: {requested, available, blocking}`. Rather than widen the seed's status,
the details travel in the Ready condition's message, in one fixed format that
this module both writes and parses, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hooks.k8s.conditions import condition_of
from hooks.k8s.quantity import Quantity

from .api import READY, REASON_INSUFFICIENT_MEMORY
from .budget import Shortage

_FORMAT = "Insufficient memory in pool {pool}: requested {requested}, available {available} of {budget}; blocking: {blocking}"  # noqa: E501
_PARSE = re.compile(
    r"^Insufficient memory in pool (?P<pool>.*): requested (?P<requested>\S+), "
    r"available (?P<available>\S+) of (?P<budget>\S+); blocking: (?P<blocking>.*)$"
)
_NONE = "none"


@dataclass(frozen=True, slots=True)
class ShortageDetails:
    """Why a model cannot start, as the router reports it (quantities as text)."""

    requested: str
    available: str
    blocking: tuple[str, ...]
    budget: str = ""
    pool: str = ""

    def to_json(self) -> dict[str, Any]:
        """The `details` object of the router's 429 body."""
        return {
            "requested": self.requested,
            "available": self.available,
            "blocking": list(self.blocking),
        }


def shortage_message(shortage: Shortage, *, pool: str, name_of: Callable[[str], str]) -> str:
    """The Ready message of a model that does not fit; `name_of` shows a model key."""
    blocking = ", ".join(f"{name_of(key)} ({_bytes(memory)})" for key, memory in shortage.blocking)
    return _FORMAT.format(
        pool=pool,
        requested=_bytes(shortage.requested),
        available=_bytes(shortage.available),
        budget=_bytes(shortage.budget),
        blocking=blocking or _NONE,
    )


def parse_shortage(message: str) -> ShortageDetails | None:
    """The details in an `InsufficientMemory` message, or None if it is not one."""
    match = _PARSE.match(message)
    if match is None:
        return None
    listed = match["blocking"]
    blocking = () if listed == _NONE else tuple(_strip(item) for item in listed.split(", "))
    return ShortageDetails(
        requested=match["requested"],
        available=match["available"],
        blocking=blocking,
        budget=match["budget"],
        pool=match["pool"],
    )


def shortage_of(status: Mapping[str, Any] | None) -> ShortageDetails | None:
    """The details of an InferenceModel status whose Ready reason is InsufficientMemory."""
    condition = condition_of(status, READY)
    if condition is None or condition.get("reason") != REASON_INSUFFICIENT_MEMORY:
        return None
    return parse_shortage(str(condition.get("message", "")))


def _strip(item: str) -> str:
    name, _, _ = item.partition(" (")
    return name


def _bytes(amount: int) -> str:
    return str(Quantity.bytes(amount))
