"""The InferenceModel API (seed 003): spec and status models, and the CRD made from them.

Field names, defaults, patterns, limits, printer columns, labels, annotations,
condition types and reasons are the seed's, kept exactly so that a manifest
written for the original controller applies unchanged. The annotation names
the request router and the metrics observer write live here too, so that every
process that reads or writes them shares one spelling.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from hooks.crdgen import CustomResource, PrinterColumn
from hooks.k8s.conditions import CONDITIONS_SCHEMA_EXTRA, Condition
from hooks.k8s.model import KubeModel
from hooks.k8s.schema import (
    DURATION_MAX,
    IMAGE_MAX,
    INT32,
    LIST_MAX,
    NAME_MAX,
    QUANTITY_MAX,
    URL_MAX,
    label_map,
)

GROUP = "inference.eh-ops.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "InferenceModel"
PLURAL = "inferencemodels"

# Labels on the Deployment (seed) and on the InferenceModel (pool membership).
MODEL_LABEL = f"{GROUP}/model"
MANAGED_LABEL = f"{GROUP}/managed"
POOL_LABEL = f"{GROUP}/pool"
"""Stable hash of a model's whole nodeSelector, set on each InferenceModel by the
`inferencemodel-pool` decorator and on each Deployment by the sync hook."""
COMPONENT = "inference-server"

# Annotations.
MEMORY_ANNOTATION = f"{GROUP}/memory"
"""On the Deployment: the memory the model was admitted with (its budget claim)."""
LAST_REQUEST_ANNOTATION = f"{GROUP}/last-request-time"
"""On the InferenceModel (written by the router or by hand) and copied to the
Deployment: RFC 3339 time of the last request, the model's demand."""
PEAK_MEMORY_ANNOTATION = f"{GROUP}/observed-peak-memory"
"""On the InferenceModel, written by the metrics observer: peak memory, e.g. 75Gi."""
LAST_OBSERVATION_ANNOTATION = f"{GROUP}/last-observation"
"""On the InferenceModel, written by the metrics observer: RFC 3339 time of the sample."""
BACKEND_REFUSED_ANNOTATION = f"{GROUP}/backend-refused"
"""On the InferenceModel, written by the request router: why it does not forward to the
backendUrl (removed once it does); the hook reports it as the `Routable` condition."""
NODE_BUDGET_ANNOTATION = f"{GROUP}/memory-budget"
"""On a Node: the memory it offers its pool (e.g. GPU memory), instead of its
allocatable memory."""

# Condition types and reasons (seed), in one place.
READY = "Ready"
AVAILABLE = "Available"
REASON_DEPLOYING = "Deploying"
REASON_DEPLOYED = "Deployed"
REASON_FAILED = "Failed"
REASON_INSUFFICIENT_MEMORY = "InsufficientMemory"
REASON_SCALED_TO_ZERO = "ScaledToZero"
REASON_PENDING = "Pending"
REASON_TERMINATING = "Terminating"
REASON_INVALID_SPEC = "InvalidSpec"
"""Not in the seed: a spec the hook cannot read (the schema lets few such specs through)."""
REASON_EXTERNAL = "ExternallyManaged"
"""Not in the seed: a model without `containerImage`, whose backend nothing here runs."""
BACKEND_SERVICE = "BackendService"
"""Condition type, not in the seed: the Service `backendUrl` names, made by this controller."""
REASON_SERVICE_CREATED = "ServiceManaged"
REASON_SERVICE_CONFLICT = "ServiceNotOwned"
ROUTABLE = "Routable"
"""Condition type, not in the seed: False while the request router refuses the backend."""
REASON_BACKEND_NOT_ALLOWED = "BackendNotAllowed"
LEGACY_FINALIZER = "LegacyFinalizer"
"""Condition type, not in the seed: the object carries the original controller's finalizer."""
REASON_LEGACY_FINALIZER = "OriginalControllerFinalizer"
ORIGINAL_FINALIZER = f"{GROUP}/finalizer"
"""The finalizer the original inference-budget controller put on every InferenceModel.
Only that controller removed it, and a hook cannot remove another controller's
finalizer (Metacontroller owns the parent's metadata): it is reported instead."""

DEFAULT_NODE_SELECTOR = {"inference-pool": "default"}
DEFAULT_COOLDOWN_PERIOD = "10m"
MEMORY_PATTERN = r"^[0-9]+(Ki|Mi|Gi|Ti)$"
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
DURATION_PATTERN = r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"
"""Exactly the syntax of Go's time.ParseDuration without a sign, which the hook's parser
reads; the range (at most int64 nanoseconds) is the CEL rule's."""
_DURATION_VALIDATION: dict[str, Any] = {
    "x-kubernetes-validations": [
        {
            "rule": "duration(self) >= duration('0s')",
            "message": "cooldownPeriod must be a duration of at most 2562047h47m16.854775807s",
        }
    ]
}
URI_RULE = r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+[^\s]*$"
_URI_VALIDATION: dict[str, Any] = {
    "format": "uri",
    "x-kubernetes-validations": [
        {
            "rule": f"self.matches('{URI_RULE.replace(chr(92), chr(92) * 2)}')",
            "message": "backendUrl must be an absolute URI with a scheme and a host, "
            "e.g. http://vllm-server:8000",
        }
    ],
}


class ResourceList(KubeModel):
    """Compute resources of the model container."""

    cpu: str | None = Field(default=None, pattern=QUANTITY_PATTERN, max_length=64)
    """CPU requirement in Kubernetes format (e.g., "4", "4000m")"""
    memory: str | None = Field(default=None, pattern=QUANTITY_PATTERN, max_length=64)
    """Memory requirement (e.g., "16Gi", "16384Mi")"""
    gpu: str | None = Field(default=None, pattern=r"^[0-9]+$", max_length=8)
    """GPU count (e.g., "1", "2"). Maps to `nvidia.com/gpu` resource."""


class ResourceRequirements(KubeModel):
    """Compute resource requests and limits for the model container."""

    requests: ResourceList | None = None
    """Minimum resources; memory defaults to spec.memory."""
    limits: ResourceList | None = None
    """Maximum resources; memory defaults to spec.memory, and never below the request."""


class SecretKeySelector(KubeModel):
    """A key of a Secret or ConfigMap in the model's namespace."""

    name: str = Field(min_length=1, max_length=253)
    """Name of the Secret or ConfigMap."""
    key: str = Field(min_length=1, max_length=253)
    """The key whose value is used."""
    optional: bool | None = None
    """Start the container even when the object or its key is missing."""


class EnvVarSource(KubeModel):
    """Where an environment variable's value comes from (secrets never sit in the spec)."""

    secret_key_ref: SecretKeySelector | None = None
    """A key of a Secret."""
    config_map_key_ref: SecretKeySelector | None = None
    """A key of a ConfigMap."""


class EnvVar(KubeModel):
    """An environment variable of the model server container."""

    name: str = Field(min_length=1, max_length=256, pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
    """Variable name; one of MODEL_NAME, BACKEND_URL or PORT replaces the controller's."""
    value: str | None = Field(default=None, max_length=32768)
    """The value."""
    value_from: EnvVarSource | None = None
    """The value from a Secret or ConfigMap key, instead of `value`."""


class ProbeTimings(KubeModel):
    """When and how often a probe runs; unset fields keep the controller's defaults."""

    initial_delay_seconds: int | None = Field(default=None, ge=0, le=86400)
    """Seconds after the container starts before the first probe."""
    period_seconds: int | None = Field(default=None, ge=1, le=86400)
    """Seconds between probes."""
    timeout_seconds: int | None = Field(default=None, ge=1, le=3600)
    """Seconds after which a probe times out."""
    failure_threshold: int | None = Field(default=None, ge=1, le=10000)
    """Consecutive failures before the probe counts as failed."""


class Probes(KubeModel):
    """The HTTP probes of the model server (readiness 30/10/5 s and liveness 60/30 s by default)."""

    path: str = Field(default="/health", pattern=r"^/[^\s]*$", max_length=1024)
    """HTTP path both probes GET on the serving port (vLLM and TGI: /health)."""
    readiness: ProbeTimings = Field(default_factory=ProbeTimings)
    """Readiness probe timings: a model loading its weights for minutes needs a long one."""
    liveness: ProbeTimings = Field(default_factory=ProbeTimings)
    """Liveness probe timings."""


class InferenceModelSpec(KubeModel):
    """The desired state of an inference model."""

    model_name: str = Field(
        min_length=1,
        max_length=NAME_MAX,
        description="The name of the model used for API routing. "
        "This is the identifier clients use in their requests.",
    )
    memory: str = Field(
        pattern=MEMORY_PATTERN,
        max_length=QUANTITY_MAX,
        description='Memory requirement for this model (e.g., "80Gi"). '
        "Used for budget calculation and scheduling decisions.",
    )
    backend_url: str = Field(max_length=URL_MAX, json_schema_extra=_URI_VALIDATION)
    """URL of the backend inference server that will handle requests."""
    node_selector: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_NODE_SELECTOR),
        json_schema_extra=label_map("nodeSelector"),
        description="Labels to select which node pool this model runs on. "
        "Models sharing a node pool compete for the same memory budget.",
    )
    cooldown_period: str = Field(
        default=DEFAULT_COOLDOWN_PERIOD,
        pattern=DURATION_PATTERN,
        max_length=DURATION_MAX,
        json_schema_extra=_DURATION_VALIDATION,
    )
    """How long to wait after the last request before scaling down to zero replicas."""
    max_replicas: int = Field(
        default=1,
        ge=0,
        le=1,
        json_schema_extra=INT32,
        description="Maximum number of replicas. Currently limited to 0-1. "
        "Future versions will support higher values.",
    )
    dependencies: list[Annotated[str, Field(max_length=NAME_MAX)]] = Field(
        default_factory=list,
        max_length=LIST_MAX,
        description="List of model names that must be running before this model starts. "
        "Used for model pipelines.",
    )
    container_image: str = Field(
        default="",
        max_length=IMAGE_MAX,
        description="Docker image for the model server container. Required when the "
        "controller manages the deployment; without it the backend at backendUrl is "
        "managed elsewhere and no Deployment is made.",
    )
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    """Compute resource requirements for the container."""
    command: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        default=None, max_length=64
    )
    """Not in the seed: the container's entrypoint, instead of the image's."""
    args: list[Annotated[str, Field(max_length=4096)]] | None = Field(default=None, max_length=256)
    """Not in the seed: arguments of the model server, e.g. vLLM's
    ["--model", "meta-llama/Llama-2-7b-chat-hf", "--port", "8000"]."""
    env: list[EnvVar] | None = Field(default=None, max_length=128)
    """Not in the seed: more environment variables of the container."""
    probes: Probes | None = None
    """Not in the seed: the probes' path and timings (default: GET /health)."""


class InferenceModelStatus(KubeModel):
    """The observed state of the model."""

    ready: bool | None = Field(
        default=None,
        description="Indicates if the model is ready to serve requests. "
        "True when at least one replica is ready.",
    )
    replicas: int | None = Field(default=None, json_schema_extra=INT32)
    """Current number of running replicas (0 when scaled to zero)."""
    observed_peak_memory: str | None = None
    """Peak memory observed at runtime (e.g., "75Gi"). Populated from metrics collection."""
    utilization_percent: int | None = Field(
        default=None,
        description="Ratio of observed to declared memory (0-100). "
        "Values below 90 suggest potential overprovisioning.",
    )
    recommendation: str | None = None
    """Human-readable suggestion for right-sizing memory allocation."""
    last_observation: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    """Timestamp of the last metrics update."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    """List of conditions describing the model's state."""
    observed_generation: int | None = None
    """The generation of the spec this status was computed from."""


INFERENCE_MODELS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural=PLURAL,
    spec=InferenceModelSpec,
    status=InferenceModelStatus,
    printer_columns=(
        PrinterColumn("Ready", "boolean", ".status.ready"),
        PrinterColumn("Replicas", "integer", ".status.replicas"),
        PrinterColumn("Memory", "string", ".spec.memory"),
    ),
    description="InferenceModel represents a single inference model: its memory, its "
    "backend, its node pool and how it scales to zero.",
)
