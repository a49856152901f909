"""The ModelDeployment and Policy APIs (seeds 000, 001): models, constants and CRDs.

Every field of the original keeps its name and meaning, so the seeds' manifests
apply unchanged. Added: `routing` (how traffic reaches the remote), `remoteBackends[]`
(a list with locations and flavors, which `localPolicy` references choose from),
credentials from Secret references only, and the HPA-style `behavior` windows.
`offloadingConfig.metrics[]` is the autoscaling/v2 MetricSpec itself (`metricspec`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from hooks.crdgen import CustomResource, PrinterColumn, Scale
from hooks.k8s.conditions import CONDITIONS_SCHEMA_EXTRA, Condition
from hooks.k8s.model import KubeModel

from .metricspec import MAX_METRICS, metric_spec_schema

GROUP = "deployment.beamlit.com"
POLICY_GROUP = "authorization.beamlit.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
POLICY_API_VERSION = f"{POLICY_GROUP}/{VERSION}"
KIND, PLURAL = "ModelDeployment", "modeldeployments"
POLICY_KIND, POLICY_PLURAL = "Policy", "policies"

MANAGED_BY = "offload.aihooks.dev"
"""`endpointslice.kubernetes.io/managed-by` of the project's own EndpointSlice."""
ENVIRONMENT_HEADER = "X-Offload-Environment"
"""Sent to the remote with `spec.environment`."""
REMOTE_POLICIES_HEADER = "X-Offload-Remote-Policies"
"""Sent to the remote with the `remotePolicy` names, comma-separated, in spec order."""

# Condition types and reasons, in one place.
READY, OFFLOADING, METRICS_OVER_TARGET = "Ready", "Offloading", "MetricsOverTarget"
REMOTE_POLICIES = "RemotePoliciesPassedOn"
REASON_BELOW_TARGET = "BelowTarget"
REASON_METRIC_OVER_TARGET = "MetricOverTarget"
REASON_SOURCE_UNAVAILABLE = "SourceUnavailable"
REASON_DISABLED = "Disabled"
REASON_NO_ELIGIBLE_BACKEND = "NoEligibleBackend"
REASON_METRICS_UNAVAILABLE = "MetricsUnavailable"
REASON_POLICY_NOT_FOUND = "PolicyNotFound"
REASON_INVALID_REFERENCE = "InvalidReference"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_INVALID_BACKEND = "InvalidRemoteBackend"
REASON_INVALID_METRICS = "InvalidMetrics"
REASON_SERVICE_NOT_FOUND = "ServiceNotFound"
REASON_ROUTED = "Routed"
REASON_WAITING = "WaitingForMetrics"
REASON_PASSED_ON = "PassedOn"
REASON_NONE = "NoRemotePolicies"
REASON_VALID = "Valid"
REASON_INVALID = "Invalid"

MAX_NAME = 47
"""So that `<name>-offload-envoy` is still a valid object name."""
NAME_PATTERN = f"^[a-z]([-a-z0-9]{{0,{MAX_NAME - 2}}}[a-z0-9])?$"
SOURCE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet")
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_HOST_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
_HOST = rf"^{_HOST_LABEL}(\.{_HOST_LABEL})*(:[0-9]{{1,5}})?$"
_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
_PATH_PREFIX = r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*$"
_SECRET_KEY = r"^[-._a-zA-Z0-9]+$"


class ObjectReference(KubeModel):
    """The workload that runs the model (core/v1 ObjectReference, read as a related object)."""

    api_version: str = Field(default="apps/v1", json_schema_extra={"enum": ["apps/v1"]})
    """API version of the workload: apps/v1."""
    kind: str = Field(json_schema_extra={"enum": list(SOURCE_KINDS)})
    """Deployment, StatefulSet, ReplicaSet or DaemonSet."""
    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN)
    """Name of the workload."""
    namespace: str | None = Field(default=None, max_length=63, pattern=_DNS_LABEL)
    """Namespace of the workload; it must be the ModelDeployment's own (the default)."""


class ServiceReference(KubeModel):
    """A Service and one of its ports."""

    name: str = Field(min_length=1, max_length=63, pattern=_DNS_LABEL)
    """Name of the Service."""
    namespace: str | None = Field(default=None, max_length=63, pattern=_DNS_LABEL)
    """Namespace of the Service; it must be the ModelDeployment's own (the default)."""
    target_port: int = Field(ge=1, le=65535)
    """The Service port (`spec.ports[].port`) on which the model answers inference requests."""


class MetricServiceReference(KubeModel):
    """A Service that exposes the model's own metrics."""

    name: str = Field(min_length=1, max_length=63, pattern=_DNS_LABEL)
    """Name of the Service."""
    namespace: str | None = Field(default=None, max_length=63, pattern=_DNS_LABEL)
    """Namespace of the Service."""
    target_port: int | None = Field(default=None, ge=1, le=65535)
    """The Service port that serves the metrics."""


class PolicyReference(KubeModel):
    """A Policy attached to the model."""

    ref_type: Literal["localPolicy", "remotePolicy"]
    """localPolicy: a Policy object in this namespace that restricts which remote backends
    are eligible. remotePolicy: the name of a policy that lives at the remote; it is sent
    with every offloaded request in the X-Offload-Remote-Policies header."""
    name: str = Field(min_length=1, max_length=253, pattern=r"^[^\s,]+$")
    """Name of the Policy (no spaces or commas: remote ones travel in a header)."""


class SecretKeyReference(KubeModel):
    """A key of a Secret in the ModelDeployment's namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN)
    """Name of the Secret."""
    key: str = Field(min_length=1, max_length=253, pattern=_SECRET_KEY)
    """Key in the Secret."""


class OAuthConfig(KubeModel):
    """OAuth2 client credentials; the gateway fetches and refreshes the token."""

    client_id: str = Field(min_length=1, max_length=1024)
    """The OAuth2 client ID."""
    client_secret: str | None = Field(
        default=None,
        max_length=4096,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "false",
                    "message": "clientSecret must not be written inline: put it in a Secret "
                    "and reference it with clientSecretRef {name, key}",
                }
            ]
        },
    )
    """Not accepted: the client secret comes from clientSecretRef."""
    client_secret_ref: SecretKeyReference | None = None
    """The Secret key that holds the OAuth2 client secret."""
    token_url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://[^\s]+$")
    """The token endpoint (client credentials grant)."""
    scopes: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=16
    )
    """Scopes asked for."""


class ApiKeyConfig(KubeModel):
    """An API key sent in a header with every remote request."""

    secret_ref: SecretKeyReference
    """The Secret key that holds the API key."""
    header: str = Field(default="Authorization", max_length=256, pattern=_HEADER_NAME)
    """The header that carries the key."""
    prefix: str = Field(default="Bearer ", max_length=64)
    """Put before the key in the header value."""


class AuthConfig(KubeModel):
    """How the gateway authenticates to the remote backend."""

    type: Literal["oauth", "apiKey"]
    """oauth (OAuth2 client credentials, oauthConfig) or apiKey (apiKeyConfig)."""
    oauth_config: OAuthConfig | None = None
    """OAuth2 client credentials, for type oauth."""
    api_key_config: ApiKeyConfig | None = None
    """The API key, for type apiKey."""


_AUTH_RULES: list[Any] = [
    {"rule": "self.type != 'oauth' || has(self.oauthConfig)", "message": "oauth needs oauthConfig"},
    {
        "rule": "self.type != 'oauth' || !has(self.oauthConfig) || "
        "has(self.oauthConfig.clientSecretRef)",
        "message": "oauthConfig needs clientSecretRef: the client secret comes from a Secret",
    },
    {
        "rule": "self.type != 'apiKey' || has(self.apiKeyConfig)",
        "message": "apiKey needs apiKeyConfig",
    },
]


class RemoteBackend(KubeModel):
    """Any HTTP(S) endpoint that serves the model: another cluster, a hosted API."""

    host: str = Field(min_length=1, max_length=261, pattern=_HOST)
    """Host name or address, optionally with a port (`api.example.com`, `10.0.0.5:8443`)."""
    scheme: Literal["http", "https"] = "https"
    """http or https."""
    path_prefix: str = Field(default="", max_length=1024, pattern=_PATH_PREFIX)
    """Put before the request path, e.g. `/v1`."""
    headers_to_add: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={
            "maxProperties": 32,
            "additionalProperties": {"type": "string", "maxLength": 4096},
            "x-kubernetes-validations": [
                {
                    "rule": f'self.all(name, name.matches("{_HEADER_NAME}"))',
                    "message": "headersToAdd names must be HTTP header names",
                }
            ],
        },
    )
    """Headers added to every request sent to the remote."""
    auth_config: AuthConfig | None = Field(
        default=None, json_schema_extra={"x-kubernetes-validations": _AUTH_RULES}
    )
    """Credentials, from Secret references only."""
    open_ai_compatible: bool = Field(default=False, alias="openAICompatible")
    """The remote speaks the OpenAI API: the gateway sets the JSON body's `model` to
    spec.model on requests it sends there."""
    ca_secret_ref: SecretKeyReference | None = None
    """A Secret key holding the CA bundle (PEM) to verify an https remote with, instead of
    the system roots."""


class Location(KubeModel):
    """Where a remote backend runs."""

    country: str | None = Field(default=None, max_length=64)
    """Country code, e.g. `us`, `fr`."""
    continent: str | None = Field(default=None, max_length=64)
    """Continent code, e.g. `na`, `eu`."""


class Flavor(KubeModel):
    """A kind of hardware a backend offers, or a policy allows."""

    type: str = Field(min_length=1, max_length=64)
    """The kind of flavor, e.g. `gpu` or `cpu`."""
    name: str = Field(min_length=1, max_length=128)
    """The flavor, e.g. `nvidia-t4`."""


class NamedRemoteBackend(RemoteBackend):
    """One of several remote backends, with what local policies choose on."""

    name: str = Field(min_length=1, max_length=63, pattern=_DNS_LABEL)
    """Name of the backend, reported in status.backend."""
    location: Location | None = None
    """Where it runs, for location policies."""
    flavors: list[Flavor] = Field(default_factory=list, max_length=16)
    """What it offers, for flavor policies."""


class ScalingRules(KubeModel):
    """A stabilization window and a tolerance, named as in the HPA's `behavior`."""

    stabilization_window_seconds: int | None = Field(default=None, ge=0, le=3600)
    """How long the condition must hold before the share changes. Default: 30 s for
    scaleUp, 300 s for scaleDown."""
    tolerance: float | None = Field(default=None, ge=0, lt=1)
    """A fraction of the target: scaleUp counts a metric as over only above
    target x (1 + tolerance), default 0; scaleDown counts it as back under only below
    target x (1 - tolerance), default 0.1. Between the two, the share stays."""


class Behavior(KubeModel):
    """How much to offload, and how quickly to start and stop."""

    percentage: int = Field(default=100, ge=0, le=100)
    """Share of requests sent to the remote while a metric is over its target."""
    scale_up: ScalingRules | None = None
    """Start offloading when any metric has been over target for the window."""
    scale_down: ScalingRules | None = None
    """Stop offloading when every metric has been under target for the window."""


class OffloadingConfig(KubeModel):
    """When and where to offload."""

    remote_backend: RemoteBackend | None = None
    """The remote backend (a one-element remoteBackends). Without either, the default
    remote backend set at install time is used."""
    remote_backends: list[NamedRemoteBackend] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Candidate remote backends: the first one all localPolicy references allow is used."""
    metrics: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_METRICS,
        json_schema_extra={"items": metric_spec_schema()},
    )
    """The metrics that trigger offloading: exactly the autoscaling/v2 MetricSpec of a
    HorizontalPodAutoscaler, measured for the source workload's pods."""
    behavior: Behavior = Field(default_factory=Behavior)
    """How much to offload, and the windows that keep it from flapping."""


class ParentReference(KubeModel):
    """A Gateway API parentRef (a Gateway, or a Service for a GAMMA mesh)."""

    group: str | None = Field(default=None, max_length=253)
    """Group of the parent: gateway.networking.k8s.io (the default) or "" for a Service."""
    kind: str | None = Field(default=None, max_length=63)
    """Kind of the parent: Gateway (the default) or Service."""
    namespace: str | None = Field(default=None, max_length=63, pattern=_DNS_LABEL)
    """Namespace of the parent."""
    name: str = Field(min_length=1, max_length=253)
    """Name of the parent."""
    section_name: str | None = Field(default=None, max_length=253)
    """A listener (Gateway) or port name (Service)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """A port of the parent."""


class Routing(KubeModel):
    """How clients' requests reach the remote."""

    mode: Literal["gateway", "istio", "gatewayAPI"] = "gateway"
    """gateway: the project's Envoy gateway `<name>-offload`, no mesh needed. istio: a
    VirtualService and DestinationRule on the user's Service. gatewayAPI: an HTTPRoute."""
    parent_refs: list[ParentReference] = Field(default_factory=list, max_length=16)
    """gatewayAPI: the HTTPRoute's parents; default: the user's Service (GAMMA)."""


class ModelDeploymentSpec(KubeModel):
    """A model running in this cluster, and when to send its traffic to a remote backend."""

    model: str = Field(min_length=1, max_length=253)
    """The model's name at the remote; an OpenAI-compatible remote gets it as the body's
    `model`."""
    enabled: bool = True
    """false: no routing objects, the user's traffic path is left as it is."""
    environment: Literal["production", "development"] = "production"
    """Sent to the remote in the X-Offload-Environment header."""
    model_source_ref: ObjectReference
    """The workload that runs the model; never modified."""
    service_ref: ServiceReference
    """The Service clients call; never modified."""
    metric_service_ref: MetricServiceReference | None = None
    """A Service exposing the model's own metrics, for the metrics adapter that serves
    Pods or Object metrics to the HPA; the controller itself scrapes nothing."""
    policies: list[PolicyReference] = Field(default_factory=list, max_length=32)
    """Policies attached to the model."""
    offloading_config: OffloadingConfig | None = None
    """Without it, nothing is offloaded."""
    routing: Routing = Field(default_factory=Routing)
    """How traffic reaches the remote."""
    scale_replicas: int = Field(default=1, ge=1, le=1)
    """Read through the scale subresource by the metrics HPA; always 1, so the HPA
    measures the source's pods and never scales anything."""


class MetricValue(KubeModel):
    """One metric as last read from the HPA."""

    name: str
    """What is measured, e.g. `Resource cpu`."""
    current: str | None = None
    """The current value, e.g. `95%` or `1200m`; empty while it cannot be read."""
    target: str
    """The target, e.g. `90%`."""
    over: bool = False
    """The current value is above the target."""


class ModelDeploymentStatus(KubeModel):
    """What the controller observed and decided."""

    offloading_status: bool = False
    """Requests are being sent to the remote."""
    remote_percentage: int = 0
    """Share of requests sent to the remote; the routing objects' weights."""
    metric_percentage: int = 0
    """The share the metrics ask for; remotePercentage is 100 while the source is down."""
    backend: str | None = None
    """The remote backend chosen."""
    source_ready_replicas: int = 0
    """Ready replicas of the source workload."""
    metrics: list[MetricValue] = Field(default_factory=list)
    """Each metric of offloadingConfig.metrics, as last read."""
    selector: str | None = None
    """The source workload's pod selector, for the scale subresource."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    """Ready, Offloading, MetricsOverTarget, RemotePoliciesPassedOn."""
    observed_generation: int | None = None
    """The generation of the spec this status was computed from."""


class PolicyLocation(KubeModel):
    """A place backends may run in."""

    type: Literal["country", "continent"]
    """country or continent."""
    name: str = Field(min_length=1, max_length=64)
    """Its code, e.g. `us` or `na`."""


class PolicySpec(KubeModel):
    """Rules that restrict which remote backends a model may be offloaded to."""

    type: Literal["location", "flavor"]
    """location: backends must run in one of `locations`. flavor: backends must offer one
    of `flavors`."""
    display_name: str | None = Field(default=None, max_length=256)
    """A name for people."""
    locations: list[PolicyLocation] = Field(default_factory=list, max_length=64)
    """For type location: the allowed countries and continents."""
    flavors: list[Flavor] = Field(default_factory=list, max_length=64)
    """For type flavor: the allowed flavors."""


class PolicyStatus(KubeModel):
    """Whether the policy is usable, and who uses it."""

    valid: bool = False
    """The list matching `type` is non-empty."""
    model_deployments: list[str] = Field(default_factory=list)
    """ModelDeployments of this namespace that reference it (the first 50, sorted)."""
    model_deployment_count: int = 0
    """How many ModelDeployments of this namespace reference it."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    """Ready."""
    observed_generation: int | None = None
    """The generation of the spec this status was computed from."""


MODEL_DEPLOYMENTS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural=PLURAL,
    spec=ModelDeploymentSpec,
    status=ModelDeploymentStatus,
    short_names=("md",),
    printer_columns=(
        PrinterColumn("Model", "string", ".spec.model"),
        PrinterColumn("Source", "string", ".spec.modelSourceRef.name"),
        PrinterColumn("Offloading", "boolean", ".status.offloadingStatus"),
        PrinterColumn("Remote%", "integer", ".status.remotePercentage"),
    ),
    scale=Scale(
        spec_replicas_path=".spec.scaleReplicas",
        status_replicas_path=".status.sourceReadyReplicas",
        label_selector_path=".status.selector",
    ),
    description="ModelDeployment sends a share of a model's traffic to a remote backend "
    "when its metrics cross their targets, and all of it when the model's workload is down.",
    extra_validations=(
        {
            "rule": f"self.metadata.name.matches('{NAME_PATTERN}')",
            "message": f"the name must be a DNS label of at most {MAX_NAME} characters, "
            "starting with a letter: it names the Services the controller creates",
        },
    ),
)
POLICIES = CustomResource(
    group=POLICY_GROUP,
    version=VERSION,
    kind=POLICY_KIND,
    plural=POLICY_PLURAL,
    spec=PolicySpec,
    status=PolicyStatus,
    printer_columns=(
        PrinterColumn("Type", "string", ".spec.type"),
        PrinterColumn("Valid", "boolean", ".status.valid"),
        PrinterColumn("Used by", "integer", ".status.modelDeploymentCount"),
    ),
    description="Policy restricts where a model may be offloaded: to backends in some "
    "locations, or offering some flavors.",
    extra_validations=(
        {
            "rule": "self.spec.type != 'location' || size(self.spec.locations) > 0",
            "message": "a location policy needs at least one entry in locations",
        },
        {
            "rule": "self.spec.type != 'flavor' || size(self.spec.flavors) > 0",
            "message": "a flavor policy needs at least one entry in flavors",
        },
    ),
)
