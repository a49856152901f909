"""How many replicas one InferenceModel gets, and why: demand, dependencies, budget.

`decide` reads a `World` and the time it is given, never the clock. A running
model keeps running while it has demand; a waiting one starts when it has demand,
its dependencies are ready, its peers can see it (pool label) and the pool's plan
admits it. Every model applies the same eligibility rule to itself and to its
peers, so the plans they compute agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hooks.k8s.conditions import rfc3339
from hooks.k8s.quantity import Quantity

from .api import (
    POOL_LABEL,
    REASON_FAILED,
    REASON_INSUFFICIENT_MEMORY,
    REASON_PENDING,
    REASON_SCALED_TO_ZERO,
)
from .budget import Admit, Reclaim, Running, Shortage, Waiting, plan
from .children import backend, resource_problems
from .demand import (
    Activity,
    Demand,
    Dependencies,
    activities,
    by_model_name,
    check_dependencies,
)
from .observe import Model, World, pool_text
from .shortage import shortage_message


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision: replicas, and when they are 0 the reason and message for `Ready`."""

    replicas: int
    reason: str | None = None
    """None while the model runs: its conditions then follow the Deployment."""
    message: str = ""
    resync_at: datetime | None = None
    """When demand ends: the sync that scales the model to zero."""
    keep: bool = False
    """The spec is invalid: keep the children as they are."""


def spec_problems(model: Model) -> list[str]:
    """What the hook judges invalid in a spec the API server accepted."""
    problems = []
    if model.cooldown is None:
        problems.append(
            f"cooldownPeriod {model.spec.cooldown_period!r} is not a duration Kubernetes can hold"
        )
    if backend(model.spec.backend_url, model.demand.namespace) is None:
        problems.append(
            f"backendUrl {model.spec.backend_url!r} has no usable host and port (1-65535)"
        )
    for variable in model.spec.env or ():
        if (variable.value is None) == (variable.value_from is None):
            problems.append(f"env {variable.name}: give exactly one of value and valueFrom")
        elif variable.value_from is not None and (
            (variable.value_from.secret_key_ref is None)
            == (variable.value_from.config_map_key_ref is None)
        ):
            problems.append(
                f"env {variable.name}: valueFrom takes exactly one of secretKeyRef and"
                " configMapKeyRef"
            )
    return problems + resource_problems(model.spec)


@dataclass(frozen=True, slots=True)
class Graph:
    """The models this sync sees, their activity and how dependencies resolve."""

    models: Mapping[str, Model]
    acts: Mapping[str, Activity]
    index: Mapping[tuple[str, str], list[Demand]]
    ready: Mapping[str, bool]

    @classmethod
    def of(cls, world: World) -> Graph:
        models = {m.key: m for m in (*world.namespace_models, *world.pool_models)}
        demands = [m.demand for m in models.values()]
        return cls(
            models=models,
            acts=activities(demands),
            index=by_model_name(demands),
            # A backend nothing here runs cannot be waited for: it counts as ready.
            ready={key: m.ready or not m.managed for key, m in models.items()},
        )

    def dependencies(self, model: Model) -> Dependencies:
        return check_dependencies(model.demand, self.index, self.ready)


def decide(world: World, now: datetime) -> Outcome:
    me = world.me
    problems = spec_problems(me)
    if problems:
        return Outcome(0, REASON_FAILED, "Invalid spec: " + "; ".join(problems), keep=True)
    graph = Graph.of(world)
    mine = graph.acts[me.key]
    resync = mine.until if mine.active(now) else None
    if world.own is not None and world.own.pool != me.pool and world.own.pods > 0:
        # Its pods must leave the old pool before it can be admitted to the new one.
        message = (
            f"Moving to pool {pool_text(me.spec.node_selector)}: waiting for the pods in"
            f" its previous pool to stop ({world.own.pods} left)"
        )
        return Outcome(0, REASON_PENDING, message, resync)
    own = world.own if world.own is not None and world.own.pool == me.pool else None
    if own is not None and own.replicas > 0:
        return _running(world, graph, mine, now, resync)
    if own is not None and own.pods > 0:
        # Starting again before the old pods are gone would hold the memory twice.
        if me.spec.max_replicas == 0:
            return Outcome(0, REASON_SCALED_TO_ZERO, "Scaled to zero: maxReplicas is 0")
        if not mine.active(now):
            return Outcome(0, REASON_SCALED_TO_ZERO, idle_message(me, mine))
        message = f"Waiting for the previous pods to stop ({own.pods} left) before starting again"
        return Outcome(0, REASON_PENDING, message, resync)
    dependencies = graph.dependencies(me)
    if dependencies.cycle:
        cycle = " -> ".join(dependencies.cycle)
        return Outcome(0, REASON_FAILED, f"Dependency cycle: {cycle}", resync)
    if me.spec.max_replicas == 0:
        return Outcome(0, REASON_SCALED_TO_ZERO, "Scaled to zero: maxReplicas is 0")
    if not mine.active(now):
        return Outcome(0, REASON_SCALED_TO_ZERO, idle_message(me, mine))
    if not dependencies.satisfied:
        return Outcome(0, REASON_PENDING, waiting_message(dependencies), resync)
    if not me.labelled:
        message = (
            f"Waiting for the label {POOL_LABEL}={me.pool} that puts this model in its pool"
            " (set by the inferencemodel-pool controller)"
        )
        return Outcome(0, REASON_PENDING, message, resync)
    decisions = plan(world.budget, running_of(world, graph, now), waiting_of(world, graph, now))
    choice = decisions[me.key]
    if isinstance(choice, Admit):
        return Outcome(me.spec.max_replicas, None, "", resync)
    if isinstance(choice, Reclaim):
        idle = ", ".join(f"{display(me, r.key)} ({Quantity.bytes(r.memory)})" for r in choice.idle)
        message = f"Waiting for idle models to scale to zero: {idle}"
        return Outcome(0, REASON_PENDING, message, resync)
    return Outcome(0, REASON_INSUFFICIENT_MEMORY, _shortage(world, choice), resync)


def _running(
    world: World, graph: Graph, mine: Activity, now: datetime, resync: datetime | None
) -> Outcome:
    me, own = world.me, world.own
    if me.spec.max_replicas == 0:
        return Outcome(0, REASON_SCALED_TO_ZERO, "Scaled to zero: maxReplicas is 0")
    if not mine.active(now):
        return Outcome(0, REASON_SCALED_TO_ZERO, idle_message(me, mine))
    if own is not None and me.memory > own.memory:
        # Growing a running model is a new admission for the difference.
        choice = plan(world.budget, running_of(world, graph, now), [])[me.key]
        if isinstance(choice, Shortage):
            return Outcome(0, REASON_INSUFFICIENT_MEMORY, _shortage(world, choice), resync)
    return Outcome(me.spec.max_replicas, None, "", resync)


def placement(world: World) -> tuple[str, str]:
    """The pool label and memory claim of the Deployment about to be written.

    While pods exist they hold the memory they were started with, so the claim
    never drops below it (a model made smaller frees memory once its pods are
    replaced by a later start), and a model moving pools stays in the old one
    until its pods there are gone.
    """
    me, own = world.me, world.own
    if own is None or own.pods == 0:
        return me.pool, me.spec.memory
    if own.pool != me.pool:
        return own.pool, str(Quantity.bytes(own.memory))
    if own.memory > me.memory:
        return me.pool, str(Quantity.bytes(own.memory))
    return me.pool, me.spec.memory


def running_of(world: World, graph: Graph, now: datetime) -> list[Running]:
    """The pool's models holding memory, this one included; one not seen counts as busy."""
    claims = list(world.claims)
    if world.own is not None and world.own.pool == world.me.pool:
        claims.append(world.own)
    running = []
    for claim in claims:
        if not claim.occupying:
            continue
        model, act = graph.models.get(claim.key), graph.acts.get(claim.key)
        if model is None or act is None:
            running.append(Running(claim.key, claim.memory, active=True))
            continue
        busy = act.active(now) and model.spec.max_replicas > 0 and not model.deleting
        grow = max(model.memory - claim.memory, 0) if claim.replicas > 0 else 0
        running.append(Running(claim.key, claim.memory, active=busy, latest=act.latest, grow=grow))
    return running


def waiting_of(world: World, graph: Graph, now: datetime) -> list[Waiting]:
    """The pool's models that want to start, each judged as it judges itself.

    A peer's dependency that this sync cannot see (the peer is in another
    namespace) counts as ready: queueing a peer that will not start only makes
    this model wait longer, never start on memory that is not free.
    """
    occupying = {c.key for c in world.claims if c.occupying}
    namespace = world.me.demand.namespace
    waiting = []
    for model in world.pool_models:
        act = graph.acts[model.key]
        if (
            model.key in occupying
            or not model.labelled
            or not model.managed
            or model.deleting
            or model.spec.max_replicas == 0
            or not act.active(now)
            or spec_problems(model)
        ):
            continue
        dependencies = graph.dependencies(model)
        if dependencies.cycle or dependencies.not_ready:
            continue
        if dependencies.missing and model.demand.namespace == namespace:
            continue
        waiting.append(Waiting(model.key, model.memory, act.latest))
    return waiting


def display(me: Model, key: str) -> str:
    """A model's name as this model's messages show it: bare in its own namespace."""
    namespace, _, name = key.partition("/")
    return name if namespace == me.demand.namespace else key


def idle_message(me: Model, act: Activity) -> str:
    if act.latest is None or act.until is None:
        return "Scaled to zero: no request yet"
    return (
        f"Scaled to zero: no request since {rfc3339(act.latest)}; the cooldown of "
        f"{me.spec.cooldown_period} ended at {rfc3339(act.until)}"
    )


def waiting_message(dependencies: Dependencies) -> str:
    parts = [f"{name} (not ready)" for name in dependencies.not_ready]
    parts += [f"{name} (no InferenceModel has this modelName)" for name in dependencies.missing]
    return "Waiting for dependencies: " + ", ".join(parts)


def _shortage(world: World, shortage: Shortage) -> str:
    return shortage_message(
        shortage,
        pool=pool_text(world.me.spec.node_selector),
        name_of=lambda key: display(world.me, key),
    )
