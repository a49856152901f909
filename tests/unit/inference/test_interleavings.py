"""Properties of whole pools: random models, requests, syncs, kubelets and clocks.

A small simulation of the cluster drives the real sync hook. Hypothesis picks
the models (in two namespaces, with the same names in both) and an
interleaving of events: a sync of one model, syncs of several models from one
snapshot (Metacontroller's concurrent workers), the kubelet
catching up with a Deployment, a request, a resize, a move to the other pool,
time passing. After every
event the memory the pool's pods hold (or are about to hold) stays within the
budget; every sync is deterministic and idempotent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.inference import controller
from hooks.inference.api import POOL_LABEL
from hooks.inference.budget import pool_budget
from hooks.inference.observe import pool_id
from hooks.k8s.quantity import parse_bytes
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.inference.factory import A100, DEFAULT, model, node, request

POOLS = {"a100": A100, "default": DEFAULT}
NODES = [
    node("a100-0", memory="40Gi"),
    node("a100-1", memory="40Gi"),
    node("d0", memory="64Gi", labels=DEFAULT),
]
SETTINGS = Settings()


@dataclass
class Cluster:
    now: datetime
    models: dict[str, dict[str, Any]]
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    pod_memory: dict[str, int] = field(default_factory=dict)
    pod_pool: dict[str, str] = field(default_factory=dict)

    def request_for(self, name: str) -> Any:
        return request(
            self.models[name],
            own=self.deployments.get(name),
            peers=[m for n, m in self.models.items() if n != name],
            nodes=NODES,
            deployments=[d for n, d in self.deployments.items() if n != name],
        )

    def answer(self, name: str) -> dict[str, Any]:
        req = self.request_for(name)
        first = controller.sync(req, now=self.now, settings=SETTINGS).to_json()
        again = controller.sync(req, now=self.now, settings=SETTINGS).to_json()
        assert first == again, "same input, same answer"
        return first

    def apply(self, name: str, answer: dict[str, Any]) -> None:
        self.models[name] = {**self.models[name], "status": answer["status"]}
        children = [c for c in answer["children"] if c["kind"] == "Deployment"]
        assert len(children) == 1
        observed = self.deployments.get(name)
        child = copy.deepcopy(children[0])
        child["status"] = (observed or {}).get("status", {"replicas": 0, "readyReplicas": 0})
        self.deployments[name] = child

    def kubelet(self, name: str) -> None:
        observed = self.deployments.get(name)
        if observed is None:
            return
        pods = observed["spec"]["replicas"]
        observed["status"] = {"replicas": pods, "readyReplicas": pods}
        self.pod_memory[name] = template_memory(observed)
        self.pod_pool[name] = pool_of(observed)

    def held(self, pool: str) -> int:
        """Memory the pool's pods hold now or will hold once the kubelet catches up.

        Pods hold what their template declared when they started (a Recreate
        rollout replaces them only after the old ones are gone).
        """
        total = 0
        for name, obj in self.deployments.items():
            pods = obj["status"].get("replicas", 0)
            if pods > 0 and self.pod_pool[name] == pool:
                total += self.pod_memory[name]
            elif obj["spec"]["replicas"] > 0 and pool_of(obj) == pool:
                total += template_memory(obj)
        return total

    def check(self) -> None:
        for pool, selector in POOLS.items():
            assert self.held(pool) <= pool_budget(NODES, selector), f"pool {pool} overcommitted"


_MODEL = st.tuples(
    st.sampled_from([8, 16, 32, 48, 64]),
    st.sampled_from(["a100", "a100", "default"]),
    st.sampled_from(["5m", "10m"]),
    st.lists(st.integers(0, 4), max_size=2),
    st.integers(0, 12),
)
_NAMES = st.integers(0, 4)
_EVENT = st.one_of(
    st.tuples(st.just("sync"), _NAMES),
    st.tuples(st.just("together"), st.lists(_NAMES, min_size=2, max_size=5, unique=True)),
    st.tuples(st.just("kubelet"), _NAMES),
    st.tuples(st.just("together"), st.just([0, 1, 2, 3, 4])),
    st.tuples(st.just("kubelet-all"), st.just(0)),
    st.tuples(st.just("request-all"), st.just(0)),
    st.tuples(st.just("request"), _NAMES),
    st.tuples(st.just("tick"), st.integers(1, 12)),
    st.tuples(st.just("resize"), _NAMES, st.sampled_from([8, 16, 32, 48, 64])),
    st.tuples(st.just("move"), _NAMES, st.sampled_from(sorted(POOLS))),
)


NAMESPACES = ("team-a", "team-b")


def build(specs: list[tuple[int, str, str, list[int], int]]) -> Cluster:
    """Models alternate between two namespaces with the same names (team-a/m0, team-b/m0,
    team-a/m1, ...): a model's Deployment is named like it, so namesakes must not hide
    each other's claims. Dependencies name earlier models of the same namespace."""
    models = {}
    for number, (memory, pool, cooldown, deps, age) in enumerate(specs):
        namespace, name = NAMESPACES[number % 2], f"m{number // 2}"
        models[f"{namespace}/{name}"] = model(
            name,
            namespace=namespace,
            memory=f"{memory}Gi",
            selector=POOLS[pool],
            cooldown=cooldown,
            dependencies=[f"m{d // 2}" for d in deps if d < number and d % 2 == number % 2],
            created=NOW - timedelta(minutes=age),
        )
    return Cluster(now=NOW, models=models)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(specs=st.lists(_MODEL, min_size=2, max_size=5), events=st.lists(_EVENT, max_size=60))
def test_no_interleaving_overcommits_a_pool(
    specs: list[tuple[int, str, str, list[int], int]], events: list[tuple[Any, ...]]
) -> None:
    cluster = build(specs)
    names = sorted(cluster.models)
    for event in events:
        kind = event[0]
        if kind == "sync":
            name = names[event[1] % len(names)]
            answer = cluster.answer(name)
            cluster.apply(name, answer)
            fed_back = cluster.answer(name)
            assert fed_back["children"] == answer["children"], "idempotent children"
        elif kind == "together":
            chosen = sorted({names[i % len(names)] for i in event[1]})
            answers = {name: cluster.answer(name) for name in chosen}
            for name, answer in answers.items():
                cluster.apply(name, answer)
        elif kind == "kubelet":
            cluster.kubelet(names[event[1] % len(names)])
        elif kind == "kubelet-all":
            for name in names:
                cluster.kubelet(name)
        elif kind == "request":
            name = names[event[1] % len(names)]
            cluster.models[name] = model_with_request(cluster.models[name], cluster.now)
        elif kind == "request-all":
            for name in names:
                cluster.models[name] = model_with_request(cluster.models[name], cluster.now)
        elif kind == "tick":
            cluster.now += timedelta(minutes=event[1])
        elif kind == "resize":
            name = names[event[1] % len(names)]
            spec = {**cluster.models[name]["spec"], "memory": f"{event[2]}Gi"}
            cluster.models[name] = {**cluster.models[name], "spec": spec}
        else:
            name = names[event[1] % len(names)]
            moved = copy.deepcopy(cluster.models[name])
            moved["spec"]["nodeSelector"] = POOLS[event[2]]
            moved["metadata"]["labels"][POOL_LABEL] = pool_id(POOLS[event[2]])
            cluster.models[name] = moved
        cluster.check()


def template_memory(deployment: dict[str, Any]) -> int:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return parse_bytes(container["resources"]["requests"]["memory"])


def pool_of(deployment: dict[str, Any]) -> str:
    selector = deployment["spec"]["template"]["spec"]["nodeSelector"]
    return next(name for name, pool in POOLS.items() if pool == selector)


def model_with_request(obj: dict[str, Any], now: datetime) -> dict[str, Any]:
    updated = copy.deepcopy(obj)
    updated["metadata"]["annotations"]["inference.eh-ops.io/last-request-time"] = now.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return updated


def test_a_waiting_model_starts_once_the_runner_cools_down() -> None:
    """The e2e story in miniature: two 48Gi models named alike in two namespaces, one 80Gi
    pool."""
    cluster = build([(48, "a100", "10m", [], 1), (48, "a100", "10m", [], 0)])
    first, second = "team-a/m0", "team-b/m0"
    cluster.models[second] = model_with_request(cluster.models[second], NOW)
    for key in (first, second):
        cluster.apply(key, cluster.answer(key))
    assert cluster.deployments[first]["spec"]["replicas"] == 0
    assert cluster.deployments[second]["spec"]["replicas"] == 1
    assert cluster.models[first]["status"]["conditions"][0]["reason"] == "InsufficientMemory"
    cluster.kubelet(second)
    cluster.models[first] = model_with_request(cluster.models[first], NOW + timedelta(minutes=5))
    cluster.now = NOW + timedelta(minutes=10)
    for key in (second, first):
        cluster.apply(key, cluster.answer(key))
    assert cluster.deployments[second]["spec"]["replicas"] == 0
    reason = cluster.models[first]["status"]["conditions"][0]["reason"]
    assert reason == "Pending", "the other namespace's pod still holds its memory"
    cluster.kubelet(second)
    cluster.apply(first, cluster.answer(first))
    assert cluster.deployments[first]["spec"]["replicas"] == 1
    cluster.check()
