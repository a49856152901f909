"""What each engine puts in the pod: image, port, serving container, init containers, volumes.

The defaults (images, ports, probes, args) are the original operator's, so a
manifest written for it gets the same pod. Differences, each on purpose:
LocalAI's models volume is disk-backed (a RAM-backed emptyDir counts a
multi-gigabyte model against the pod's memory limit), every download has its
own init container name, `env` reaches the serving container of every engine,
and `imagePullPolicy` is left to Kubernetes (Always for `latest`, IfNotPresent
for pinned tags).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hooks.k8s.names import child_name
from hooks.k8s.objects import JSON

from .api import (
    REASON_INVALID_SPEC,
    REASON_UNKNOWN_ENGINE,
    AIDeploymentSpec,
    DeploymentSpec,
    EnvVar,
    Probe,
)
from .resolve import ResolvedModel

IMAGE_REPOSITORY_OPTION, IMAGE_TAG_OPTION = "imageRepository", "imageTag"
DTYPE_OPTION, QUANTIZATION_OPTION = "dtype", "quantization"
SERVING = "serving"
MODELS_VOLUME, CACHE_VOLUME, CONFIGS_VOLUME = "models", "cache", "configs"
GENERIC_DEFAULT_PORT = 8000


class SpecError(Exception):
    """A spec the schema accepts but no pod can be built from."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass
class ServingPod:
    """The engine's part of the pod, before scheduling properties are added."""

    image: str
    port: int
    container: JSON
    init_containers: list[JSON] = field(default_factory=list)
    volumes: list[JSON] = field(default_factory=list)
    sidecars: list[JSON] = field(default_factory=list)
    """Containers of the user's template that run beside `serving`."""
    config_files: dict[str, str] = field(default_factory=dict)
    """Engine config files by file name: the data of the AIDeployment's ConfigMap."""


def serving_pod(
    spec: AIDeploymentSpec, models: Sequence[ResolvedModel], *, config_map: str
) -> ServingPod:
    """The engine's containers and volumes; raises SpecError for what cannot run."""
    engine = spec.engine.name
    if engine == "generic":
        return _generic(spec, models)
    known = ENGINES.get(engine)
    if known is None:
        raise SpecError(
            REASON_UNKNOWN_ENGINE,
            f"unknown engine {engine!r}; use one of localai, vllm, deepspeed-mii, triton, generic",
        )
    options = spec.engine.options or {}
    repository = options.get(IMAGE_REPOSITORY_OPTION) or known.repository
    image = f"{repository}:{options.get(IMAGE_TAG_OPTION) or known.tag}"
    pod = known.build(spec, models, image, known.port, config_map)
    pod.sidecars = list(_template_containers(spec))
    return pod


def _localai(
    spec: AIDeploymentSpec, models: Sequence[ResolvedModel], image: str, port: int, config: str
) -> ServingPod:
    env = _env(spec.env)
    if not any(e["name"] == "MODELS_PATH" for e in env):
        env.append({"name": "MODELS_PATH", "value": "/models"})
    container = _container(
        image,
        port,
        env=env,
        mounts=[(MODELS_VOLUME, "/models"), (CACHE_VOLUME, "/root/.cache")],
        probes=(
            _http("/readyz", port, initialDelaySeconds=1, periodSeconds=10, failureThreshold=120),
            _http("/healthz", port, failureThreshold=3),
            _http("/healthz", port, periodSeconds=30, timeoutSeconds=15, failureThreshold=10),
        ),
        overrides=spec,
    )
    pod = ServingPod(
        image,
        port,
        container,
        volumes=[_empty_dir(MODELS_VOLUME), _empty_dir(CACHE_VOLUME)],
    )
    file_names: set[str] = set()
    for model in models:
        if model.engine_config_file:
            pod.config_files[f"{model.host_name}.yaml"] = model.engine_config_file
            continue
        if not model.uri:
            raise SpecError(REASON_INVALID_SPEC, f"model {model.host_name} has no uri")
        if _is_http(model.uri):
            file_name = model.name if model.name not in file_names else model.host_name
            file_names.add(file_name)
            pod.init_containers.append(
                _download(
                    image,
                    model,
                    file_name,
                    'curl -fL --retry 3 -o "/models/$MODEL_NAME" "$MODEL_PATH"',
                )
            )
        else:
            container.setdefault("args", []).append(model.uri)
    if pod.config_files:
        pod.volumes.append(
            {
                "name": CONFIGS_VOLUME,
                "configMap": {
                    "name": config,
                    "items": [{"key": k, "path": f"engine/{k}"} for k in sorted(pod.config_files)],
                },
            }
        )
        pod.init_containers.append(
            {
                "name": "init-configs",
                "image": image,
                "command": ["sh", "-c"],
                "args": ["cp -v /configs/engine/* /models"],
                "volumeMounts": [
                    {"name": CONFIGS_VOLUME, "mountPath": "/configs"},
                    {"name": MODELS_VOLUME, "mountPath": "/models"},
                ],
            }
        )
    return pod


def _vllm(
    spec: AIDeploymentSpec, models: Sequence[ResolvedModel], image: str, port: int, config: str
) -> ServingPod:
    model = _only_model("vllm", models)
    args = ["--model", model.uri]
    options = {
        **({DTYPE_OPTION: model.data_type} if model.data_type else {}),
        **({QUANTIZATION_OPTION: model.quantization} if model.quantization else {}),
        **(spec.engine.options or {}),
    }
    for option, flag in ((DTYPE_OPTION, "--dtype"), (QUANTIZATION_OPTION, "--quantization")):
        value = options.get(option)
        if value is None:
            continue
        if not re.fullmatch(r"[A-Za-z0-9]+", value):
            raise SpecError(REASON_INVALID_SPEC, f"{option} must be alphanumeric, not {value!r}")
        args += [flag, value]
    health = ("/health", port)
    container = _container(
        image,
        port,
        args=args,
        env=_env(spec.env),
        mounts=[(MODELS_VOLUME, "/root/.cache/huggingface")],
        probes=(
            _http(*health, initialDelaySeconds=3, periodSeconds=1, failureThreshold=120),
            _http(*health, failureThreshold=3),
            _http(*health, periodSeconds=30, timeoutSeconds=15, failureThreshold=10),
        ),
        overrides=spec,
    )
    return ServingPod(image, port, container, volumes=[_empty_dir(MODELS_VOLUME)])


def _deepspeed(
    spec: AIDeploymentSpec, models: Sequence[ResolvedModel], image: str, port: int, config: str
) -> ServingPod:
    model = _only_model("deepspeed-mii", models)
    container = _container(
        image,
        port,
        args=["--uri", model.uri],
        env=_env(spec.env),
        probes=(
            {
                "tcpSocket": {"port": 50051},
                "initialDelaySeconds": 30,
                "periodSeconds": 5,
                "failureThreshold": 120,
            },
            _http("/healthz", port, failureThreshold=3),
            _http("/healthz", port, periodSeconds=30, timeoutSeconds=15, failureThreshold=10),
        ),
        overrides=spec,
    )
    return ServingPod(image, port, container)


def _triton(
    spec: AIDeploymentSpec, models: Sequence[ResolvedModel], image: str, port: int, config: str
) -> ServingPod:
    ready = ("/v2/health/ready", port)
    container = _container(
        image,
        port,
        args=["tritonserver", "--model-repository=/models"],
        env=_env(spec.env),
        mounts=[(MODELS_VOLUME, "/models")],
        probes=(
            _http(*ready, periodSeconds=10, failureThreshold=30),
            _http(*ready, initialDelaySeconds=5, periodSeconds=5, failureThreshold=3),
            _http(
                "/v2/health/live",
                port,
                initialDelaySeconds=15,
                periodSeconds=10,
                timeoutSeconds=25,
                failureThreshold=3,
            ),
        ),
        overrides=spec,
    )
    pod = ServingPod(image, port, container, volumes=[_empty_dir(MODELS_VOLUME)])
    for model in models:
        if not _is_http(model.uri):
            raise SpecError(
                REASON_INVALID_SPEC,
                f"triton downloads its models over http(s); {model.uri!r} "
                f"({model.host_name}) is not such a URL",
            )
        script = triton_download_script(model.uri)
        pod.init_containers.append(_download(image, model, model.name, script))
    return pod


_FETCH = 'curl -fsSL -o /models/.download "$MODEL_PATH" && '
TRITON_UNPACK = {
    "tar.gz": _FETCH + "tar -xzf /models/.download -C /models && rm /models/.download",
    "tar": _FETCH + "tar -xf /models/.download -C /models && rm /models/.download",
    # No unzip in the Triton images; their Python has zipfile.
    "zip": _FETCH + "python3 -m zipfile -e /models/.download /models && rm /models/.download",
}
"""How each kind of archive is unpacked into the model repository (`/models`): fetched
to a file first, so that a failed download fails the init container (sh has no pipefail)."""
TRITON_FILE = 'curl -fL --create-dirs -O --output-dir "/models/$MODEL_NAME/1" "$MODEL_PATH"'
"""Anything else is one model file, put where Triton looks for version 1 of the model."""


def archive_kind(uri: str) -> str | None:
    """`tar.gz`, `tar` or `zip` by the name at the end of the URL's path (query and
    fragment ignored, any case), or None for a plain model file."""
    path = urlsplit(uri).path.lower()
    if path.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if path.endswith(".tar"):
        return "tar"
    if path.endswith(".zip"):
        return "zip"
    return None


def triton_download_script(uri: str) -> str:
    kind = archive_kind(uri)
    return TRITON_FILE if kind is None else TRITON_UNPACK[kind]


def _generic(spec: AIDeploymentSpec, models: Sequence[ResolvedModel]) -> ServingPod:
    if models:
        raise SpecError(
            REASON_INVALID_SPEC,
            "the generic engine takes no models: give the server its model in the "
            "template's args or env",
        )
    containers = list(_template_containers(spec))
    if not containers:
        raise SpecError(
            REASON_INVALID_SPEC,
            "the generic engine needs deployment.template with at least one container",
        )
    first = containers[0]
    endpoints = spec.endpoint or []
    port = (endpoints[0].port if endpoints else None) or GENERIC_DEFAULT_PORT
    container: JSON = {**first, "name": SERVING}
    by_name = {e.get("name"): e for e in first.get("env") or [] if isinstance(e, dict)}
    by_name.update({e["name"]: e for e in _env(spec.env)})
    if by_name:
        container["env"] = list(by_name.values())
    ports = [p for p in first.get("ports") or [] if isinstance(p, dict)]
    known = {p.get("containerPort") for p in ports}
    ports += [{"containerPort": e.port} for e in endpoints if e.port and e.port not in known]
    if ports:
        container["ports"] = ports
    deployment = spec.deployment or DeploymentSpec()
    for key, override in (
        ("startupProbe", deployment.startup_probe),
        ("readinessProbe", deployment.readiness_probe),
        ("livenessProbe", deployment.liveness_probe),
    ):
        if isinstance(container.get(key), dict):
            container[key] = _merge_probe(container[key], override)
    return ServingPod(str(first.get("image") or ""), port, container, sidecars=containers[1:])


Builder = Callable[[AIDeploymentSpec, Sequence[ResolvedModel], str, int, str], ServingPod]
"""(spec, models, image, port, engine ConfigMap name) -> the engine's part of the pod."""


@dataclass(frozen=True)
class Engine:
    repository: str
    tag: str
    port: int
    build: Builder


ENGINES = {
    "localai": Engine("quay.io/go-skynet/local-ai", "latest", 8080, _localai),
    "vllm": Engine("vllm/vllm-openai", "latest", 8000, _vllm),
    "deepspeed-mii": Engine("premai/deepspeed-mii", "latest", 8080, _deepspeed),
    "triton": Engine("nvcr.io/nvidia/tritonserver", "24.01-py3", 8000, _triton),
}
"""The engines with an image of their own (generic runs the user's template)."""


def _only_model(engine: str, models: Sequence[ResolvedModel]) -> ResolvedModel:
    if len(models) != 1:
        raise SpecError(
            REASON_INVALID_SPEC,
            f"the {engine} engine serves exactly one model; {len(models)} given",
        )
    if not models[0].uri:
        raise SpecError(REASON_INVALID_SPEC, f"model {models[0].host_name} has no uri")
    return models[0]


def _template_containers(spec: AIDeploymentSpec) -> list[JSON]:
    template = (spec.deployment.template if spec.deployment else None) or {}
    pod_spec = template.get("spec") or {}
    return [copy.deepcopy(c) for c in pod_spec.get("containers") or [] if isinstance(c, dict)]


def _container(
    image: str,
    port: int,
    *,
    probes: tuple[JSON, JSON, JSON],
    overrides: AIDeploymentSpec,
    args: list[str] | None = None,
    env: list[JSON] | None = None,
    mounts: list[tuple[str, str]] | None = None,
) -> JSON:
    deployment = overrides.deployment or DeploymentSpec()
    startup, readiness, liveness = probes
    container: JSON = {"name": SERVING, "image": image}
    if args:
        container["args"] = args
    if env:
        container["env"] = env
    container["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    if mounts:
        container["volumeMounts"] = [{"name": n, "mountPath": p} for n, p in mounts]
    container["startupProbe"] = _merge_probe(startup, deployment.startup_probe)
    container["readinessProbe"] = _merge_probe(readiness, deployment.readiness_probe)
    container["livenessProbe"] = _merge_probe(liveness, deployment.liveness_probe)
    return container


def _merge_probe(probe: JSON, override: Probe | None) -> JSON:
    """The probe with each field the override sets replaced (zero means unset, as before)."""
    merged = dict(probe)
    for key, value in (override.to_json() if override else {}).items():
        if value:
            merged[key] = value
    return merged


def _http(path: str, port: int, **fields: int) -> JSON:
    return {"httpGet": {"path": path, "port": port}, **fields}


def _env(env: Sequence[EnvVar] | None) -> list[JSON]:
    return [e.to_json() for e in env or ()]


def _empty_dir(name: str) -> JSON:
    return {"name": name, "emptyDir": {}}


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _download(image: str, model: ResolvedModel, file_name: str, script: str) -> JSON:
    return {
        "name": child_name("download", model.host_name),
        "image": image,
        "command": ["sh", "-c"],
        "args": [script],
        "env": [
            {"name": "MODEL_NAME", "value": file_name},
            {"name": "MODEL_PATH", "value": model.uri},
        ],
        "volumeMounts": [{"name": MODELS_VOLUME, "mountPath": "/models"}],
    }
