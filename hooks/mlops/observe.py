"""What a Model's sync sees: its spec, its observed children and its pods, as small views.

Observed objects are read leniently (any field may be missing); the pods come
from customize and only tell how the artifact download goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hooks.contract import CompositeRequest, resource_key
from hooks.k8s.objects import JSON, annotations_of, labels_of, name_of, namespace_of

from .api import ARTIFACT_ANNOTATION, FETCHABLE_SCHEMES, REVISION_LABEL, ModelSpec
from .children import FETCH, revision_name, service_name, volume_claim_name
from .revisions import RevisionView, read_revision

DEPLOYMENTS_KEY = resource_key("apps/v1", "Deployment")
CONFIG_MAPS_KEY = resource_key("v1", "ConfigMap")
SERVICES_KEY = resource_key("v1", "Service")
CLAIMS_KEY = resource_key("v1", "PersistentVolumeClaim")
PODS_KEY = resource_key("v1", "Pod")
MESSAGE_LIMIT = 512


@dataclass(frozen=True)
class Download:
    """How the artifact download of one revision goes, from its pods."""

    done: bool = False
    running: bool = False
    failure: str | None = None


@dataclass(frozen=True)
class ModelWorld:
    name: str
    namespace: str
    revisions: tuple[RevisionView, ...]
    served: str | None
    """The revision the observed Service selects."""
    deployments: Mapping[str, JSON]
    """Observed revision Deployments by revision."""
    config_maps: Mapping[str, JSON]
    """Observed revision ConfigMaps by revision."""
    claim: JSON | None
    pods: tuple[JSON, ...]

    def revision(self, revision: str) -> RevisionView | None:
        return next((r for r in self.revisions if r.revision == revision), None)

    def artifact_of(self, revision: str) -> str | None:
        deployment = self.deployments.get(revision)
        return annotations_of(deployment).get(ARTIFACT_ANNOTATION) if deployment else None


def observe(request: CompositeRequest) -> ModelWorld:
    parent = request.parent
    name, namespace = name_of(parent), namespace_of(parent)
    deployments = _by_revision(request.children_of(DEPLOYMENTS_KEY), name)
    config_maps = _by_revision(request.children_of(CONFIG_MAPS_KEY), name)
    revisions = tuple(
        view for view in (read_revision(d) for d in deployments.values()) if view is not None
    )
    service = next(
        (s for s in request.children_of(SERVICES_KEY) if name_of(s) == service_name(name)), None
    )
    selector = ((service or {}).get("spec") or {}).get("selector") or {}
    served = selector.get(REVISION_LABEL) if isinstance(selector, Mapping) else None
    claims = [c for c in request.children_of(CLAIMS_KEY) if name_of(c) == volume_claim_name(name)]
    return ModelWorld(
        name=name,
        namespace=namespace,
        revisions=revisions,
        served=str(served) if served else None,
        deployments=deployments,
        config_maps=config_maps,
        claim=claims[0] if claims else None,
        pods=tuple(request.related_of(PODS_KEY)),
    )


def _by_revision(objects: Sequence[JSON], model: str) -> dict[str, JSON]:
    """Children that are one of this Model's revisions (named `<model>-<revision>`)."""
    found: dict[str, JSON] = {}
    for obj in objects:
        revision = labels_of(obj).get(REVISION_LABEL)
        if revision and name_of(obj) == revision_name(model, revision):
            found[revision] = obj
    return found


def download_of(pods: Sequence[Mapping[str, Any]], revision: str) -> Download:
    """The download state of a revision: a failure of any pod wins, then any success."""
    done = running = False
    for pod in pods:
        if labels_of(pod).get(REVISION_LABEL) != revision:
            continue
        for status in (pod.get("status") or {}).get("initContainerStatuses") or ():
            if not isinstance(status, Mapping) or status.get("name") != FETCH:
                continue
            failure = _failure(status)
            if failure is not None:
                return Download(failure=failure)
            state = status.get("state") or {}
            terminated = state.get("terminated") or {}
            if terminated.get("exitCode") == 0:
                done = True
            elif "running" in state:
                running = True
    return Download(done=done, running=running and not done)


def _failure(status: Mapping[str, Any]) -> str | None:
    for key in ("state", "lastState"):
        terminated = (status.get(key) or {}).get("terminated") or {}
        code = terminated.get("exitCode")
        if isinstance(code, int) and code != 0:
            message = str(terminated.get("message") or terminated.get("reason") or "").strip()
            lines = [line for line in message.splitlines() if line.strip()]
            text = lines[-1] if lines else f"exit code {code}"
            return text[:MESSAGE_LIMIT]
    return None


def scheme_problem(spec: ModelSpec) -> str | None:
    scheme = spec.artifact.split("://", 1)[0].lower()
    if scheme in FETCHABLE_SCHEMES:
        return None
    return (
        f"artifact {spec.artifact}: the scheme {scheme}:// cannot be fetched "
        f"(use {' or '.join(s + '://' for s in FETCHABLE_SCHEMES)})"
    )


def capture_problem(spec: ModelSpec, name: str, namespace: str) -> str | None:
    """A capture URL that points back at this Model's own Service would replay its traffic
    into itself, forever."""
    if spec.capture.output != "http" or not spec.capture.url:
        return None
    try:
        host = (urlsplit(spec.capture.url).hostname or "").lower().rstrip(".")
    except ValueError:
        return f"capture.url {spec.capture.url} is not a URL"
    service = service_name(name)
    own = {
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        "::1",
    }
    if host in own:
        return f"capture.url {spec.capture.url} is this Model's own Service or pod"
    return None
