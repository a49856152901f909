"""Models of an AIDeployment resolved against the AIModelMaps it references.

A model with `modelMapRef` takes the variant's fields unless the model sets them
inline. The maps arrive as related objects (customize names them), so a map edit
or deletion re-runs the sync; a missing map or variant is reported, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from hooks.k8s.names import stable_hash
from hooks.k8s.objects import JSON, is_deleting, name_of, namespace_of

from .api import (
    REASON_MAP_NOT_FOUND,
    REASON_VARIANT_NOT_FOUND,
    USES_MAP_PREFIX,
    AIModel,
    AIModelMapSpec,
    AIModelSpec,
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
    host_name: str
    """A DNS-safe name for files and containers: `<map>-<variant>` or `<deployment>-model`."""
    uri: str = ""
    quantization: str = ""
    data_type: str = ""
    engine_config_file: str = ""


@dataclass(frozen=True)
class Unresolved:
    """Why the models could not be resolved."""

    reason: str
    message: str


def map_ref(model: AIModel, namespace: str) -> tuple[str, str, str] | None:
    """The (namespace, name, variant) a model references, if any; the map's namespace
    defaults to the AIDeployment's."""
    ref = model.model_map_ref
    if ref is None:
        return None
    return (ref.namespace or namespace, ref.name, ref.variant)


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
            resolved.append(_resolved(model, model, deployment, f"{deployment}-{suffix}"))
            continue
        map_namespace, map_name, variant_name = ref
        where = f"{map_namespace}/{map_name}"
        if (map_namespace, map_name) not in maps:
            return Unresolved(REASON_MAP_NOT_FOUND, f"AIModelMap {where} does not exist")
        spec = maps[(map_namespace, map_name)]
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
        resolved.append(_resolved(model, variant, map_name, f"{map_name}-{variant_name}"))
    return resolved


def _resolved(model: AIModelSpec, base: AIModelSpec, name: str, host: str) -> ResolvedModel:
    """The model's own fields, each falling back to the variant's (`base`)."""
    return ResolvedModel(
        name=name,
        host_name=host.replace("_", "-").replace(".", "-").lower(),
        uri=(model.uri or base.uri or "").strip(),
        quantization=model.quantization or base.quantization or "",
        data_type=model.data_type or base.data_type or "",
        engine_config_file=model.engine_config_file or base.engine_config_file or "",
    )
