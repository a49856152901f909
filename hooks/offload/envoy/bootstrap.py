"""The bootstrap: read once at start, the one file whose change rolls the pods."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import (
    ADMIN,
    CDS_FILE,
    JSON,
    LDS_FILE,
    TOKEN,
    TYPE,
    Layout,
    endpoints,
    http_manager,
    path_source,
    split_url,
    tls_socket,
)

if TYPE_CHECKING:
    from ..gateway import Credential, GatewayPlan


def bootstrap(plan: GatewayPlan, layout: Layout) -> JSON:
    """Admin on localhost only; `/ready` and Prometheus stats on the ops listener; the
    xDS files; the OAuth2 token endpoint's cluster (a credential change rolls the pods
    anyway, since the Secret volume changes)."""
    static_clusters = [_admin_cluster(layout)]
    credential = plan.remote.credential if plan.remote else None
    if credential is not None and credential.kind == "oauth2":
        static_clusters.append(_token_cluster(credential, layout))
    return {
        "node": {"id": plan.name, "cluster": f"{plan.namespace}/{plan.name}"},
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": layout.admin_port}}
        },
        "bootstrap_extensions": [
            {
                "name": "envoy.bootstrap.internal_listener",
                "typed_config": {
                    "@type": TYPE
                    + "envoy.extensions.bootstrap.internal_listener.v3.InternalListener"
                },
            }
        ],
        "dynamic_resources": {
            "lds_config": path_source(layout.config(LDS_FILE), layout),
            "cds_config": path_source(layout.config(CDS_FILE), layout),
        },
        "static_resources": {"listeners": [_ops_listener(layout)], "clusters": static_clusters},
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": TYPE
                        + "envoy.extensions.resource_monitors.downstream_connections.v3."
                        "DownstreamConnectionsConfig",
                        "max_active_downstream_connections": 50000,
                    },
                }
            ]
        },
    }


def _ops_listener(layout: Layout) -> JSON:
    admin_routes = [
        {"match": {"path": path}, "route": {"cluster": ADMIN}}
        for path in ("/ready", "/stats/prometheus")
    ]
    not_found = {"match": {"prefix": "/"}, "direct_response": {"status": 404}}
    return {
        "name": "ops",
        "address": {
            "socket_address": {"address": layout.listener_address, "port_value": layout.ops_port}
        },
        "filter_chains": [
            {
                "filters": [
                    http_manager(
                        "ops",
                        {
                            "route_config": {
                                "name": "ops",
                                "virtual_hosts": [
                                    {
                                        "name": "ops",
                                        "domains": ["*"],
                                        "routes": [*admin_routes, not_found],
                                    }
                                ],
                            }
                        },
                        [],
                    )
                ]
            }
        ],
    }


def _admin_cluster(layout: Layout) -> JSON:
    return {
        "name": ADMIN,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": endpoints(ADMIN, [("127.0.0.1", layout.admin_port)]),
    }


def _token_cluster(credential: Credential, layout: Layout) -> JSON:
    scheme, host, port, _ = split_url(credential.token_url)
    cluster: JSON = {
        "name": TOKEN,
        "type": "LOGICAL_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "5s",
        "load_assignment": endpoints(TOKEN, [(host, port)]),
    }
    if scheme == "https":
        cluster["transport_socket"] = tls_socket(host, layout.system_ca, alpn=False)
    return cluster
