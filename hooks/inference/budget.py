"""Admission to a node pool's memory budget: one deterministic plan every model computes.

Every model of a pool sees the same inputs (the pool's Nodes, the pool's
Deployments and the pool's InferenceModels) and computes the same plan from them,
so concurrent syncs agree on who starts. The rules:

* the budget is the memory of the pool's Nodes; what is used is the memory of the
  models observed running (their Deployment wants or still has pods), idle or not;
* a running model with demand is never preempted; an idle one scales to zero on
  its own (its cooldown ended) and holds its memory until its pods are gone;
* the models waiting to start with demand are taken newest request first, then by
  key; each starts when its memory fits in what is free after the running models
  and the ones admitted before it;
* one that does not fit now but would once idle models are gone reserves them,
  least recently used first, and starts after they have scaled to zero;
* anything else waits with `InsufficientMemory`.

A model never starts on memory that is not observed free; see docs/inference.md
for why that is safe when syncs run concurrently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hooks.k8s.objects import annotations_of, labels_of, matches_selector, meta, name_of
from hooks.k8s.quantity import QuantityError, parse_bytes

from .api import NODE_BUDGET_ANNOTATION

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Running:
    """A model holding memory in the pool: its Deployment wants or still has pods."""

    key: str
    memory: int
    active: bool
    """It has demand (its own or a dependent's); an idle one is scaling to zero."""
    latest: datetime | None = None
    """Its newest demand, to pick the least recently used idle models first."""
    grow: int = 0
    """How much more its spec now asks for than it was admitted with."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """A model with demand, ready to start, not running."""

    key: str
    memory: int
    latest: datetime | None


@dataclass(frozen=True, slots=True)
class Admit:
    """Start now: the memory is free."""


@dataclass(frozen=True, slots=True)
class Reclaim:
    """Start once these idle models (least recently used first) have scaled to zero."""

    idle: tuple[Running, ...]


@dataclass(frozen=True, slots=True)
class Shortage:
    """Cannot start: what it asks for, what is free for it, who holds the rest."""

    requested: int
    available: int
    budget: int
    blocking: tuple[tuple[str, int], ...]
    """(key, memory) of the running models with demand and of those admitted before it."""


Decision = Admit | Reclaim | Shortage


def plan(
    budget: int, running: Sequence[Running], waiting: Sequence[Waiting]
) -> dict[str, Decision]:
    """The decision for every growing or waiting model, the same whichever model computes it.

    Running models that grow come first, by key: each keeps running only if the
    extra memory is free, and is otherwise refused like a waiting model.
    """
    free = budget - sum(r.memory for r in running)
    releasing = sorted((r for r in running if not r.active), key=lambda r: (_when(r.latest), r.key))
    holding = [(r.key, r.memory) for r in sorted(running, key=lambda r: r.key) if r.active]
    decisions: dict[str, Decision] = {}
    for grower in sorted((r for r in running if r.active and r.grow > 0), key=lambda r: r.key):
        others = tuple((key, memory) for key, memory in holding if key != grower.key)
        if grower.grow <= free:
            decisions[grower.key] = Admit()
            free -= grower.grow
            holding = [*others, (grower.key, grower.memory + grower.grow)]
        else:
            decisions[grower.key] = Shortage(
                requested=grower.memory + grower.grow,
                available=max(free, 0) + grower.memory,
                budget=budget,
                blocking=others,
            )
    for candidate in queue(waiting):
        if candidate.memory <= free:
            decisions[candidate.key] = Admit()
            free -= candidate.memory
            holding.append((candidate.key, candidate.memory))
            continue
        taken, enough = _take(releasing, candidate.memory - free)
        if enough:
            decisions[candidate.key] = Reclaim(tuple(taken))
            releasing = releasing[len(taken) :]
            free = min(free, 0)
            holding.append((candidate.key, candidate.memory))
            continue
        decisions[candidate.key] = Shortage(
            requested=candidate.memory,
            available=max(free, 0),
            budget=budget,
            blocking=tuple(holding),
        )
    return decisions


def queue(waiting: Iterable[Waiting]) -> list[Waiting]:
    """Newest demand first, then by key."""
    by_key = sorted(waiting, key=lambda w: w.key)
    return sorted(by_key, key=lambda w: _when(w.latest), reverse=True)


def _take(idle: Sequence[Running], needed: int) -> tuple[list[Running], bool]:
    taken, total = [], 0
    for model in idle:
        if total >= needed:
            break
        taken.append(model)
        total += model.memory
    return taken, total >= needed


def _when(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def node_memory(node: Mapping[str, object]) -> int:
    """What one Node offers its pool: the budget annotation, else allocatable memory."""
    override = annotations_of(node).get(NODE_BUDGET_ANNOTATION)
    status = node.get("status")
    allocatable = status.get("allocatable") if isinstance(status, Mapping) else None
    for text in (override, allocatable.get("memory") if isinstance(allocatable, Mapping) else None):
        if isinstance(text, str):
            try:
                return max(parse_bytes(text), 0)
            except QuantityError as error:
                log.warning(
                    "ignoring a Node memory that is not a quantity",
                    extra={"node": name_of(node), "error": str(error)},
                )
    return 0


def pool_nodes(
    nodes: Iterable[Mapping[str, object]], selector: Mapping[str, str]
) -> list[Mapping[str, object]]:
    """The Nodes of a pool: matching every pair of the selector, schedulable, not deleted."""
    return [
        node
        for node in nodes
        if matches_selector(labels_of(node), selector)
        and not meta(node).get("deletionTimestamp")
        and not _unschedulable(node)
    ]


def _unschedulable(node: Mapping[str, object]) -> bool:
    spec = node.get("spec")
    return isinstance(spec, Mapping) and spec.get("unschedulable") is True


def pool_budget(nodes: Iterable[Mapping[str, object]], selector: Mapping[str, str]) -> int:
    return sum(node_memory(node) for node in pool_nodes(nodes, selector))
