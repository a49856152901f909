"""The router's cache of InferenceModels, looked up by `spec.modelName`.

Fed by watch events (see `kube.py`) or, in tests, directly. Every change
re-derives the affected model's view and wakes the requests held for that
model name, so a held request learns of readiness from the watch, never by
polling. All methods run on the event loop's thread.

Two InferenceModels may claim the same `modelName` (in different
namespaces): the oldest one serves it, ties broken by namespace/name, and the
others are logged once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from hooks.k8s.objects import name_of, namespace_of
from hooks.router.state import Key, ModelView, view_of

log = logging.getLogger("hooks.router.catalog")


class Catalog:
    def __init__(self) -> None:
        self._models: dict[Key, Mapping[str, Any]] = {}
        self._views: dict[Key, ModelView] = {}
        self._by_name: dict[str, ModelView] = {}
        self._signals: dict[str, asyncio.Event] = {}
        self._shadowed: set[Key] = set()
        self.synced = False
        """True once the first full lists arrived (set by the feed)."""

    # Reads

    def get(self, model_name: str) -> ModelView | None:
        return self._by_name.get(model_name)

    def view(self, key: Key) -> ModelView | None:
        return self._views.get(key)

    def served(self) -> list[ModelView]:
        """The views that serve a model name, sorted by it."""
        return [self._by_name[name] for name in sorted(self._by_name)]

    def views(self) -> list[ModelView]:
        """Every InferenceModel's view, by namespace/name."""
        return [self._views[key] for key in sorted(self._views)]

    def changed(self, model_name: str) -> asyncio.Event:
        """An event set at the next change of what serves `model_name`.

        Take it before reading the view, then wait on it: no change is missed.
        """
        event = self._signals.get(model_name)
        if event is None:
            event = self._signals[model_name] = asyncio.Event()
        return event

    # Writes (watch events)

    def replace_models(
        self, objects: Iterable[Mapping[str, Any]], namespace: str | None = None
    ) -> None:
        """A fresh full list (of one namespace, or of all): forget what is not in it."""
        gone = {k for k in self._models if namespace is None or k[0] == namespace}
        for key in gone:
            del self._models[key]
        fresh = {_key(o): o for o in objects}
        self._models.update(fresh)
        self._rebuild(gone | set(fresh))

    def put_model(self, obj: Mapping[str, Any]) -> None:
        key = _key(obj)
        self._models[key] = obj
        self._rebuild({key})

    def delete_model(self, obj: Mapping[str, Any]) -> None:
        key = _key(obj)
        self._models.pop(key, None)
        self._rebuild({key})

    def _rebuild(self, keys: set[Key]) -> None:
        touched: set[str] = set()
        for key in keys:
            old = self._views.pop(key, None)
            if old is not None:
                touched.add(old.model_name)
            model = self._models.get(key)
            if model is None:
                continue
            view = view_of(model)
            self._views[key] = view
            touched.add(view.model_name)
        if not touched:
            return
        claims: dict[str, list[ModelView]] = {name: [] for name in touched}
        for view in self._views.values():
            if view.model_name in claims:
                claims[view.model_name].append(view)
        for name, views in claims.items():
            if not views:
                self._by_name.pop(name, None)
            else:
                views.sort(key=lambda v: (v.created, v.namespace, v.name))
                self._by_name[name] = views[0]
                self._warn_shadowed(name, views)
            event = self._signals.pop(name, None)
            if event is not None:
                event.set()

    def _warn_shadowed(self, name: str, views: list[ModelView]) -> None:
        for view in views[1:]:
            if view.key not in self._shadowed:
                self._shadowed.add(view.key)
                log.warning(
                    "two InferenceModels serve one model name; the oldest wins",
                    extra={
                        "model": name,
                        "serving": f"{views[0].namespace}/{views[0].name}",
                        "ignored": f"{view.namespace}/{view.name}",
                    },
                )


def _key(obj: Mapping[str, Any]) -> Key:
    return (namespace_of(obj), name_of(obj))
