"""Reports refused backends on their InferenceModels: the `backend-refused` annotation.

The router refuses a `backendUrl` that is not a Service of its model's
namespace nor allowed by configuration (`access.route`). A tenant should
learn that from the object, not only from clients' 403s; the router writes
no status (the hook owns it), so it writes this one annotation, which the
hook turns into the `Routable=False` condition, and removes it once the
backend is allowed. Every `access_interval_seconds` the catalog (in memory)
is compared with what the objects say; only differences are written.
"""

from __future__ import annotations

import asyncio
import logging

from hooks.inference import BACKEND_REFUSED_ANNOTATION
from hooks.router.access import Refused, route
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.ports import AnnotationWriter, ModelGone
from hooks.router.state import Key

log = logging.getLogger("hooks.router.reporter")


class AccessReporter:
    def __init__(self, writer: AnnotationWriter, catalog: Catalog, *, config: RouterConfig) -> None:
        self._writer = writer
        self._catalog = catalog
        self._config = config
        self._written: dict[Key, str | None] = {}

    async def run(self) -> None:
        while True:
            if self._catalog.synced:
                await self.step()
            await asyncio.sleep(self._config.access_interval_seconds)

    async def step(self) -> int:
        """Write what differs; the number of writes (for tests)."""
        writes = 0
        seen = set()
        for view in self._catalog.views():
            seen.add(view.key)
            if view.deleting:
                continue
            target = route(view.backend_url, view.namespace, self._config.allowed_backends)
            want = target.message if isinstance(target, Refused) else None
            if view.backend_refused == want:
                self._written.pop(view.key, None)
                continue
            if view.key in self._written and self._written[view.key] == want:
                continue  # written; the watch has not brought it back yet
            try:
                await self._writer.annotate(view.key, {BACKEND_REFUSED_ANNOTATION: want})
            except ModelGone:
                continue
            except Exception as error:
                log.warning(
                    "could not report a refused backend",
                    extra={"model": "/".join(view.key), "error": str(error)},
                )
                continue
            self._written[view.key] = want
            writes += 1
        for key in set(self._written) - seen:
            del self._written[key]
        return writes
