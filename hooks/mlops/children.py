"""The children of a Model, each built fresh by a small pure function.

* the artifact volume: a PersistentVolumeClaim `<model>-artifacts`, shared by
  every revision (each artifact unpacks into a directory of its own in it);
* per revision: a ConfigMap `<model>-<revision>` (nginx.conf, fluent-bit, the
  download script) and a Deployment of the same name whose pod is
  init `fetch-artifact` -> `server` behind `nginx`, with `fluent-bit` and `gor`;
* the Service `<model>`: `http` -> nginx -> the server, and `monitoring`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hooks.k8s.names import child_name, label_value
from hooks.k8s.names import service_name as k8s_service_name
from hooks.k8s.objects import JSON, MANAGED_BY, field_at, new_object
from hooks.k8s.quantity import Quantity, QuantityError
from hooks.k8s.schema import NAME_MAX

from . import configs
from .api import (
    ACCESS_MODES,
    ARTIFACT_ANNOTATION,
    CONFIG_HASH_ANNOTATION,
    CONFIG_LABEL,
    FLUENT_BIT_METRICS_PORT,
    MODEL_LABEL,
    MONITORING_PORT,
    NGINX_HTTP_PORT,
    REVISION_LABEL,
    SERVICE_HTTP_PORT,
    SERVICE_MONITORING_PORT,
    ModelSpec,
)

FETCH_IMAGE = "busybox:1.37"
NGINX_IMAGE = "nginxinc/nginx-unprivileged:1.27-alpine"
FLUENT_BIT_IMAGE = "cr.fluentbit.io/fluent/fluent-bit:3.2"
GOREPLAY_IMAGE = "buger/goreplay:1.3.2"
COMPONENT = "model-server"
SERVER, NGINX, FLUENT_BIT, GOREPLAY, FETCH = (
    "server",
    "nginx",
    "fluent-bit",
    "gor",
    "fetch-artifact",
)
NON_ROOT_UID = 65534
NGINX_UID = 101
"""The user of the nginx-unprivileged image."""
PROGRESS_DEADLINE_SECONDS = 600

SIDECAR_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    FETCH: {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    NGINX: {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    FLUENT_BIT: {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    GOREPLAY: {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
}


def service_name(model: str) -> str:
    """The Model's own name when it is a DNS-1035 label (the CRD asks for one), else a
    cleaned one: a Service name must start with a letter and have no dots."""
    return k8s_service_name(model)


def volume_claim_name(model: str) -> str:
    return child_name(model, "artifacts")


def revision_name(model: str, revision: str) -> str:
    """The Deployment and ConfigMap of one revision."""
    return child_name(model, revision)


def monitoring_url(model: str, namespace: str) -> str:
    host = f"{service_name(model)}.{namespace}.svc.cluster.local"
    return f"http://{host}:{SERVICE_MONITORING_PORT}/metrics"


def model_labels(model: str, parent_labels: Mapping[str, str]) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": label_value(model),
        "app.kubernetes.io/instance": label_value(model),
        "app.kubernetes.io/component": COMPONENT,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        MODEL_LABEL: label_value(model),
    }
    config = parent_labels.get(CONFIG_LABEL)
    if config:
        labels[CONFIG_LABEL] = label_value(config)
    return labels


def build_volume_claim(
    model: str, namespace: str, spec: ModelSpec, labels: Mapping[str, str], observed: JSON | None
) -> JSON:
    """The artifact volume. What the API server never lets change on a bound claim
    (class, access modes, volume) is kept as first created; the size only grows."""
    claim = new_object(
        "v1", "PersistentVolumeClaim", volume_claim_name(model), namespace=namespace, labels=labels
    )
    found = field_at(observed, "spec")
    before: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    modes = before.get("accessModes")
    if not (isinstance(modes, list) and modes and all(m in ACCESS_MODES for m in modes)):
        modes = [spec.access_mode]
    body: JSON = {
        "accessModes": list(modes),
        "resources": {"requests": {"storage": _larger(spec.size, _storage(before))}},
    }
    storage_class = _text(before.get("storageClassName")) if observed else spec.storage_class_name
    volume = _text(before.get("volumeName")) if observed else spec.volume_name
    if storage_class is not None:
        body["storageClassName"] = storage_class
    if volume:
        body["volumeName"] = volume
    claim["spec"] = body
    return claim


def _text(value: object) -> str | None:
    """A name as observed, when it is one (an observed object can hold anything)."""
    return value if isinstance(value, str) and len(value) <= NAME_MAX else None


def _storage(spec: Mapping[str, Any]) -> str | None:
    value = field_at(spec, "resources", "requests", "storage")
    return value if isinstance(value, str) else None


def _larger(wanted: str, observed: str | None) -> str:
    if observed is None:
        return wanted
    try:
        return observed if Quantity.parse(observed) > Quantity.parse(wanted) else wanted
    except QuantityError:
        return wanted


def build_service(model: str, namespace: str, labels: Mapping[str, str], revision: str) -> JSON:
    """The Service selects the served revision only, and only nginx's ports."""
    service = new_object("v1", "Service", service_name(model), namespace=namespace, labels=labels)
    service["spec"] = {
        "selector": {MODEL_LABEL: labels[MODEL_LABEL], REVISION_LABEL: revision},
        "ports": [
            {
                "name": "http",
                "port": SERVICE_HTTP_PORT,
                "targetPort": "http",
                "protocol": "TCP",
                "appProtocol": "http",
            },
            {
                "name": "monitoring",
                "port": SERVICE_MONITORING_PORT,
                "targetPort": "monitoring",
                "protocol": "TCP",
                "appProtocol": "http",
            },
        ],
    }
    return service


def build_config_map(
    model: str, namespace: str, spec: ModelSpec, labels: Mapping[str, str], revision: str
) -> JSON:
    config_map = new_object(
        "v1",
        "ConfigMap",
        revision_name(model, revision),
        namespace=namespace,
        labels={**labels, REVISION_LABEL: revision},
    )
    config_map["data"] = configs.config_files(model, spec.port, spec.metrics)
    return config_map


def build_deployment(
    model: str,
    namespace: str,
    spec: ModelSpec,
    labels: Mapping[str, str],
    revision: str,
    config_data: Mapping[str, str],
) -> JSON:
    """One revision: the pod runs the artifact download once, then the server behind nginx."""
    revision_labels = {**labels, REVISION_LABEL: revision}
    name = revision_name(model, revision)
    deployment = new_object(
        "apps/v1",
        "Deployment",
        name,
        namespace=namespace,
        labels=revision_labels,
        annotations={ARTIFACT_ANNOTATION: spec.artifact},
    )
    key = configs.artifact_key(spec.artifact, spec.artifact_checksum)
    containers = [_server(spec, key), _nginx(), _fluent_bit()]
    if spec.capture.output != "none":
        containers.append(_goreplay(spec))
    pod: JSON = {
        "securityContext": {"fsGroup": NON_ROOT_UID, "fsGroupChangePolicy": "OnRootMismatch"},
        "initContainers": [_fetch(spec, key)],
        "containers": containers,
        "volumes": _volumes(model, name, spec),
    }
    deployment["spec"] = {
        "replicas": spec.replicas,
        "selector": {"matchLabels": {MODEL_LABEL: labels[MODEL_LABEL], REVISION_LABEL: revision}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
        "template": {
            "metadata": {
                "labels": dict(sorted(revision_labels.items())),
                "annotations": {CONFIG_HASH_ANNOTATION: configs.config_hash(dict(config_data))},
            },
            "spec": pod,
        },
    }
    return deployment


def _volumes(model: str, config_map: str, spec: ModelSpec) -> list[JSON]:
    volumes: list[JSON] = [
        {"name": "artifact", "persistentVolumeClaim": {"claimName": volume_claim_name(model)}},
        {"name": "config", "configMap": {"name": config_map}},
        {"name": "logs", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "nginx-tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if spec.capture.output == "file":
        volumes.append({"name": "capture", "emptyDir": {"sizeLimit": spec.capture.size_limit}})
    return volumes


def _config_mount() -> JSON:
    return {"name": "config", "mountPath": configs.CONFIG_DIR, "readOnly": True}


def _restricted(uid: int) -> JSON:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def _fetch(spec: ModelSpec, key: str) -> JSON:
    return {
        "name": FETCH,
        "image": FETCH_IMAGE,
        "command": ["sh", f"{configs.CONFIG_DIR}/{configs.FETCH_SCRIPT}"],
        "env": [
            {"name": "ARTIFACT_URL", "value": spec.artifact},
            {"name": "ARTIFACT_CHECKSUM", "value": spec.artifact_checksum or ""},
            {"name": "ARTIFACT_KEY", "value": key},
            {"name": "ARTIFACT_ROOT", "value": configs.ARTIFACT_ROOT},
        ],
        "volumeMounts": [
            {"name": "artifact", "mountPath": configs.ARTIFACT_ROOT},
            _config_mount(),
        ],
        "resources": SIDECAR_RESOURCES[FETCH],
        "securityContext": _restricted(NON_ROOT_UID),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _server(spec: ModelSpec, key: str) -> JSON:
    container: JSON = {"name": SERVER, "image": spec.image}
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    env = [{"name": "MODEL_PATH", "value": spec.path}, {"name": "PORT", "value": str(spec.port)}]
    own = {e["name"] for e in env}
    container["env"] = env + [v.to_json() for v in spec.env if v.name not in own]
    container["ports"] = [{"name": "server", "containerPort": spec.port, "protocol": "TCP"}]
    container["volumeMounts"] = [
        {
            "name": "artifact",
            "mountPath": spec.path,
            "subPath": f"artifacts/{key}",
            "readOnly": True,
        }
    ]
    resources = {
        side: dict(sorted(values.items()))
        for side, values in (
            ("requests", spec.resources.requests),
            ("limits", spec.resources.limits),
        )
        if values
    }
    if resources:
        container["resources"] = resources
    probe = {"tcpSocket": {"port": "server"}}
    container["readinessProbe"] = {**probe, "periodSeconds": 5, "failureThreshold": 3}
    container["livenessProbe"] = {
        **probe,
        "initialDelaySeconds": 30,
        "periodSeconds": 20,
        "failureThreshold": 6,
    }
    container["startupProbe"] = {**probe, "periodSeconds": 5, "failureThreshold": 120}
    return container


def _nginx() -> JSON:
    health = {"httpGet": {"path": "/healthz", "port": "monitoring"}}
    return {
        "name": NGINX,
        "image": NGINX_IMAGE,
        "command": [
            "nginx",
            "-g",
            "daemon off;",
            "-e",
            "stderr",
            "-c",
            f"{configs.CONFIG_DIR}/{configs.NGINX_CONF}",
        ],
        "ports": [
            {"name": "http", "containerPort": NGINX_HTTP_PORT, "protocol": "TCP"},
            {"name": "monitoring", "containerPort": MONITORING_PORT, "protocol": "TCP"},
        ],
        "volumeMounts": [
            _config_mount(),
            {"name": "logs", "mountPath": configs.LOG_DIR},
            {"name": "nginx-tmp", "mountPath": configs.TEMP_DIR},
        ],
        "resources": SIDECAR_RESOURCES[NGINX],
        "readinessProbe": {**health, "periodSeconds": 5},
        "livenessProbe": {**health, "periodSeconds": 20},
        "securityContext": {**_restricted(NGINX_UID), "readOnlyRootFilesystem": True},
    }


def _fluent_bit() -> JSON:
    return {
        "name": FLUENT_BIT,
        "image": FLUENT_BIT_IMAGE,
        "command": [
            "/fluent-bit/bin/fluent-bit",
            "-c",
            f"{configs.CONFIG_DIR}/{configs.FLUENT_BIT_CONF}",
        ],
        "ports": [{"name": "metrics", "containerPort": FLUENT_BIT_METRICS_PORT, "protocol": "TCP"}],
        "volumeMounts": [
            _config_mount(),
            {"name": "logs", "mountPath": configs.LOG_DIR, "readOnly": True},
        ],
        "resources": SIDECAR_RESOURCES[FLUENT_BIT],
        "securityContext": {**_restricted(NON_ROOT_UID), "readOnlyRootFilesystem": True},
    }


def _goreplay(spec: ModelSpec) -> JSON:
    mounts = []
    if spec.capture.output == "file":
        mounts.append({"name": "capture", "mountPath": configs.CAPTURE_DIR})
    return {
        "name": GOREPLAY,
        "image": GOREPLAY_IMAGE,
        "args": configs.gor_args(spec.port, spec.capture),
        "volumeMounts": mounts,
        "resources": SIDECAR_RESOURCES[GOREPLAY],
        # Capturing packets needs raw sockets: root with NET_RAW and NET_ADMIN only.
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]},
        },
    }
