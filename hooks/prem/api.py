"""The AIDeployment and AIModelMap APIs (seed 004): models, constants and CRDs.

Every field of the original operator keeps its name, type and nesting, so its
manifests apply unchanged (including `deployment:` or `labels:` left empty,
which YAML reads as null). Objects the original took from core/v1 (`env`,
`resources`, the pod `template`) are kept open where the API server validates
them anyway: on the Deployment this project builds from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from hooks.crdgen import CustomResource, PrinterColumn
from hooks.k8s.conditions import CONDITIONS_SCHEMA_EXTRA, Condition
from hooks.k8s.model import KubeModel
from hooks.k8s.schema import (
    ANNOTATIONS,
    DOCUMENT_MAX,
    INT32,
    INT32_MAX,
    LABEL_MAX,
    LIST_MAX,
    NAME_MAX,
    OPTIONS,
    QUANTITIES,
    TEXT_MAX,
    URL_MAX,
    label_map,
)

GROUP, VERSION = "premlabs.io", "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# The original's labels and annotations, kept so that its selectors still work.
DEPLOYMENT_LABEL = "mlcontroller.premlabs.io/ai-deployment"
"""On every child (label on the pods and the Deployment, annotation on Service and Ingress)."""
SPREAD_LABEL = "mlcontroller.premlabs.io/spread-topology"
MODEL_MAP_LABEL = "mlcontroller.premlabs.io/aimodelmap"
"""On an AIModelMap's ConfigMap (label and annotation), with the map's name."""
USES_MAP_PREFIX = "maps.premlabs.io/"
"""On an AIDeployment, one label per AIModelMap it references (`maps.premlabs.io/<hash>`,
value the map's name), so that a map can find its users with a label selector."""
CONFIG_HASH_ANNOTATION = "premlabs.io/engine-config-hash"
"""On the pod template: a hash of the engine config files, so an edit rolls the pods."""

ENGINES = ("localai", "vllm", "deepspeed-mii", "triton", "generic")
MAP_ENGINES = ("localai", "vllm", "deepspeed-mii", "tensor_rt")

# Condition types and reasons, in one place.
READY, AVAILABLE, MODELS_RESOLVED = "Ready", "Available", "ModelsResolved"
REASON_AVAILABLE = "Available"
REASON_DEPLOYING = "Deploying"
REASON_UNAVAILABLE = "Unavailable"
REASON_SCALED_TO_ZERO = "ScaledToZero"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_UNKNOWN_ENGINE = "UnknownEngine"
REASON_MODELS_RESOLVED = "Resolved"
REASON_MAP_NOT_FOUND = "ModelMapNotFound"
REASON_VARIANT_NOT_FOUND = "VariantNotFound"
REASON_MODELS_UNRESOLVED = "ModelsUnresolved"

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DOMAIN = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_ALPHANUMERIC = r"^[A-Za-z0-9]+$"
ENV_MAX, ENV_VALUE_MAX, ARGS_MAX = 128, 32768, 256
_OPEN: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


class AIEngine(KubeModel):
    """The model server that runs the models."""

    name: str = Field(min_length=1, json_schema_extra={"enum": list(ENGINES)})
    """One of localai, vllm, deepspeed-mii, triton or generic (the user's pod template)."""
    options: dict[str, str] | None = Field(default=None, json_schema_extra=OPTIONS)
    """Engine options: imageRepository and imageTag override the image; for vllm, dtype
    and quantization override the model's dataType and quantization."""


class Endpoint(KubeModel):
    """A domain the models are served on: one Ingress rule."""

    domain: str = Field(max_length=253, pattern=_DOMAIN)
    """The host name of the Ingress rule."""
    port: int | None = Field(default=None, ge=1, le=65535, json_schema_extra=INT32)
    """For the generic engine, the container port served (the first endpoint's is the
    Service port); the other engines serve on their own port."""


class EnvVar(KubeModel):
    """An environment variable of the serving container (core/v1 EnvVar)."""

    name: str = Field(min_length=1, max_length=TEXT_MAX)
    """The variable's name."""
    value: str | None = Field(default=None, max_length=ENV_VALUE_MAX)
    """Its value."""
    value_from: dict[str, Any] | None = Field(default=None, json_schema_extra=_OPEN)
    """Where the value comes from instead (core/v1 EnvVarSource: a Secret or ConfigMap key,
    a field of the pod)."""


class ObjectMetadata(KubeModel):
    """Labels and annotations to put on a child."""

    labels: dict[str, str] | None = Field(default=None, json_schema_extra=label_map())
    """Labels added to the object's own."""
    annotations: dict[str, str] | None = Field(default=None, json_schema_extra=ANNOTATIONS)
    """Annotations added to the object's own (e.g. an ingress class or cert-manager issuer)."""


class Ingress(ObjectMetadata):
    """The Ingress made when `endpoint` lists domains."""

    tls: bool | None = None
    """Serve the domains over TLS with the certificate in the Secret `<name>-tls`."""


class Probe(KubeModel):
    """Overrides of the engine's probe, merged field by field; unset fields keep the default."""

    initial_delay_seconds: int | None = Field(
        default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32
    )
    """Seconds after the container starts before the first probe."""
    timeout_seconds: int | None = Field(default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32)
    """Seconds a probe may take."""
    period_seconds: int | None = Field(default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32)
    """Seconds between probes."""
    success_threshold: int | None = Field(default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32)
    """Consecutive successes that count as success after a failure."""
    failure_threshold: int | None = Field(default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32)
    """Consecutive failures that count as failure."""
    termination_grace_period_seconds: int | None = Field(
        default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32
    )
    """Seconds the pod gets to stop after this probe fails."""


class Version(KubeModel):
    """A GPU compute capability, e.g. 8.0 for Ampere."""

    major: int = Field(ge=0, le=INT32_MAX, json_schema_extra=INT32)
    """The major version, e.g. 8."""
    minor: int | None = Field(default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32)
    """The minor version, e.g. 6 for 8.6 (default 0)."""


class Accelerator(KubeModel):
    """The GPU the serving container needs."""

    interface: Literal["CUDA", "ROCm", "OpenCL"]
    """CUDA requests nvidia.com/gpu with runtime class nvidia; ROCm requests amd.com/gpu."""
    min_version: Version | None = None
    """For CUDA, the least compute capability, matched against the GPU feature discovery
    labels nvidia.com/gpu.compute.major and .minor by node affinity."""


class ResourceRequirements(KubeModel):
    """Requests and limits of the serving container (core/v1 ResourceRequirements)."""

    requests: dict[str, int | str] | None = Field(default=None, json_schema_extra=QUANTITIES)
    """Resources the pod is scheduled with, e.g. cpu, memory, nvidia.com/gpu."""
    limits: dict[str, int | str] | None = Field(default=None, json_schema_extra=QUANTITIES)
    """The most the container may use."""


class DeploymentSpec(KubeModel):
    """How the serving pods run."""

    labels: dict[str, str] | None = Field(default=None, json_schema_extra=label_map())
    """Labels on the pods."""
    annotations: dict[str, str] | None = Field(default=None, json_schema_extra=ANNOTATIONS)
    """Annotations on the pods."""
    accelerator: Accelerator | None = None
    """The GPU the model server needs; without it, asking for a GPU resource is an error."""
    resources: ResourceRequirements | None = None
    """Merged over the serving container's own (the template's, for generic)."""
    node_selector: dict[str, str] | None = Field(
        default=None, json_schema_extra=label_map("nodeSelector")
    )
    """Node labels the pods need, e.g. premlabs.io/gpu-class: a100-80gb; merged over the
    template's."""
    replicas: int | None = Field(default=None, ge=0, le=INT32_MAX, json_schema_extra=INT32)
    """Pod replicas (default 1)."""
    template: dict[str, Any] | None = Field(default=None, json_schema_extra=_OPEN)
    """A pod template (core/v1 PodTemplateSpec) to start from; for the generic engine, its
    first container is the model server and becomes `serving`."""
    startup_probe: Probe | None = None
    """Overrides of the engine's startup probe."""
    readiness_probe: Probe | None = None
    """Overrides of the engine's readiness probe."""
    liveness_probe: Probe | None = None
    """Overrides of the engine's liveness probe."""


class AIModelSpec(KubeModel):
    """What a model is: where to get it and how to run it."""

    uri: str | None = Field(default=None, max_length=URL_MAX)
    """A name or URL the engine understands; LocalAI and Triton download http(s) URLs."""
    quantization: str | None = Field(default=None, pattern=_ALPHANUMERIC, max_length=LABEL_MAX)
    """e.g. awq or gptq (vllm --quantization)."""
    data_type: str | None = Field(default=None, pattern=_ALPHANUMERIC, max_length=LABEL_MAX)
    """e.g. float16 or bfloat16 (vllm --dtype)."""
    engine_config_file: str | None = Field(default=None, max_length=DOCUMENT_MAX)
    """The engine's model configuration (for LocalAI, its model YAML)."""


class AIModelMapReference(KubeModel):
    """A variant of an AIModelMap."""

    namespace: str | None = Field(default=None, max_length=LABEL_MAX)
    """The map's namespace (default: the AIDeployment's)."""
    name: str = Field(min_length=1, max_length=NAME_MAX)
    """The map's name."""
    variant: str = Field(min_length=1, max_length=LABEL_MAX)
    """The variant, in the map's list for the deployment's engine."""


class AIModel(AIModelSpec):
    """A model to serve: inline, or a map variant whose fields apply unless set here."""

    model_map_ref: AIModelMapReference | None = None
    """A catalog variant; fields set here take precedence over the variant's."""
    options: dict[str, str] | None = Field(default=None, json_schema_extra=OPTIONS)
    """Accepted for compatibility with the original; no engine reads it."""


class AIDeploymentSpec(KubeModel):
    """The desired state of an AI deployment."""

    endpoint: list[Endpoint] | None = Field(default=None, max_length=32)
    """Domains to serve on, one Ingress rule each; no endpoints, no Ingress."""
    engine: AIEngine
    """The model server."""
    env: list[EnvVar] | None = Field(default=None, max_length=ENV_MAX)
    """Environment of the serving container."""
    args: list[Annotated[str, Field(max_length=TEXT_MAX)]] | None = Field(
        default=None, max_length=ARGS_MAX
    )
    """Arguments appended to the engine's own."""
    service: ObjectMetadata | None = None
    """Labels and annotations of the Service."""
    deployment: DeploymentSpec | None = None
    """How the pods run."""
    ingress: Ingress | None = None
    """Labels, annotations and TLS of the Ingress."""
    models: list[AIModel] | None = Field(default=None, max_length=LIST_MAX)
    """The models to serve (vllm and deepspeed-mii: exactly one; generic: none)."""


class EndpointStatus(KubeModel):
    domain: str
    """The endpoint's domain."""
    url: str
    """Where clients reach the models (https when ingress.tls is set)."""


class AIDeploymentStatus(KubeModel):
    """The observed state of the AI deployment."""

    status: Literal["Ready", "NotReady", "Failed"] | None = None
    """The original summary: Ready, NotReady or Failed."""
    err_msg: str | None = None
    """Why the status is Failed."""
    replicas: int | None = Field(default=None, json_schema_extra=INT32)
    """Desired pod replicas."""
    ready_replicas: int | None = Field(default=None, json_schema_extra=INT32)
    ready: str | None = None
    """Ready pods over desired, e.g. 1/1."""
    image: str | None = None
    """The image of the serving container."""
    endpoints: list[EndpointStatus] | None = None
    """The URL per endpoint domain."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    """Ready, Available and ModelsResolved."""
    observed_generation: int | None = None


_UNIQUE_VARIANTS: dict[str, Any] = {
    "maxItems": 256,
    "x-kubernetes-validations": [
        {
            "rule": "self.all(a, self.exists_one(b, b.variant == a.variant))",
            "message": "variant names must be unique within an engine",
        }
    ],
}


class AIModelVariant(AIModelSpec):
    """One variant of the model for one engine."""

    variant: str = Field(max_length=63, pattern=_DNS_LABEL)
    """The variant's name, a DNS label (e.g. base, q4-k-m, awq)."""


class AIModelMapSpec(KubeModel):
    """The variants of one model, per engine."""

    model_config = ConfigDict(populate_by_name=True)

    localai: list[AIModelVariant] | None = Field(default=None, json_schema_extra=_UNIQUE_VARIANTS)
    """Variants for the localai engine."""
    vllm: list[AIModelVariant] | None = Field(default=None, json_schema_extra=_UNIQUE_VARIANTS)
    """Variants for the vllm engine."""
    deepspeed_mii: list[AIModelVariant] | None = Field(
        default=None, alias="deepspeed-mii", json_schema_extra=_UNIQUE_VARIANTS
    )
    """Variants for the deepspeed-mii engine."""
    tensor_rt: list[AIModelVariant] | None = Field(
        default=None, alias="tensor_rt", json_schema_extra=_UNIQUE_VARIANTS
    )
    """Variants for the triton engine."""

    def variants(self, engine: str) -> list[AIModelVariant]:
        """The variants for a map engine key (localai, vllm, deepspeed-mii, tensor_rt)."""
        found = {
            "localai": self.localai,
            "vllm": self.vllm,
            "deepspeed-mii": self.deepspeed_mii,
            "tensor_rt": self.tensor_rt,
        }.get(engine)
        return list(found or ())


class AIModelMapStatus(KubeModel):
    """What the map offers and who uses it."""

    variants: dict[str, list[str]] = Field(default_factory=dict)
    """Variant names per engine."""
    variant_count: int = Field(default=0, json_schema_extra=INT32)
    """Variants over all engines."""
    used_by: list[str] = Field(default_factory=list)
    """The AIDeployments (namespace/name) that reference the map, the first 50 by name."""
    used_by_count: int = Field(default=0, json_schema_extra=INT32)
    """How many AIDeployments reference the map."""
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )
    observed_generation: int | None = None


AI_DEPLOYMENTS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind="AIDeployment",
    plural="aideployments",
    spec=AIDeploymentSpec,
    status=AIDeploymentStatus,
    short_names=("aid",),
    categories=("aihooks", "prem"),
    description="An AI model server: engine, models, pods, Service and Ingress.",
    printer_columns=(
        PrinterColumn("Engine", "string", ".spec.engine.name"),
        PrinterColumn("Status", "string", ".status.status"),
        PrinterColumn("Ready", "string", ".status.ready"),
    ),
)
AI_MODEL_MAPS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind="AIModelMap",
    plural="aimodelmaps",
    spec=AIModelMapSpec,
    status=AIModelMapStatus,
    short_names=("aimm",),
    categories=("aihooks", "prem"),
    description="A catalog entry: the variants of one model for each engine.",
    printer_columns=(
        PrinterColumn("Variants", "integer", ".status.variantCount"),
        PrinterColumn("Used By", "integer", ".status.usedByCount"),
    ),
)
