"""Every object a ModelDeployment emits besides the gateway's own (`gateway.py`).

* the metrics HPA `<name>-metrics`, aimed at the ModelDeployment's scale
  subresource with minReplicas = maxReplicas = 1: the HPA controller measures the
  source's pods and never scales anything;
* the Service `<name>-local`, the gateway's local leg: the user's pods only, so the
  gateway can never forward to itself through the user's Service;
* the EndpointSlice `<name>-offload` on the user's Service, listing the gateway's
  ready pods, only while the source is down: kube-proxy merges it with the user's
  (empty) slices, so clients that keep calling the user's Service reach the gateway;
* the routing objects of modes `istio` (VirtualService, DestinationRule) and
  `gatewayAPI` (HTTPRoute), whose weights are `status.remotePercentage`.
The user's own objects are only ever read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hooks.k8s.names import child_name, label_value
from hooks.k8s.objects import JSON, new_object, standard_labels

from .api import (
    API_VERSION,
    ENVIRONMENT_HEADER,
    KIND,
    MANAGED_BY,
    REMOTE_POLICIES_HEADER,
    NamedRemoteBackend,
    ParentReference,
)
from .gateway import GATEWAY_PORT, Credential, RemoteLeg
from .observe import SERVICE_NAME_LABEL, SLICE_MANAGER_LABEL, ServicePort

PART_OF = "offload"
RETRY_ON = "connect-failure,refused-stream,unavailable,reset"
GATEWAY_SERVICE_PORT = 80


def labels(name: str, component: str) -> dict[str, str]:
    return standard_labels(
        name=label_value(name), instance=label_value(name), component=component, part_of=PART_OF
    )


def hpa_name(name: str) -> str:
    return child_name(name, "metrics")


def local_service_name(name: str) -> str:
    return child_name(name, "local")


def gateway_service_name(name: str) -> str:
    """As gateway.gateway_name names it; the EndpointSlice reads that Service's slices."""
    return child_name(name, "offload")


def build_hpa(name: str, namespace: str, metrics: Sequence[Mapping[str, Any]]) -> JSON:
    hpa = new_object(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        hpa_name(name),
        namespace=namespace,
        labels=labels(name, "metrics"),
    )
    hpa["spec"] = {
        "scaleTargetRef": {"apiVersion": API_VERSION, "kind": KIND, "name": name},
        "minReplicas": 1,
        "maxReplicas": 1,
        "metrics": [dict(m) for m in metrics],
    }
    return hpa


def build_local_service(
    name: str, namespace: str, selector: Mapping[str, str], port: ServicePort
) -> JSON:
    service = new_object(
        "v1", "Service", local_service_name(name), namespace=namespace, labels=labels(name, "local")
    )
    service["spec"] = {
        "selector": dict(sorted(selector.items())),
        "ports": [
            {
                "name": "http",
                "port": port.port,
                "targetPort": port.target_port,
                "protocol": port.protocol,
            }
        ],
    }
    return service


def build_failover_slice(
    name: str, namespace: str, user_service: str, port: ServicePort, addresses: Sequence[str]
) -> JSON:
    """The gateway's pods as extra endpoints of the user's Service.

    Its port carries the name of the user's Service port, which is how kube-proxy
    pairs a slice's port with a Service port.
    """
    endpoint_slice = new_object(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        gateway_service_name(name),
        namespace=namespace,
        labels={
            **labels(name, "failover"),
            SERVICE_NAME_LABEL: user_service,
            SLICE_MANAGER_LABEL: MANAGED_BY,
        },
    )
    endpoint_slice["addressType"] = "IPv4"
    endpoint_slice["ports"] = [{"name": port.name, "port": GATEWAY_PORT, "protocol": "TCP"}]
    endpoint_slice["endpoints"] = [
        {
            "addresses": [address],
            "conditions": {"ready": True, "serving": True, "terminating": False},
        }
        for address in addresses
    ]
    return endpoint_slice


def remote_leg(
    backend: NamedRemoteBackend, *, model: str, environment: str, remote_policies: Sequence[str]
) -> RemoteLeg:
    headers = dict(backend.headers_to_add)
    headers[ENVIRONMENT_HEADER] = environment
    if remote_policies:
        headers[REMOTE_POLICIES_HEADER] = ",".join(remote_policies)
    return RemoteLeg(
        name=backend.name,
        scheme=backend.scheme,
        host=backend.host,
        path_prefix=backend.path_prefix,
        headers=tuple(sorted(headers.items())),
        credential=_credential(backend),
        ca_secret=backend.ca_secret_ref.name if backend.ca_secret_ref else None,
        openai_model=model if backend.open_ai_compatible else None,
    )


def _credential(backend: NamedRemoteBackend) -> Credential | None:
    auth = backend.auth_config
    if auth is None:
        return None
    if auth.type == "apiKey" and auth.api_key_config is not None:
        key = auth.api_key_config
        return Credential(
            kind="apiKey",
            secret_name=key.secret_ref.name,
            secret_key=key.secret_ref.key,
            header=key.header,
            prefix=key.prefix,
        )
    oauth = auth.oauth_config
    if auth.type == "oauth" and oauth is not None and oauth.client_secret_ref is not None:
        return Credential(
            kind="oauth2",
            secret_name=oauth.client_secret_ref.name,
            secret_key=oauth.client_secret_ref.key,
            token_url=oauth.token_url,
            client_id=oauth.client_id,
            scopes=tuple(oauth.scopes),
        )
    return None


def _host(service: str, namespace: str) -> str:
    return f"{service}.{namespace}.svc.cluster.local"


def build_virtual_service(
    name: str, namespace: str, user_service: str, port: int, remote_percentage: int | None
) -> JSON:
    """One http route for the user's Service host: local and gateway, weighted
    (`remote_percentage` None: no eligible backend, local only)."""
    virtual_service = new_object(
        "networking.istio.io/v1",
        "VirtualService",
        name,
        namespace=namespace,
        labels=labels(name, "routing"),
    )
    local = {"host": _host(user_service, namespace), "port": {"number": port}}
    destinations: list[JSON] = [{"destination": local, "weight": 100}]
    if remote_percentage is not None:
        remote = {
            "host": _host(gateway_service_name(name), namespace),
            "port": {"number": GATEWAY_SERVICE_PORT},
        }
        destinations = [
            {"destination": local, "weight": 100 - remote_percentage},
            {"destination": remote, "weight": remote_percentage},
        ]
    virtual_service["spec"] = {
        "hosts": [_host(user_service, namespace)],
        "http": [
            {
                "name": "offload",
                "route": destinations,
                "retries": {"attempts": 2, "retryOn": RETRY_ON},
            }
        ],
    }
    return virtual_service


def build_destination_rule(name: str, namespace: str, user_service: str) -> JSON:
    """Outlier detection on the local pods, so failing ones leave the pool quickly."""
    rule = new_object(
        "networking.istio.io/v1",
        "DestinationRule",
        name,
        namespace=namespace,
        labels=labels(name, "routing"),
    )
    rule["spec"] = {
        "host": _host(user_service, namespace),
        "trafficPolicy": {
            "outlierDetection": {
                "consecutive5xxErrors": 5,
                "consecutiveGatewayErrors": 3,
                "interval": "5s",
                "baseEjectionTime": "30s",
                "maxEjectionPercent": 100,
            }
        },
    }
    return rule


def build_http_route(
    name: str,
    namespace: str,
    user_service: str,
    port: int,
    remote_percentage: int | None,
    parent_refs: Sequence[ParentReference],
) -> JSON:
    """Weighted backendRefs: the user's Service and the gateway (`remote_percentage`
    None: no eligible backend, the user's Service only)."""
    route = new_object(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        name,
        namespace=namespace,
        labels=labels(name, "routing"),
    )
    parents = [p.to_json() for p in parent_refs] or [
        {"group": "", "kind": "Service", "name": user_service, "port": port}
    ]
    local: JSON = {"group": "", "kind": "Service", "name": user_service, "port": port}
    backends = [{**local, "weight": 100}]
    if remote_percentage is not None:
        remote: JSON = {
            "group": "",
            "kind": "Service",
            "name": gateway_service_name(name),
            "port": GATEWAY_SERVICE_PORT,
        }
        backends = [
            {**local, "weight": 100 - remote_percentage},
            {**remote, "weight": remote_percentage},
        ]
    route["spec"] = {"parentRefs": parents, "rules": [{"backendRefs": backends}]}
    return route
