"""What a Model's sync sees: its spec, its observed children and its pods, as small views.

Observed objects are read leniently (any field may be missing); the pods come
from customize and only tell how the artifact download goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from hooks.contract import CompositeRequest, resource_key
from hooks.k8s.model import KubeModel, describe_errors
from hooks.k8s.objects import JSON, annotations_of, field_at, labels_of, name_of, namespace_of

from .api import (
    ARTIFACT_ANNOTATION,
    FETCHABLE_SCHEMES,
    READY,
    RESERVED_PORTS,
    REVISION_LABEL,
    ModelSpec,
)
from .children import FETCH, revision_name, service_name, volume_claim_name
from .revisions import RevisionView, read_revision

DEPLOYMENTS_KEY = resource_key("apps/v1", "Deployment")
CONFIG_MAPS_KEY = resource_key("v1", "ConfigMap")
SERVICES_KEY = resource_key("v1", "Service")
CLAIMS_KEY = resource_key("v1", "PersistentVolumeClaim")
PODS_KEY = resource_key("v1", "Pod")
MESSAGE_LIMIT = 512
Spec = TypeVar("Spec", bound=KubeModel)


def conditions_of(obj: object) -> list[Mapping[str, Any]]:
    """An object's status conditions that are objects (any field may have any shape)."""
    found = field_at(obj, "status", "conditions")
    return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []


def ready_of(obj: object) -> str | None:
    """The status of an object's Ready condition ("True", "False", "Unknown"), if any."""
    return next(
        (_text(c.get("status")) for c in conditions_of(obj) if c.get("type") == READY), None
    )


def ready_message(obj: object) -> str | None:
    return next(
        (_text(c.get("message")) for c in conditions_of(obj) if c.get("type") == READY), None
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_spec(obj: Mapping[str, Any], model: type[Spec]) -> Spec | None:
    """The object's spec, or None when it does not parse (missing, not an object, or
    a value the schema let through and the model refuses)."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return None
    try:
        return model.model_validate(spec)
    except ValidationError:
        return None


def spec_problem(obj: Mapping[str, Any], model: type[KubeModel]) -> str:
    """Why an object's spec cannot be read, naming the field."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return "spec: must be an object"
    try:
        model.model_validate(spec)
    except ValidationError as error:
        return describe_errors(error, limit=1)
    return "spec: cannot be read"


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
    served = field_at(service, "spec", "selector", REVISION_LABEL)
    claims = [c for c in request.children_of(CLAIMS_KEY) if name_of(c) == volume_claim_name(name)]
    return ModelWorld(
        name=name,
        namespace=namespace,
        revisions=revisions,
        served=served if isinstance(served, str) and served else None,
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
        statuses = field_at(pod, "status", "initContainerStatuses")
        for status in statuses if isinstance(statuses, list) else ():
            if not isinstance(status, Mapping) or status.get("name") != FETCH:
                continue
            failure = _failure(status)
            if failure is not None:
                return Download(failure=failure)
            state = status.get("state")
            code = field_at(state, "terminated", "exitCode")
            if code == 0 and not isinstance(code, bool):
                done = True
            elif isinstance(state, Mapping) and "running" in state:
                running = True
    return Download(done=done, running=running and not done)


def _failure(status: Mapping[str, Any]) -> str | None:
    for key in ("state", "lastState"):
        terminated = field_at(status, key, "terminated")
        code = field_at(terminated, "exitCode")
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            text = field_at(terminated, "message") or field_at(terminated, "reason")
            message = text[-4 * MESSAGE_LIMIT :].strip() if isinstance(text, str) else ""
            lines = [line for line in message.splitlines() if line.strip()]
            text = lines[-1] if lines else f"exit code {code}"
            return text[:MESSAGE_LIMIT]
    return None


def rule_problem(spec: ModelSpec) -> str | None:
    """What the schema's CEL rules refuse, judged again: the hook is not the API server."""
    if spec.port in RESERVED_PORTS:
        return f"spec.port {spec.port} is one of the sidecars' ports"
    if spec.metrics.output in ("http", "forward") and not spec.metrics.host:
        return f"spec.metrics.host is required when metrics.output is {spec.metrics.output}"
    if spec.capture.output == "http" and not spec.capture.url:
        return "spec.capture.url is required when capture.output is http"
    for variable in spec.env:
        source = variable.value_from
        if source is not None and variable.value is not None:
            return f"spec.env {variable.name}: give value or valueFrom, not both"
        refs = (
            (source.secret_key_ref, source.config_map_key_ref, source.field_ref) if source else ()
        )
        if source is not None and sum(ref is not None for ref in refs) != 1:
            return (
                f"spec.env {variable.name}: valueFrom takes exactly one of secretKeyRef, "
                "configMapKeyRef and fieldRef"
            )
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
