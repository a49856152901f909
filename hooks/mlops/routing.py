"""EndpointConfig and Endpoint children: derived Models, the VirtualService, the Gateway.

Istio sends a request to the destinations of the first matching route, split by
their weights, which must sum to 100: so every model of a config sits in ONE
route, with the configured weights normalised by `normalise_weights`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from hooks.k8s.names import child_name, label_value
from hooks.k8s.names import service_name as k8s_service_name
from hooks.k8s.objects import JSON, MANAGED_BY, is_deleting, name_of, new_object

from .api import (
    API_VERSION,
    CONFIG_LABEL,
    DEFAULT_GATEWAY_SELECTOR,
    SERVICE_HTTP_PORT,
    ConfigModel,
    EndpointSpec,
    ModelSpec,
)
from .children import service_name
from .observe import read_spec

ISTIO_API_VERSION = "networking.istio.io/v1"
HTTPS_PORT = 443


def normalise_weights(weights: Sequence[float]) -> list[int]:
    """Integer percents in the given order that sum to exactly 100 (largest remainder).

    Exact arithmetic on the floats as given; ties go to the earlier entry, so the
    result is deterministic. All-zero weights give all zeros (the schema forbids it).
    """
    exact = [Fraction(w) if w > 0 else Fraction(0) for w in weights]
    total = sum(exact, Fraction(0))
    if total == 0:
        return [0 for _ in weights]
    shares = [w * 100 / total for w in exact]
    floors = [math.floor(s) for s in shares]
    left = 100 - sum(floors)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def derived_model_name(config: str, model: str) -> str:
    """`<config>-<model>`: a Model's name must be a DNS-1035 label, as its Service's."""
    return k8s_service_name(config, model)


def derived_spec(template: ModelSpec, entry: ConfigModel) -> JSON:
    """The template Model's spec with the entry's overrides, as the derived Model's spec."""
    spec = template.to_json()
    if entry.instances is not None:
        spec["replicas"] = entry.instances
    resources = dict(spec.get("resources") or {})
    for name, value in (("cpu", entry.cpus), ("memory", entry.memory)):
        if value is not None:
            resources["requests"] = {**(resources.get("requests") or {}), name: value}
            resources["limits"] = {**(resources.get("limits") or {}), name: value}
    if resources:
        spec["resources"] = {k: dict(sorted(v.items())) for k, v in sorted(resources.items())}
    if entry.size is not None:
        spec["size"] = entry.size
    if entry.path is not None:
        spec["path"] = entry.path
    return spec


def build_derived_model(
    config: str, namespace: str, template: ModelSpec, entry: ConfigModel
) -> JSON:
    labels = {
        "app.kubernetes.io/name": label_value(entry.model),
        "app.kubernetes.io/instance": label_value(derived_model_name(config, entry.model)),
        "app.kubernetes.io/component": "model",
        "app.kubernetes.io/part-of": label_value(config),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        CONFIG_LABEL: label_value(config),
    }
    model = new_object(
        API_VERSION,
        "Model",
        derived_model_name(config, entry.model),
        namespace=namespace,
        labels=labels,
    )
    model["spec"] = derived_spec(template, entry)
    return model


def mesh_host(config: str, namespace: str) -> str:
    return f"{config_service_name(config)}.{namespace}.svc.cluster.local"


def config_service_name(config: str) -> str:
    return k8s_service_name(config)


def build_config_service(config: str, namespace: str) -> JSON:
    """A Service without selector: it gives the config's in-mesh name a DNS entry and a
    virtual IP, and the VirtualService decides where its requests go."""
    service = new_object(
        "v1",
        "Service",
        config_service_name(config),
        namespace=namespace,
        labels={CONFIG_LABEL: label_value(config), "app.kubernetes.io/managed-by": MANAGED_BY},
    )
    service["spec"] = {
        "ports": [
            {
                "name": "http",
                "port": SERVICE_HTTP_PORT,
                "protocol": "TCP",
                "appProtocol": "http",
            }
        ]
    }
    return service


def build_virtual_service(
    config: str,
    namespace: str,
    destinations: Sequence[tuple[str, int]],
    endpoints: Sequence[tuple[str, str]],
) -> JSON:
    """One http route over `(derived model, percent)`; hosts and gateways from the
    Endpoints `(name, host)` that reference the config, plus the in-mesh name."""
    hosts = sorted({host for _, host in endpoints} | {mesh_host(config, namespace)})
    gateways = [*sorted({f"{namespace}/{name}" for name, _ in endpoints}), "mesh"]
    route = [
        {
            "destination": {
                "host": f"{service_name(model)}.{namespace}.svc.cluster.local",
                "port": {"number": SERVICE_HTTP_PORT},
            },
            "weight": weight,
        }
        for model, weight in destinations
    ]
    virtual_service = new_object(
        ISTIO_API_VERSION,
        "VirtualService",
        child_name(config),
        namespace=namespace,
        labels={CONFIG_LABEL: label_value(config), "app.kubernetes.io/managed-by": MANAGED_BY},
    )
    virtual_service["spec"] = {
        "hosts": hosts,
        "gateways": gateways,
        "http": [{"name": "models", "route": route}],
    }
    return virtual_service


def gateway_name(endpoint: str) -> str:
    return child_name(endpoint)


def build_gateway(endpoint: str, namespace: str, spec: EndpointSpec) -> JSON:
    servers: list[JSON] = [
        {
            "port": {"number": spec.port, "name": "http", "protocol": "HTTP"},
            "hosts": [spec.host],
        }
    ]
    if spec.tls is not None:
        servers.append(
            {
                "port": {"number": HTTPS_PORT, "name": "https", "protocol": "HTTPS"},
                "hosts": [spec.host],
                "tls": {"mode": "SIMPLE", "credentialName": spec.tls.credential_name},
            }
        )
    gateway = new_object(
        ISTIO_API_VERSION,
        "Gateway",
        gateway_name(endpoint),
        namespace=namespace,
        labels={"app.kubernetes.io/managed-by": MANAGED_BY, CONFIG_LABEL: label_value(spec.config)},
    )
    selector = spec.gateway_selector or DEFAULT_GATEWAY_SELECTOR
    gateway["spec"] = {"selector": dict(sorted(selector.items())), "servers": servers}
    return gateway


def endpoint_url(spec: EndpointSpec) -> str:
    if spec.tls is not None:
        return f"https://{spec.host}"
    return f"http://{spec.host}" if spec.port == 80 else f"http://{spec.host}:{spec.port}"


def endpoint_refs(endpoints: Sequence[Mapping[str, Any]], config: str) -> list[tuple[str, str]]:
    """`(name, host)` of the Endpoints that reference the config and parse."""
    refs = []
    for obj in endpoints:
        spec = read_spec(obj, EndpointSpec)
        if spec is not None and spec.config == config and not is_deleting(obj):
            refs.append((name_of(obj), spec.host))
    return sorted(refs)
