"""Models of an AIDeployment resolved against the AIModelMaps it references.

A model with `modelMapRef` takes the variant's fields unless the model sets them
inline. The maps arrive as related objects (customize names them), so a map edit
or deletion re-runs the sync; a missing map or variant is reported, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from hooks.k8s.names import stable_hash
from hooks.k8s.objects import JSON, is_deleting, name_of, namespace_of

from .api import (
    REASON_MAP_NOT_FOUND,
    REASON_VARIANT_NOT_FOUND,
    USES_MAP_PREFIX,
    AIModel,
    AIModelMapSpec,
)

MAP_ENGINE_OF = {
    "localai": "localai",
    "vllm": "vllm",
    "deepspeed-mii": "deepspeed-mii",
    "triton": "tensor_rt",
}
"""Which list of an AIModelMap each engine takes its variants from."""


@dataclass(frozen=True)
class ResolvedModel:
    """A model with its map variant applied."""

    name: str
    """The map's name, or the AIDeployment's for an inline model."""
    variant: str
    """The variant, or `inline`."""
    host_name: str
    """A DNS-safe name for files and containers: `<map>-<variant>` or `<deployment>-model`."""
    uri: str = ""
    quantization: str = ""
    data_type: str = ""
    engine_config_file: str = ""
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Unresolved:
    """Why the models could not be resolved."""

    reason: str
    message: str


def map_ref(model: AIModel, namespace: str) -> tuple[str, str] | None:
    """The (namespace, name) of the map a model references, if any."""
    ref = model.model_map_ref
    if ref is None:
        return None
    return (ref.namespace or namespace, ref.name)


def map_label(namespace: str, name: str) -> str:
    """The label key an AIDeployment carries for each map it uses."""
    return f"{USES_MAP_PREFIX}{stable_hash(f'{namespace}/{name}', 16)}"


def index_maps(objects: Sequence[JSON]) -> dict[tuple[str, str], AIModelMapSpec | None]:
    """Live related maps by (namespace, name); None for one whose spec does not parse."""
    found: dict[tuple[str, str], AIModelMapSpec | None] = {}
    for obj in objects:
        if is_deleting(obj):
            continue
        try:
            spec: AIModelMapSpec | None = AIModelMapSpec.model_validate(obj.get("spec") or {})
        except ValidationError:
            spec = None
        found[(namespace_of(obj), name_of(obj))] = spec
    return found


def resolve(
    *,
    deployment: str,
    namespace: str,
    engine: str,
    models: Sequence[AIModel],
    maps: Mapping[tuple[str, str], AIModelMapSpec | None],
) -> list[ResolvedModel] | Unresolved:
    """Every model resolved, or the first reason one could not be."""
    resolved = []
    for index, model in enumerate(models):
        ref = map_ref(model, namespace)
        if ref is None:
            suffix = "model" if index == 0 else f"model-{index}"
            resolved.append(_resolved(model, model, deployment, "inline", f"{deployment}-{suffix}"))
            continue
        variant_name = model.model_map_ref.variant if model.model_map_ref else ""
        where = f"{ref[0]}/{ref[1]}"
        if ref not in maps:
            return Unresolved(REASON_MAP_NOT_FOUND, f"AIModelMap {where} does not exist")
        spec = maps[ref]
        if spec is None:
            return Unresolved(REASON_MAP_NOT_FOUND, f"AIModelMap {where} has an invalid spec")
        map_engine = MAP_ENGINE_OF.get(engine)
        if map_engine is None:
            return Unresolved(
                REASON_VARIANT_NOT_FOUND,
                f"the {engine} engine takes no models from an AIModelMap ({where})",
            )
        variants = {v.variant: v for v in spec.variants(map_engine)}
        variant = variants.get(variant_name)
        if variant is None:
            offered = ", ".join(sorted(variants)) or "none"
            return Unresolved(
                REASON_VARIANT_NOT_FOUND,
                f"AIModelMap {where} has no {map_engine} variant {variant_name!r} "
                f"(it has: {offered})",
            )
        host = _host_name(f"{ref[1]}-{variant_name}")
        resolved.append(_resolved(model, variant, ref[1], variant_name, host))
    return resolved


def _resolved(
    model: AIModel, base: AIModel | object, name: str, variant: str, host: str
) -> ResolvedModel:
    def pick(attr: str) -> str:
        return str(getattr(model, attr) or getattr(base, attr, None) or "")

    return ResolvedModel(
        name=name,
        variant=variant,
        host_name=_host_name(host),
        uri=pick("uri").strip(),
        quantization=pick("quantization"),
        data_type=pick("data_type"),
        engine_config_file=pick("engine_config_file"),
        options=dict(model.options or {}),
    )


def _host_name(name: str) -> str:
    return name.replace("_", "-").replace(".", "-").lower()
