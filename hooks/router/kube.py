"""The router's Kubernetes I/O, with lightkube: watch feeds, annotation patches, pod metrics.

The only module of the router that talks to the API server. A feed lists,
hands the full list to the catalog, then watches from that list's
resourceVersion; on any error (including 410 Gone) it lists again after a
short backoff, so the catalog never keeps an object deleted during a gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
from lightkube import ALL_NS, ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from hooks.inference.api import GROUP, KIND, PLURAL, VERSION
from hooks.router.catalog import Catalog
from hooks.router.ports import MetricsUnavailable, ModelGone
from hooks.router.state import Key

log = logging.getLogger("hooks.router.kube")

InferenceModel = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)
PodMetrics = create_namespaced_resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")
FIELD_MANAGER = "aihooks-router"
_MAX_BACKOFF = 30.0

Objects = Callable[[Iterable[Mapping[str, Any]], str | None], None]
Event = Callable[[Mapping[str, Any]], None]
Loop = Callable[[], Coroutine[Any, Any, None]]


def new_client() -> AsyncClient:
    """A client from the pod's service account or $KUBECONFIG."""
    return AsyncClient(field_manager=FIELD_MANAGER)


def _plain(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict()
    return result


async def feed(
    client: AsyncClient,
    resource: Any,
    *,
    namespace: str | None,
    labels: Mapping[str, str] | None,
    replace: Objects,
    put: Event,
    delete: Event,
    ready: Callable[[], None] = lambda: None,
) -> None:
    """List then watch `resource` into the catalog, forever."""
    where = namespace or ALL_NS
    selector: dict[str, Any] | None = dict(labels) if labels else None
    failures = 0
    while True:
        try:
            listing = client.list(resource, namespace=where, labels=selector)
            objects = [_plain(o) async for o in listing]
            replace(objects, namespace)
            ready()
            failures = 0
            version = listing.resourceVersion
            async for kind, obj in client.watch(
                resource,
                namespace=where,
                labels=selector,
                resource_version=version,
            ):
                if kind in ("ADDED", "MODIFIED"):
                    put(_plain(obj))
                elif kind == "DELETED":
                    delete(_plain(obj))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            failures += 1
            pause = min(_MAX_BACKOFF, 0.5 * 2 ** min(failures, 6))
            log.warning(
                "watch interrupted; listing again",
                extra={"resource": resource.__name__, "error": repr(error), "retry_in": pause},
            )
            await asyncio.sleep(pause)


def catalog_feeds(client: AsyncClient, catalog: Catalog, namespaces: Sequence[str]) -> list[Loop]:
    """One InferenceModel feed per namespace (or one for all)."""
    scopes: Sequence[str | None] = list(namespaces) or [None]
    pending = set(scopes)

    def synced(scope: str | None) -> Callable[[], None]:
        def mark() -> None:
            pending.discard(scope)
            if not pending:
                catalog.synced = True

        return mark

    loops: list[Loop] = []
    for scope in scopes:
        loops.append(
            _bind(
                feed,
                client,
                InferenceModel,
                namespace=scope,
                labels=None,
                replace=catalog.replace_models,
                put=catalog.put_model,
                delete=catalog.delete_model,
                ready=synced(scope),
            )
        )
    return loops


def _bind(function: Callable[..., Coroutine[Any, Any, None]], *args: Any, **kwargs: Any) -> Loop:
    def loop() -> Coroutine[Any, Any, None]:
        return function(*args, **kwargs)

    return loop


class KubeAnnotations:
    """Merge-patches annotations into InferenceModels."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def annotate(self, key: Key, annotations: Mapping[str, str | None]) -> None:
        namespace, name = key
        patch = {"metadata": {"annotations": dict(annotations)}}
        try:
            await self._client.patch(
                InferenceModel, name, patch, namespace=namespace, patch_type=PatchType.MERGE
            )
        except ApiError as error:
            if error.status.code == 404:
                raise ModelGone(f"{namespace}/{name}") from error
            raise


class KubePodMetrics:
    """PodMetrics from the aggregated metrics.k8s.io API (metrics-server)."""

    def __init__(self, client: AsyncClient, namespaces: Sequence[str] = ()) -> None:
        self._client = client
        self._namespaces = list(namespaces) or [ALL_NS]

    async def pod_metrics(self, labels: Mapping[str, str]) -> Sequence[Mapping[str, Any]]:
        items = []
        try:
            for namespace in self._namespaces:
                listing = self._client.list(PodMetrics, namespace=namespace, labels=dict(labels))
                items.extend([_plain(o) async for o in listing])
        except Exception as error:
            # An API group that is not served answers a plain-text 404, which lightkube
            # raises as its HTTP client's status error rather than as an ApiError.
            code = getattr(getattr(error, "response", None), "status_code", None)
            if code in (404, 503):
                raise MetricsUnavailable(f"metrics.k8s.io answered {code}") from error
            raise
        return items


class HttpPodMetrics:
    """PodMetrics read over plain HTTP from `base_url` + the metrics.k8s.io path: for a
    metrics API behind a proxy, and for the end-to-end suite's stand-in server."""

    def __init__(self, base_url: str, namespaces: Sequence[str] = ()) -> None:
        self._base = base_url.rstrip("/")
        self._namespaces = list(namespaces)
        self._client = httpx.AsyncClient(timeout=10.0, trust_env=False)

    async def pod_metrics(self, labels: Mapping[str, str]) -> Sequence[Mapping[str, Any]]:
        query = urlencode({"labelSelector": ",".join(f"{k}={v}" for k, v in labels.items())})
        paths = [f"/namespaces/{ns}/pods" for ns in self._namespaces] or ["/pods"]
        items: list[Mapping[str, Any]] = []
        for path in paths:
            url = f"{self._base}/apis/metrics.k8s.io/v1beta1{path}?{query}"
            try:
                response = await self._client.get(url)
            except httpx.ConnectError as error:
                raise MetricsUnavailable(f"{url}: {error}") from error
            if response.status_code == 404:
                raise MetricsUnavailable(f"{url}: 404")
            response.raise_for_status()
            items.extend(response.json().get("items") or ())
        return items

    async def aclose(self) -> None:
        await self._client.aclose()
