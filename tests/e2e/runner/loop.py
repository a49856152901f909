"""The runner's loop: notice changes, sync what changed, honour resync requests.

Each tick lists every watched resource once (memoized for the tick) and builds,
for every parent, the inputs of its hook: the parent, its observed children and
its related objects. A parent is synced when those inputs changed since its
last sync (so any change to the parent, a child or a related object triggers
one), when a requested resync is due, or when a failed sync's backoff ends.
One thread syncs parents one at a time, so no parent is ever synced twice at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.runner import hooks
from tests.e2e.runner.api import Api, Kind
from tests.e2e.runner.merge import JSON, map_key, object_key
from tests.e2e.runner.sync import (
    DECORATOR_ANNOTATION,
    child_rules,
    owned_by,
    related_objects,
    sync_composite,
    sync_decorator,
)

log = logging.getLogger("tests.e2e.runner")
CUSTOMIZE_TTL = 20 * 60.0


@dataclass
class _State:
    digest: str = ""
    due: float = float("inf")
    backoff: float = 0.5


@dataclass
class _Tick:
    """List results memoized for one pass, so each resource is read once per tick."""

    api: Api
    cache: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)

    def list(self, kind: Kind, namespace: str | None, selector: JSON | None) -> list[JSON]:
        key = (kind.path(namespace), json.dumps(selector, sort_keys=True))
        if key not in self.cache:
            self.cache[key] = self.api.list(kind, namespace=namespace, selector=selector)
        return self.cache[key]


class Runner:
    """Drives Metacontroller controller objects against an API server, in a thread."""

    def __init__(self, api_http: httpx.Client, controllers: list[JSON], interval: float = 0.2):
        self.api = Api(api_http)
        self.controllers = controllers
        self.interval = interval
        self.hook_client = httpx.Client()
        self.errors: list[str] = []
        self._states: dict[tuple[str, str], _State] = {}
        self._customized: dict[tuple[str, str, int], tuple[float, list[JSON]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metacontroller-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.hook_client.close()
        self.api.http.close()

    def run_forever(self) -> None:
        self._run()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("runner tick failed")
                self.api.forget()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def tick(self) -> None:
        tick = _Tick(self.api)
        for controller in self.controllers:
            for kind, obj in self._parents(controller, tick):
                self._maybe_sync(controller, kind, obj, tick)

    def _parents(self, controller: JSON, tick: _Tick) -> list[tuple[Kind, JSON]]:
        spec = controller["spec"]
        if controller["kind"] == "CompositeController":
            rule = spec["parentResource"]
            kind = self.api.kind(rule["apiVersion"], rule["resource"])
            return [(kind, obj) for obj in tick.list(kind, None, None)]
        found = []
        for rule in spec["resources"]:
            kind = self.api.kind(rule["apiVersion"], rule["resource"])
            found += [(kind, obj) for obj in tick.list(kind, None, rule.get("labelSelector"))]
        return found

    def _related(self, controller: JSON, parent: JSON, tick: _Tick) -> dict[str, dict[str, JSON]]:
        hook = controller["spec"]["hooks"].get("customize")
        if hook is None:
            return {}
        meta = parent["metadata"]
        key = (controller["metadata"]["name"], meta["uid"], int(meta.get("generation") or 0))
        cached = self._customized.get(key)
        if cached is None or time.monotonic() - cached[0] > CUSTOMIZE_TTL:
            body = {"controller": controller, "parent": parent}
            answer = hooks.call(self.hook_client, hook, body, hooks.CUSTOMIZE_FIELDS)
            cached = (time.monotonic(), list(answer.get("relatedResources") or []))
            self._customized[key] = cached
        return related_objects(self.api, tick.list, cached[1])

    def _observed(self, controller: JSON, parent: JSON, tick: _Tick) -> dict[str, dict[str, JSON]]:
        spec = controller["spec"]
        composite = controller["kind"] == "CompositeController"
        rules = child_rules(
            self.api, spec.get("childResources" if composite else "attachments") or []
        )
        uid = parent["metadata"]["uid"]
        name = controller["metadata"]["name"]
        observed: dict[str, dict[str, JSON]] = {}
        for rule in rules:
            selector = {"matchLabels": {"controller-uid": uid}} if composite else None
            namespace = parent["metadata"].get("namespace") if rule.kind.namespaced else None
            bucket = observed.setdefault(map_key(rule.kind.api_version, rule.kind.kind), {})
            for obj in tick.list(rule.kind, namespace, selector):
                annotations = obj["metadata"].get("annotations") or {}
                if owned_by(obj, parent) and (
                    composite or annotations.get(DECORATOR_ANNOTATION) == name
                ):
                    bucket[object_key(obj)] = obj
        return observed

    def _maybe_sync(self, controller: JSON, kind: Kind, obj: JSON, tick: _Tick) -> None:
        name = controller["metadata"]["name"]
        state = self._states.setdefault((name, obj["metadata"]["uid"]), _State())
        now = time.monotonic()
        try:
            related = self._related(controller, obj, tick)
            observed = self._observed(controller, obj, tick)
            digest = _digest(obj, observed, related)
            if digest == state.digest and now < state.due:
                return
            sync = sync_composite if controller["kind"] == "CompositeController" else sync_decorator
            resync = sync(self.api, self.hook_client, controller, kind, obj, observed, related)
        except Exception as error:
            message = f"{name} {object_key(obj)}: {error}"
            log.warning("sync failed, retrying in %.1fs: %s", state.backoff, message)
            self.errors.append(message)
            state.digest, state.due = "", now + state.backoff
            state.backoff = min(state.backoff * 2, 10.0)
            return
        state.digest, state.backoff = digest, 0.5
        period = controller["spec"].get("resyncPeriodSeconds")
        candidates = [r for r in (resync, period) if r]
        state.due = now + min(candidates) if candidates else float("inf")


def _digest(parent: JSON, *maps: dict[str, dict[str, JSON]]) -> str:
    versions: list[Any] = [parent["metadata"].get("resourceVersion")]
    for objects in maps:
        for key in sorted(objects):
            versions += [
                (key, k, o["metadata"].get("resourceVersion"))
                for k, o in sorted(objects[key].items())
            ]
    return hashlib.sha256(json.dumps(versions).encode()).hexdigest()
