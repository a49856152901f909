"""The offload gateway's children: Envoy's ConfigMap, its Deployment and its Service.

The ModelDeployment controller decides (which remote, what share) and hands
the result over as a `GatewayPlan`; this module turns the plan into the three
children. The data plane is the official Envoy image, configured by the files
`envoy.render` produces; no Python runs in the request path.

Only the bootstrap needs a restart to change, so only its hash goes on the pod
template. Everything else (weights, endpoints, headers, credentials' names)
reaches running pods through filesystem xDS when the kubelet refreshes the
mounted ConfigMap. Credentials stay in the user's Secrets: the pod mounts them
and the ConfigMap only names the mounted files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from hooks.k8s.names import child_name, is_dns_label, label_value, stable_hash
from hooks.k8s.objects import JSON, new_object
from hooks.settings import Settings

from . import envoy

GATEWAY_PORT = envoy.LISTENER_PORT
"""Envoy's listener port in the pod (the Service's port 80 `http` targets it)."""
OPS_PORT = envoy.OPS_PORT
"""`/ready` and `/stats/prometheus` (Envoy's admin itself listens on localhost only)."""

GATEWAY_LABEL = "deployment.beamlit.com/offload-gateway"
RESTART_ANNOTATION = "deployment.beamlit.com/gateway-bootstrap-hash"
CONTAINER = "envoy"
REPLICAS = 2
# Envoy's distroless image runs as this user; fsGroup lets it read the mounted Secrets.
ENVOY_UID = 65532
SECRET_MODE = 0o440


@dataclass(frozen=True)
class Credential:
    """Where a remote credential comes from; never its value."""

    kind: Literal["apiKey", "oauth2"]
    secret_name: str
    """A Secret in the ModelDeployment's namespace."""
    secret_key: str
    """The key holding the API key, or the OAuth2 client secret."""
    header: str = "Authorization"
    """apiKey: header name."""
    prefix: str = "Bearer "
    """apiKey: value prefix."""
    token_url: str = ""
    """oauth2."""
    client_id: str = ""
    """oauth2."""
    scopes: tuple[str, ...] = ()
    """oauth2."""


@dataclass(frozen=True)
class RemoteLeg:
    name: str
    """The chosen backend's name."""
    scheme: Literal["http", "https"]
    host: str
    """host or host:port."""
    path_prefix: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    """headersToAdd + environment + remote policy headers, sorted."""
    credential: Credential | None = None
    ca_secret: str | None = None
    """Optional Secret with ca.crt for https verification."""
    openai_model: str | None = None
    """Rewrite the JSON body's "model" to this when set."""


@dataclass(frozen=True)
class LocalLeg:
    service: str
    """A Service of the project's own selecting the user's pods."""
    port: int


@dataclass(frozen=True)
class GatewayPlan:
    name: str
    """The ModelDeployment's name."""
    namespace: str
    local: LocalLeg | None
    """None: everything remote."""
    remote: RemoteLeg | None
    """None: no eligible backend, everything local."""
    remote_percentage: int
    """0..100 == status.remotePercentage."""
    request_timeout_seconds: int = 300
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels for every child (app.kubernetes.io/*)."""


def config_map_name(plan: GatewayPlan) -> str:
    return child_name(plan.name, "offload-envoy")


def gateway_name(plan: GatewayPlan) -> str:
    """The Deployment's and the Service's name."""
    return child_name(plan.name, "offload")


def gateway_pod_labels(plan: GatewayPlan) -> dict[str, str]:
    """The labels on the Envoy pods, and the Service's selector. They are under the
    project's own domain only, so that no user Service selecting the model's pods by
    `app.kubernetes.io/*` can select the gateway too (it would forward to itself)."""
    return {GATEWAY_LABEL: label_value(plan.name)}


_TOKEN = re.compile(r"^[A-Za-z0-9!#$&'*+.^_`|~-]+$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
_PATH = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$")
_URL = re.compile(r"^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[^\s]*)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def plan_problems(plan: GatewayPlan) -> list[str]:
    """What in a plan (written by a tenant, in the end) Envoy would refuse or misread,
    as sentences for a condition. Envoy keeps its last good configuration when it
    refuses a file, so a plan with problems must not be rolled out unnoticed."""
    problems: list[str] = []
    if not 0 <= plan.remote_percentage <= 100:
        problems.append(f"remote percentage {plan.remote_percentage} is not within 0..100")
    if not 1 <= plan.request_timeout_seconds <= 86400:
        problems.append("the request timeout must be between 1 s and 1 day")
    if plan.local is not None:
        if not is_dns_label(plan.local.service):
            problems.append(f"local service {plan.local.service!r} is not a DNS label")
        if not 1 <= plan.local.port <= 65535:
            problems.append(f"local port {plan.local.port} is not a port")
    if plan.remote is not None:
        problems.extend(_remote_problems(plan.remote))
    return problems


def _remote_problems(remote: RemoteLeg) -> list[str]:
    where = f"remote backend {remote.name!r}"
    problems = []
    if not _HOST.match(remote.host) or not _port_ok(remote.host):
        problems.append(f"{where}: host {remote.host!r} is not a host name or host:port")
    if not _PATH.match(remote.path_prefix):
        problems.append(f"{where}: path prefix {remote.path_prefix!r} is not an absolute path")
    for name, value in remote.headers:
        if not _TOKEN.match(name) or name.lower() in _RESERVED_HEADERS:
            problems.append(f"{where}: {name!r} cannot be an added header's name")
        if _CONTROL.search(value):
            problems.append(f"{where}: header {name!r} has a control character in its value")
    credential = remote.credential
    if credential is not None:
        if credential.kind == "apiKey":
            if not _TOKEN.match(credential.header):
                problems.append(f"{where}: {credential.header!r} is not a header name")
            if _CONTROL.search(credential.prefix):
                problems.append(f"{where}: the credential prefix has a control character")
        else:
            if not _URL.match(credential.token_url) or not _port_ok(credential.token_url):
                problems.append(f"{where}: token URL {credential.token_url!r} is not http(s)")
            if not credential.client_id or _CONTROL.search(credential.client_id):
                problems.append(
                    f"{where}: the OAuth2 client id is empty or has a control character"
                )
            if any(not _TOKEN.match(scope) for scope in credential.scopes):
                problems.append(f"{where}: an OAuth2 scope is empty or has a space")
    if remote.openai_model is not None and not remote.openai_model:
        problems.append(f"{where}: the model to rewrite to is empty")
    return problems


def _port_ok(text: str) -> bool:
    authority = text.split("://", 1)[-1].split("/", 1)[0]
    _, colon, port = authority.rpartition(":")
    return not colon or 1 <= int(port) <= 65535


def build_gateway_children(plan: GatewayPlan, *, settings: Settings) -> list[JSON]:
    """The ConfigMap, the Deployment and the Service of the gateway, in that order."""
    files = envoy.render(plan)
    return [
        build_config_map(plan, files),
        build_deployment(plan, files, settings=settings),
        build_service(plan),
    ]


def _labels(plan: GatewayPlan) -> dict[str, str]:
    return {**plan.labels, **gateway_pod_labels(plan)}


def build_config_map(plan: GatewayPlan, files: Mapping[str, str]) -> JSON:
    config_map = new_object(
        "v1", "ConfigMap", config_map_name(plan), namespace=plan.namespace, labels=_labels(plan)
    )
    config_map["data"] = dict(sorted(files.items()))
    return config_map


def build_service(plan: GatewayPlan) -> JSON:
    service = new_object(
        "v1", "Service", gateway_name(plan), namespace=plan.namespace, labels=_labels(plan)
    )
    service["spec"] = {
        "selector": gateway_pod_labels(plan),
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    }
    return service


def build_deployment(plan: GatewayPlan, files: Mapping[str, str], *, settings: Settings) -> JSON:
    restart = "".join(files[name] for name in envoy.restart_files())
    pod_labels = gateway_pod_labels(plan)
    deployment = new_object(
        "apps/v1", "Deployment", gateway_name(plan), namespace=plan.namespace, labels=_labels(plan)
    )
    deployment["spec"] = {
        "replicas": REPLICAS,
        "selector": {"matchLabels": pod_labels},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {
                "labels": pod_labels,
                "annotations": {
                    RESTART_ANNOTATION: stable_hash(restart, 16),
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(OPS_PORT),
                    "prometheus.io/path": "/stats/prometheus",
                },
            },
            "spec": _pod_spec(plan, settings),
        },
    }
    return deployment


def _pod_spec(plan: GatewayPlan, settings: Settings) -> JSON:
    layout = envoy.Layout()
    mounts: list[JSON] = [{"name": "config", "mountPath": layout.config_dir, "readOnly": True}]
    volumes: list[JSON] = [
        {"name": "config", "configMap": {"name": config_map_name(plan)}},
    ]
    remote = plan.remote
    if remote is not None and remote.credential is not None:
        mounts.append(
            {"name": "credential", "mountPath": layout.credential_dir(), "readOnly": True}
        )
        volumes.append(
            _secret_volume(
                "credential",
                remote.credential.secret_name,
                remote.credential.secret_key,
                envoy.SECRET_FILE,
            )
        )
    if remote is not None and remote.ca_secret is not None:
        mounts.append(
            {"name": "ca", "mountPath": layout.ca_file().rsplit("/", 1)[0], "readOnly": True}
        )
        volumes.append(_secret_volume("ca", remote.ca_secret, envoy.CA_FILE, envoy.CA_FILE))
    probe = {"httpGet": {"path": "/ready", "port": "ops"}}
    container: JSON = {
        "name": CONTAINER,
        "image": settings.offload_envoy_image,
        # The distroless image has a CMD and no ENTRYPOINT: name the binary.
        "command": ["/usr/local/bin/envoy"],
        "args": [
            "--config-path",
            layout.config(envoy.BOOTSTRAP_FILE),
            "--log-level",
            "warn",
            "--disable-hot-restart",
            # A file the hook got wrong is rejected whole, and the last good one stays.
            "--reject-unknown-dynamic-fields",
        ],
        "ports": [
            {"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"},
            {"name": "ops", "containerPort": OPS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 2},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 6},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return {
        "containers": [container],
        "volumes": volumes,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": ENVOY_UID,
            "runAsGroup": ENVOY_UID,
            "fsGroup": ENVOY_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
    }


def _secret_volume(volume: str, secret: str, key: str, path: str) -> JSON:
    return {
        "name": volume,
        "secret": {
            "secretName": secret,
            "items": [{"key": key, "path": path}],
            "defaultMode": SECRET_MODE,
        },
    }
