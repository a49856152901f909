"""The MLOps API (seed 002): Model, EndpointConfig and Endpoint, and their CRDs.

The seed's field names are kept (`image`, `artifact`, `command`, `args`;
`models[] {model, weight, instances, cpus, memory, size, path}`; `config`,
`host`); what a real user also needs (a checksum, the volume, the port, the
metrics and capture outputs, TLS) is added beside them. Every check the API
server can make is in the schema; the hook judges only what needs other
objects. Labels, annotations, ports, condition types and reasons live here so
that every module spells them once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from hooks.crdgen import CustomResource, PrinterColumn
from hooks.k8s.conditions import CONDITIONS_SCHEMA_EXTRA, Condition
from hooks.k8s.model import KubeModel
from hooks.k8s.schema import (
    IMAGE_MAX,
    LABEL_MAX,
    LIST_MAX,
    NAME_MAX,
    QUANTITY_MAX,
    TEXT_MAX,
    URL_MAX,
    label_map,
)

GROUP, VERSION = "mlops.aihooks.dev", "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "mlops"

# Labels and annotations.
MODEL_LABEL = f"{GROUP}/model"
"""On every child of a Model and its pods: the Model's name."""
REVISION_LABEL = f"{GROUP}/revision"
"""On a revision's Deployment, ConfigMap and pods; the Service selects the served one."""
CONFIG_LABEL = f"{GROUP}/endpoint-config"
"""On the Models an EndpointConfig derives: the config's name."""
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
"""On the pod template: a hash of the ConfigMap's data, so an edit rolls the pods."""
ARTIFACT_ANNOTATION = f"{GROUP}/artifact"
"""On a revision's Deployment: the artifact URL it serves."""

# The ports of the serving pod. The server's own port (spec.port) must differ from these.
NGINX_HTTP_PORT = 8090
MONITORING_PORT = 8091
FLUENT_BIT_METRICS_PORT = 2021
RESERVED_PORTS = (NGINX_HTTP_PORT, MONITORING_PORT, FLUENT_BIT_METRICS_PORT)
SERVICE_HTTP_PORT = 80
SERVICE_MONITORING_PORT = 9090

# Condition types and reasons.
READY, AVAILABLE, ARTIFACT_READY, ROLLED_OUT = "Ready", "Available", "ArtifactReady", "RolledOut"
MODELS_READY, CONFIG_READY = "ModelsReady", "ConfigReady"
REASON_READY = "Ready"
REASON_PENDING = "Pending"
REASON_DOWNLOADING = "Downloading"
REASON_DOWNLOADED = "Downloaded"
REASON_DOWNLOAD_FAILED = "ArtifactDownloadFailed"
REASON_UNSUPPORTED_SCHEME = "UnsupportedArtifactScheme"
REASON_CAPTURE_LOOP = "CaptureIntoOwnService"
REASON_ROLLING_OUT = "RollingOut"
REASON_ROLLED_OUT = "RolledOut"
REASON_ROLLOUT_STALLED = "RolloutStalled"
REASON_REVISION_NOT_READY = "RevisionNotReady"
REASON_SCALED_TO_ZERO = "ScaledToZero"
REASON_UNAVAILABLE = "Unavailable"
REASON_MODEL_NOT_FOUND = "ModelNotFound"
REASON_NAME_CONFLICT = "DerivedNameConflict"
REASON_MODELS_NOT_READY = "ModelsNotReady"
REASON_CONFIG_NOT_FOUND = "ConfigNotFound"
REASON_CONFIG_NOT_READY = "ConfigNotReady"
REASON_INVALID_SPEC = "InvalidSpec"
"""A spec the hook cannot read (the schema lets few such specs through)."""

AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"]
ACCESS_MODES = get_args(AccessMode)
Phase = Literal["Pending", "Downloading", "Ready", "RollingOut", "Failed"]
FETCHABLE_SCHEMES = ("http", "https")
DEFAULT_GATEWAY_SELECTOR = {"istio": "ingressgateway"}

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_HOST = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_URL = r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+[^\s]*$"
_HTTP_URL = r"^https?://[^\s/?#]+[^\s]*$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
_ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
_Arg = Annotated[str, Field(max_length=TEXT_MAX)]
ENV_MAX, ENV_VALUE_MAX, ARGS_MAX = 128, 32768, 256


def _name_rule(kind: str, names: str) -> dict[str, Any]:
    return {
        "rule": "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
        " && size(self.metadata.name) <= 63",
        "message": f"metadata.name: a {kind}'s name must be a DNS-1035 label of at most "
        f"63 characters (it names {names})",
    }


_QUANTITIES: dict[str, Any] = {
    "additionalProperties": {"type": "string", "pattern": _QUANTITY, "maxLength": QUANTITY_MAX},
    "maxProperties": 16,
}
"""A core/v1 ResourceList of quantity strings (the hook compares none of them)."""


class KeySelector(KubeModel):
    """A key of a Secret or ConfigMap in the Model's namespace."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    """Name of the Secret or ConfigMap."""
    key: str = Field(min_length=1, max_length=NAME_MAX, pattern=r"^[-._a-zA-Z0-9]+$")
    """The key whose value is used."""
    optional: bool | None = None
    """Start the container even when the object or its key is missing."""


class FieldSelector(KubeModel):
    """A field of the pod (core/v1 ObjectFieldSelector), e.g. `metadata.name`."""

    field_path: str = Field(min_length=1, max_length=NAME_MAX)
    """The field's path."""
    api_version: str | None = Field(default=None, max_length=LABEL_MAX)
    """The version the path is in (default v1)."""


class EnvVarSource(KubeModel):
    """Where a variable's value comes from (core/v1 EnvVarSource): exactly one of these."""

    secret_key_ref: KeySelector | None = None
    """A key of a Secret: credentials never sit in the Model."""
    config_map_key_ref: KeySelector | None = None
    """A key of a ConfigMap."""
    field_ref: FieldSelector | None = None
    """A field of the pod."""


_ONE_SOURCE: dict[str, Any] = {
    "x-kubernetes-validations": [
        {
            "rule": "(has(self.secretKeyRef) ? 1 : 0) + (has(self.configMapKeyRef) ? 1 : 0)"
            " + (has(self.fieldRef) ? 1 : 0) == 1",
            "message": "env[].valueFrom takes exactly one of secretKeyRef, configMapKeyRef "
            "and fieldRef",
        }
    ]
}


class EnvVar(KubeModel):
    """An environment variable of the serving container (core/v1 EnvVar)."""

    name: str = Field(min_length=1, max_length=256, pattern=_ENV_NAME)
    """The variable's name."""
    value: str | None = Field(default=None, max_length=ENV_VALUE_MAX)
    """Its value."""
    value_from: EnvVarSource | None = Field(default=None, json_schema_extra=_ONE_SOURCE)
    """Where the value comes from instead, e.g. a Secret's key."""


_ENV_RULES: dict[str, Any] = {
    "x-kubernetes-validations": [
        {
            "rule": "self.all(e, !(has(e.value) && has(e.valueFrom)))",
            "message": "env[]: give value or valueFrom, not both",
        }
    ]
}


class Resources(KubeModel):
    """Requests and limits of the serving container (core/v1 ResourceRequirements)."""

    requests: dict[str, str] = Field(default_factory=dict, json_schema_extra=_QUANTITIES)
    """Minimum resources, e.g. `cpu: "2"`, `memory: 8Gi`, `nvidia.com/gpu: "1"`."""
    limits: dict[str, str] = Field(default_factory=dict, json_schema_extra=_QUANTITIES)
    """Maximum resources."""


class Metrics(KubeModel):
    """Where the fluent-bit sidecar ships cpu, memory and request-latency metrics."""

    output: Literal["prometheus", "stdout", "http", "forward"] = "prometheus"
    """`prometheus` (default): a Prometheus endpoint on the pod, served at the monitoring
    URL's `/metrics`; `stdout`: the sidecar's log; `http`: JSON records POSTed to
    host:port/uri; `forward`: a Fluentd or Fluent Bit aggregator at host:port."""
    host: str | None = Field(default=None, max_length=NAME_MAX, pattern=_HOST)
    """The receiver's host name (required for `http` and `forward`)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """The receiver's port (default 80 for `http`, 24224 for `forward`)."""
    uri: str = Field(default="/", max_length=1024, pattern=r"^/[^\s]*$")
    """The path records are POSTed to (`http` only)."""


_METRICS_RULES: dict[str, Any] = {
    "x-kubernetes-validations": [
        {
            "rule": "!(self.output in ['http', 'forward']) || has(self.host)",
            "message": "metrics.host is required when metrics.output is http or forward",
        }
    ]
}


class Capture(KubeModel):
    """Where the goreplay sidecar writes the requests it captures on the server's port."""

    output: Literal["file", "http", "none"] = "file"
    """`file` (default): goreplay files in an emptyDir of the pod (`/capture`); `http`:
    replayed to `url` (a shadow deployment, never this Model's own Service); `none`: no
    capture sidecar."""
    url: str | None = Field(default=None, max_length=URL_MAX, pattern=_HTTP_URL)
    """The http(s) URL requests are replayed to (required for `http`)."""
    size_limit: str = Field(default="1Gi", pattern=_QUANTITY, max_length=QUANTITY_MAX)
    """Size of the capture emptyDir; goreplay rotates its files within it."""


_CAPTURE_RULES: dict[str, Any] = {
    "x-kubernetes-validations": [
        {
            "rule": "self.output != 'http' || has(self.url)",
            "message": "capture.url is required when capture.output is http",
        }
    ]
}

_PORT_RULE: dict[str, Any] = {
    "x-kubernetes-validations": [
        {
            "rule": f"!(self in {list(RESERVED_PORTS)})",
            "message": "port must not be one of the sidecars' ports "
            + ", ".join(str(p) for p in RESERVED_PORTS),
        }
    ]
}


class ModelSpec(KubeModel):
    """A model server and the artifact it serves."""

    image: str = Field(min_length=1, max_length=IMAGE_MAX)
    """The serving container's image."""
    artifact: str = Field(max_length=URL_MAX, pattern=_URL)
    """URL of the model artifact, a `.tar.gz` unpacked into the volume before the server
    starts (http and https are fetched)."""
    artifact_checksum: str | None = Field(
        default=None, max_length=71, pattern=r"^sha256:[0-9a-f]{64}$"
    )
    """`sha256:<hex>` of the artifact; a download that does not match fails."""
    command: list[_Arg] = Field(default_factory=list, max_length=LIST_MAX)
    """The serving container's entrypoint (the image's when empty)."""
    args: list[_Arg] = Field(default_factory=list, max_length=ARGS_MAX)
    """Arguments of the entrypoint."""
    size: str = Field(default="10Gi", pattern=_QUANTITY, max_length=QUANTITY_MAX)
    """Size of the artifact volume (a PersistentVolumeClaim); it can grow, never shrink."""
    storage_class_name: str | None = Field(default=None, max_length=NAME_MAX, pattern=_SUBDOMAIN)
    """The volume's StorageClass (the cluster default when unset)."""
    volume_name: str | None = Field(default=None, max_length=NAME_MAX, pattern=_SUBDOMAIN)
    """A pre-provisioned PersistentVolume to bind, for clusters without dynamic provisioning."""
    access_mode: AccessMode = "ReadWriteOnce"
    """The volume's access mode: replicas spread over several nodes need ReadWriteMany."""
    path: str = Field(default="/models", max_length=1024, pattern=r"^/[^\s:]*$")
    """Where the unpacked artifact is mounted (read-only) in the serving container."""
    port: int = Field(default=8080, ge=1, le=65535, json_schema_extra=_PORT_RULE)
    """The serving container's port; nginx forwards to it."""
    replicas: int = Field(default=1, ge=0, le=1000)
    """Number of serving pods; 0 for a Model that only serves as a template for configs."""
    resources: Resources = Field(default_factory=Resources)
    """Requests and limits of the serving container."""
    env: list[EnvVar] = Field(
        default_factory=list, max_length=ENV_MAX, json_schema_extra=_ENV_RULES
    )
    """Environment of the serving container."""
    metrics: Metrics = Field(default_factory=Metrics, json_schema_extra=_METRICS_RULES)
    """Where the fluent-bit sidecar ships its metrics."""
    capture: Capture = Field(default_factory=Capture, json_schema_extra=_CAPTURE_RULES)
    """Where the goreplay sidecar writes the captured requests."""


class ModelStatus(KubeModel):
    """What the Model serves now."""

    phase: Phase | None = None
    """Pending, Downloading, Ready, RollingOut or Failed."""
    ready: str | None = None
    """Ready replicas of the served revision over the replicas wanted, e.g. `1/1`."""
    ready_replicas: int | None = None
    """Ready pods of the revision the Service selects."""
    revision: str | None = None
    """The revision the spec asks for (a hash of artifact, checksum, image, command, args)."""
    served_revision: str | None = None
    """The revision the Service selects."""
    served_artifact: str | None = None
    """The artifact URL of the served revision."""
    monitoring_url: str | None = None
    """In-cluster URL of the monitoring endpoint (Prometheus metrics, nginx stub_status)."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    """Ready, Available, ArtifactReady and RolledOut."""
    observed_generation: int | None = None
    """The generation of the spec this status was computed from."""


MODELS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind="Model",
    plural="models",
    spec=ModelSpec,
    status=ModelStatus,
    short_names=("mlm",),
    categories=(CATEGORY, "aihooks"),
    printer_columns=(
        PrinterColumn("Image", "string", ".spec.image"),
        PrinterColumn("Phase", "string", ".status.phase"),
        PrinterColumn("Ready", "string", ".status.ready"),
    ),
    extra_validations=(_name_rule("Model", "its Service"),),
    description="Model serves a model artifact with a container image, behind nginx, with "
    "metrics (fluent-bit) and traffic capture (goreplay); artifact or image changes roll "
    "out blue/green.",
)


class ConfigModel(KubeModel):
    """One model of an endpoint: the Model it runs, its share of traffic and its size."""

    model: str = Field(min_length=1, max_length=LABEL_MAX, pattern=_DNS_LABEL)
    """The name of a Model in this namespace, used as the template of the derived Model."""
    weight: float = Field(default=1, ge=0, le=1_000_000)
    """Relative share of the traffic (any non-negative number; normalised to percents)."""
    instances: int | None = Field(default=None, ge=0, le=1000)
    """Replicas of the derived Model (the template's when unset)."""
    cpus: str | None = Field(default=None, pattern=_QUANTITY, max_length=QUANTITY_MAX)
    """CPU request and limit of the serving container."""
    memory: str | None = Field(default=None, pattern=_QUANTITY, max_length=QUANTITY_MAX)
    """Memory request and limit of the serving container."""
    size: str | None = Field(default=None, pattern=_QUANTITY, max_length=QUANTITY_MAX)
    """Artifact volume size."""
    path: str | None = Field(default=None, max_length=1024, pattern=r"^/[^\s:]*$")
    """Where the artifact is mounted in the serving container."""


_MODELS_RULES: dict[str, Any] = {
    "x-kubernetes-validations": [
        {
            "rule": "self.all(m, self.exists_one(n, n.model == m.model))",
            "message": "models[].model must be unique",
        },
        {
            "rule": "self.exists(m, !has(m.weight) || m.weight > 0)",
            "message": "models[].weight must not all be zero",
        },
    ]
}


class EndpointConfigSpec(KubeModel):
    """The models behind an endpoint and how traffic is split between them."""

    models: list[ConfigModel] = Field(min_length=1, max_length=16, json_schema_extra=_MODELS_RULES)
    """The models; each runs as a derived Model `<config>-<model>`."""


class ConfigModelStatus(KubeModel):
    """One model of the config as it runs."""

    model: str
    """The template Model's name."""
    derived_model: str
    """The derived Model this config owns."""
    weight: int
    """Percent of the traffic it gets (the weights normalised to sum to 100)."""
    ready: bool
    """The derived Model is Ready."""
    monitoring_url: str
    """In-cluster URL of its monitoring endpoint."""


class EndpointConfigStatus(KubeModel):
    """Which models run and how traffic is split."""

    models: list[ConfigModelStatus] = Field(default_factory=list)
    """Per model: its derived Model, normalised weight and readiness."""
    host: str | None = None
    """The in-mesh host name of the config's routing (`<config>.<namespace>.svc.cluster.local`)."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    """Ready and ModelsReady."""
    observed_generation: int | None = None
    """The generation of the spec this status was computed from."""


ENDPOINT_CONFIGS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind="EndpointConfig",
    plural="endpointconfigs",
    spec=EndpointConfigSpec,
    status=EndpointConfigStatus,
    short_names=("mlec",),
    categories=(CATEGORY, "aihooks"),
    printer_columns=(
        PrinterColumn("Models", "string", ".spec.models[*].model"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
    ),
    extra_validations=(_name_rule("EndpointConfig", "its Service and derived Models"),),
    description="EndpointConfig runs several Models with their own replicas and resources "
    "and splits traffic between them by weight through one Istio VirtualService.",
)


class Tls(KubeModel):
    """HTTPS on port 443 of the ingress gateway."""

    credential_name: str = Field(min_length=1, max_length=NAME_MAX, pattern=_SUBDOMAIN)
    """The Secret (in the ingress gateway's namespace) with the certificate and key."""


class EndpointSpec(KubeModel):
    """A host name on the ingress gateway, routed by an EndpointConfig."""

    config: str = Field(min_length=1, max_length=LABEL_MAX, pattern=_DNS_LABEL)
    """The name of an EndpointConfig in this namespace."""
    host: str = Field(max_length=NAME_MAX, pattern=_HOST)
    """The host name clients call."""
    gateway_selector: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_GATEWAY_SELECTOR),
        json_schema_extra=label_map("gatewaySelector"),
    )
    """Labels of the ingress gateway pods the Gateway binds to (empty: the default)."""
    tls: Tls | None = None
    """Serve HTTPS on 443 with this certificate."""
    port: int = Field(default=80, ge=1, le=65535)
    """The gateway's HTTP port."""


class EndpointStatus(KubeModel):
    """Where the endpoint answers."""

    url: str | None = None
    """The endpoint's URL, `http(s)://host[:port]`."""
    monitoring_url: str | None = None
    """In-cluster monitoring URL of the config's main model (the one with the most traffic)."""
    monitoring_urls: list[str] = Field(default_factory=list)
    """In-cluster monitoring URLs of every model of the config."""
    gateway: str | None = None
    """The Istio Gateway, `<namespace>/<name>`."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    """Ready and ConfigReady."""
    observed_generation: int | None = None
    """The generation of the spec this status was computed from."""


ENDPOINTS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind="Endpoint",
    plural="endpoints",
    spec=EndpointSpec,
    status=EndpointStatus,
    short_names=("mlep",),
    categories=(CATEGORY, "aihooks"),
    printer_columns=(
        PrinterColumn("Config", "string", ".spec.config"),
        PrinterColumn("URL", "string", ".status.url"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
    ),
    description="Endpoint exposes an EndpointConfig on a host through an Istio Gateway.",
)

CUSTOM_RESOURCES = (MODELS, ENDPOINT_CONFIGS, ENDPOINTS)
