"""The EndpointConfig and Endpoint hooks: derived Models and routing, and the Gateway.

* EndpointConfig: customize names the template Models and the namespace's
  Endpoints; sync derives one Model per entry, one weighted VirtualService route
  and the in-mesh Service, keeping what exists when a template is missing.
* Endpoint: customize names the EndpointConfig; sync builds the Gateway and reports
  the URLs and whether the config is ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    RelatedResourceRule,
    last_desired,
    resource_key,
)
from hooks.k8s.conditions import Want, merge_conditions
from hooks.k8s.objects import JSON, generation_of, name_of, namespace_of, sort_objects
from hooks.settings import Settings

from .api import (
    API_VERSION,
    CONFIG_READY,
    MODELS_READY,
    READY,
    REASON_CONFIG_NOT_FOUND,
    REASON_CONFIG_NOT_READY,
    REASON_INVALID_SPEC,
    REASON_MODEL_NOT_FOUND,
    REASON_MODELS_NOT_READY,
    REASON_NAME_CONFLICT,
    REASON_READY,
    ConfigModelStatus,
    EndpointConfigSpec,
    EndpointConfigStatus,
    EndpointSpec,
    EndpointStatus,
    ModelSpec,
)
from .children import monitoring_url
from .observe import conditions_of, read_spec, ready_message, ready_of, spec_problem
from .routing import (
    build_config_service,
    build_derived_model,
    build_gateway,
    build_virtual_service,
    derived_model_name,
    endpoint_refs,
    endpoint_url,
    gateway_name,
    mesh_host,
    normalise_weights,
)

MODELS_KEY = resource_key(API_VERSION, "Model")
CONFIGS_KEY = resource_key(API_VERSION, "EndpointConfig")
ENDPOINTS_KEY = resource_key(API_VERSION, "Endpoint")
VIRTUAL_SERVICES_KEY = resource_key("networking.istio.io/v1", "VirtualService")


def sync_config(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    parent = request.parent
    config, namespace = name_of(parent), namespace_of(parent)
    spec = read_spec(parent, EndpointConfigSpec)
    problem = config_problem(spec) if spec is not None else spec_problem(parent, EndpointConfigSpec)
    if spec is None or problem is not None:
        status = EndpointConfigStatus(host=mesh_host(config, namespace)).to_json()
        return _invalid(request, status, problem or "spec: cannot be read", now)
    templates = {name_of(m): m for m in request.related_of(MODELS_KEY)}
    observed = {name_of(m): m for m in request.children_of(MODELS_KEY)}
    children: list[JSON] = []
    running: list[int] = []
    missing: list[str] = []
    conflicts: list[str] = []
    template_names = {entry.model for entry in spec.models}
    for index, entry in enumerate(spec.models):
        derived = derived_model_name(config, entry.model)
        if derived in template_names:
            # The config would take over one of its own templates.
            conflicts.append(f"{entry.model} (derived {derived} is a template too)")
            continue
        template = _model_spec(templates.get(entry.model))
        if template is not None:
            children.append(build_derived_model(config, namespace, template, entry))
            running.append(index)
        else:
            missing.append(entry.model)
            if derived in observed:
                children.append(last_desired(observed[derived]))
                running.append(index)
    percents = [0] * len(spec.models)
    for index, percent in zip(
        running, normalise_weights([spec.models[i].weight for i in running]), strict=True
    ):
        percents[index] = percent
    endpoints = endpoint_refs(request.related_of(ENDPOINTS_KEY), config)
    destinations = [
        (derived_model_name(config, spec.models[i].model), percents[i]) for i in running
    ]
    if sum(percents) == 100:
        children.append(build_virtual_service(config, namespace, destinations, endpoints))
    else:
        children.extend(last_desired(v) for v in request.children_of(VIRTUAL_SERVICES_KEY))
    children.append(build_config_service(config, namespace))

    entries = []
    for index, entry in enumerate(spec.models):
        derived = derived_model_name(config, entry.model)
        ready = ready_of(observed.get(derived))
        entries.append(
            ConfigModelStatus(
                model=entry.model,
                derived_model=derived,
                weight=percents[index],
                ready=ready == "True",
                monitoring_url=monitoring_url(derived, namespace),
            )
        )
    not_ready = [e.derived_model for e in entries if not e.ready]
    wants: list[Want] = []
    if not_ready:
        message = "not ready: " + ", ".join(not_ready)
        wants.append(Want(MODELS_READY, False, REASON_MODELS_NOT_READY, message))
    else:
        wants.append(Want(MODELS_READY, True, REASON_READY, "every model is ready"))
    if conflicts:
        message = "derived Model names clash: " + ", ".join(conflicts)
        wants.insert(0, Want(READY, False, REASON_NAME_CONFLICT, message))
    elif missing:
        message = f"Model not found (or its spec does not parse) in {namespace}: "
        wants.insert(0, Want(READY, False, REASON_MODEL_NOT_FOUND, message + ", ".join(missing)))
    elif not_ready:
        wants.insert(0, Want(READY, False, REASON_MODELS_NOT_READY, wants[0].message))
    else:
        wants.insert(0, Want(READY, True, REASON_READY, "every model is ready and routed"))
    status = EndpointConfigStatus(models=entries, host=mesh_host(config, namespace)).to_json()
    status["conditions"] = _conditions(parent, wants, now)
    return CompositeResponse(status=status, children=sort_objects(children))


def config_problem(spec: EndpointConfigSpec) -> str | None:
    """What the schema's rules refuse, judged again: the hook is not the API server."""
    names = [entry.model for entry in spec.models]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return "spec.models[].model must be unique: " + ", ".join(twice)
    if not any(entry.weight > 0 for entry in spec.models):
        return "spec.models[].weight must not all be zero"
    return None


def _model_spec(model: Mapping[str, Any] | None) -> ModelSpec | None:
    return read_spec(model, ModelSpec) if model is not None else None


def _invalid(
    request: CompositeRequest, status: JSON, problem: str, now: datetime
) -> CompositeResponse:
    """A spec the hook cannot use: `Ready` says why, the children stay as they are."""
    wants = [Want(READY, False, REASON_INVALID_SPEC, problem)]
    status["conditions"] = _conditions(request.parent, wants, now)
    return CompositeResponse(status=status, children=request.kept_children())


def _conditions(parent: Mapping[str, Any], wants: list[Want], now: datetime) -> list[JSON]:
    return merge_conditions(
        conditions_of(parent),
        wants,
        now=now,
        generation=generation_of(parent),
    )


def customize_config(
    request: CustomizeRequest, *, now: datetime, settings: Settings
) -> CustomizeResponse:
    """The template Models by name, and the namespace's Endpoints (filtered in sync);
    nothing for a spec that does not parse, whose sync changes nothing."""
    spec = read_spec(request.parent, EndpointConfigSpec)
    if spec is None:
        return CustomizeResponse(related_resources=[])
    namespace = namespace_of(request.parent) or None
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(
                api_version=API_VERSION,
                resource="models",
                namespace=namespace,
                names=sorted({m.model for m in spec.models}),
            ),
            RelatedResourceRule(api_version=API_VERSION, resource="endpoints", namespace=namespace),
        ]
    )


def sync_endpoint(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    parent = request.parent
    name, namespace = name_of(parent), namespace_of(parent)
    spec = read_spec(parent, EndpointSpec)
    if spec is None:
        status = EndpointStatus(gateway=f"{namespace}/{gateway_name(name)}").to_json()
        return _invalid(request, status, spec_problem(parent, EndpointSpec), now)
    config = next((c for c in request.related_of(CONFIGS_KEY) if name_of(c) == spec.config), None)
    urls: list[str] = []
    wants: list[Want]
    if config is None:
        wants = [
            Want(CONFIG_READY, False, REASON_CONFIG_NOT_FOUND, f"no EndpointConfig {spec.config}")
        ]
    else:
        urls = _monitoring_urls(config, namespace)
        if ready_of(config) == "True":
            wants = [
                Want(CONFIG_READY, True, REASON_READY, f"EndpointConfig {spec.config} is ready")
            ]
        else:
            message = f"EndpointConfig {spec.config} is not ready: {ready_message(config) or '-'}"
            wants = [Want(CONFIG_READY, False, REASON_CONFIG_NOT_READY, message)]
    first = wants[0]
    wants.insert(0, Want(READY, first.status, first.reason, first.message))
    status = EndpointStatus(
        url=endpoint_url(spec),
        monitoring_url=urls[0] if urls else None,
        monitoring_urls=urls,
        gateway=f"{namespace}/{gateway_name(name)}",
    ).to_json()
    status["conditions"] = _conditions(parent, wants, now)
    return CompositeResponse(status=status, children=[build_gateway(name, namespace, spec)])


def _monitoring_urls(config: Mapping[str, Any], namespace: str) -> list[str]:
    """Every model's monitoring URL, the one with the most traffic first."""
    spec = read_spec(config, EndpointConfigSpec)
    if spec is None:
        return []
    percents = normalise_weights([m.weight for m in spec.models])
    order = sorted(range(len(spec.models)), key=lambda i: (-percents[i], i))
    name = name_of(config)
    return [
        monitoring_url(derived_model_name(name, spec.models[i].model), namespace) for i in order
    ]


def customize_endpoint(
    request: CustomizeRequest, *, now: datetime, settings: Settings
) -> CustomizeResponse:
    """The EndpointConfig by name; nothing for a spec that does not parse."""
    spec = read_spec(request.parent, EndpointSpec)
    if spec is None:
        return CustomizeResponse(related_resources=[])
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(
                api_version=API_VERSION,
                resource="endpointconfigs",
                namespace=namespace_of(request.parent) or None,
                names=[spec.config],
            )
        ]
    )
