"""The clusters (CDS): the same five names for every plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import (
    HTTP_OPTIONS,
    JSON,
    LOCAL,
    LOCAL_FAILOVER,
    REMOTE,
    REMOTE_FAILOVER,
    REMOTE_LEG,
    TYPE,
    Layout,
    endpoints,
    split_host,
    tls_socket,
)

if TYPE_CHECKING:
    from ..gateway import GatewayPlan, RemoteLeg


def clusters(plan: GatewayPlan, layout: Layout) -> list[JSON]:
    return [
        _local_cluster(plan, layout),
        _failover_cluster(LOCAL_FAILOVER, LOCAL, REMOTE_LEG),
        _failover_cluster(REMOTE_FAILOVER, REMOTE_LEG, LOCAL),
        _remote_leg_cluster(),
        _remote_cluster(plan.remote, layout),
    ]


def _local_cluster(plan: GatewayPlan, layout: Layout) -> JSON:
    addresses: list[tuple[str, int]] = []
    if plan.local is not None:
        addresses = [
            layout.local_address or (f"{plan.local.service}.{plan.namespace}.svc", plan.local.port)
        ]
    return {
        "@type": TYPE + "envoy.config.cluster.v3.Cluster",
        "name": LOCAL,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "1s",
        "load_assignment": endpoints(LOCAL, addresses),
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "1s",
                "no_traffic_interval": "1s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "tcp_health_check": {},
            }
        ],
        "outlier_detection": {
            "consecutive_5xx": 1000,
            "enforcing_consecutive_5xx": 0,
            "consecutive_gateway_failure": 3,
            "enforcing_consecutive_gateway_failure": 100,
            "interval": "1s",
            "base_ejection_time": "5s",
            "max_ejection_percent": 100,
        },
        "common_lb_config": {"healthy_panic_threshold": {"value": 0}},
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_OPTIONS,
                "explicit_http_config": {"http_protocol_options": {}},
            }
        },
    }


def _failover_cluster(name: str, first: str, then: str) -> JSON:
    return {
        "@type": TYPE + "envoy.config.cluster.v3.Cluster",
        "name": name,
        "connect_timeout": "1s",
        "lb_policy": "CLUSTER_PROVIDED",
        "cluster_type": {
            "name": "envoy.clusters.aggregate",
            "typed_config": {
                "@type": TYPE + "envoy.extensions.clusters.aggregate.v3.ClusterConfig",
                "clusters": [first, then],
            },
        },
    }


def _remote_leg_cluster() -> JSON:
    return {
        "@type": TYPE + "envoy.config.cluster.v3.Cluster",
        "name": REMOTE_LEG,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": REMOTE_LEG,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "envoy_internal_address": {"server_listener_name": REMOTE_LEG}
                                }
                            }
                        }
                    ]
                }
            ],
        },
        "transport_socket": {
            "name": "envoy.transport_sockets.internal_upstream",
            "typed_config": {
                "@type": TYPE + "envoy.extensions.transport_sockets.internal_upstream.v3."
                "InternalUpstreamTransport",
                "transport_socket": {
                    "name": "envoy.transport_sockets.raw_buffer",
                    "typed_config": {
                        "@type": TYPE + "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
                    },
                },
            },
        },
    }


def _remote_cluster(remote: RemoteLeg | None, layout: Layout) -> JSON:
    cluster: JSON = {
        "@type": TYPE + "envoy.config.cluster.v3.Cluster",
        "name": REMOTE,
        "connect_timeout": "5s",
    }
    if remote is None:
        cluster["type"] = "STATIC"
        cluster["load_assignment"] = endpoints(REMOTE, [])
        return cluster
    host, port = split_host(remote.host, remote.scheme)
    cluster["type"] = "LOGICAL_DNS"
    cluster["dns_lookup_family"] = "V4_PREFERRED"
    cluster["load_assignment"] = endpoints(REMOTE, [(host, port)])
    if remote.scheme == "https":
        ca = layout.ca_file() if remote.ca_secret else layout.system_ca
        cluster["transport_socket"] = tls_socket(host, ca, alpn=True)
        protocol: JSON = {
            "auto_config": {"http_protocol_options": {}, "http2_protocol_options": {}}
        }
    else:
        protocol = {"explicit_http_config": {"http_protocol_options": {}}}
    cluster["typed_extension_protocol_options"] = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": HTTP_OPTIONS,
            **protocol,
        }
    }
    return cluster
