"""Where things are and what they are called: ports, cluster and file names, the
pod's paths (a test moves them to a temporary directory), and the small message
builders every part of the configuration uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

LISTENER_PORT = 8080
OPS_PORT = 9901
ADMIN_PORT = 9000

LOCAL = "local"
LOCAL_FAILOVER = "local-failover"
REMOTE_FAILOVER = "remote-failover"
REMOTE_LEG = "remote-leg"
REMOTE = "remote"
TOKEN = "oauth2-token"
ADMIN = "admin"

BOOTSTRAP_FILE = "envoy.yaml"
LDS_FILE = "lds.yaml"
CDS_FILE = "cds.yaml"
RDS_FILE = "rds.yaml"
CREDENTIAL_SDS_FILE = "sds-credential.yaml"
CREDENTIAL_SECRET = "remote-credential"
ROUTE_NAME = "gateway"
SECRET_FILE = "value"
CA_FILE = "ca.crt"

TYPE = "type.googleapis.com/"
HCM = TYPE + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = TYPE + "envoy.extensions.filters.http.router.v3.Router"
TLS = TYPE + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
HTTP_OPTIONS = TYPE + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
SECRET = TYPE + "envoy.extensions.transport_sockets.tls.v3.Secret"


# The remote leg marks its own answers to requests it never sent on: no healthy or
# no reachable remote, no credential yet. The gateway retries those (on the local
# side) whatever the method, and takes the mark off before the client sees it.
UNSENT_HEADER = "x-aihooks-offload-unsent"
UNSENT_FLAGS = ("UH", "UF", "UO", "NC", "DF")


@dataclass(frozen=True)
class Layout:
    """Where the pod (or a test) puts things: the mounted ConfigMap, the mounted
    Secrets, the system CA bundle, and the local side's address."""

    config_dir: str = "/etc/envoy"
    secret_dir: str = "/etc/envoy-secrets"
    system_ca: str = "/etc/ssl/certs/ca-certificates.crt"
    local_address: tuple[str, int] | None = None
    """Overrides `<service>.<namespace>.svc:<port>` (tests on loopback)."""
    listener_address: str = "0.0.0.0"
    listener_port: int = LISTENER_PORT
    ops_port: int = OPS_PORT
    admin_port: int = ADMIN_PORT

    def config(self, name: str) -> str:
        return f"{self.config_dir}/{name}"

    def credential_dir(self) -> str:
        return f"{self.secret_dir}/credential"

    def credential_file(self) -> str:
        return f"{self.credential_dir()}/{SECRET_FILE}"

    def ca_file(self) -> str:
        return f"{self.secret_dir}/ca/{CA_FILE}"


def path_source(path: str, layout: Layout) -> JSON:
    return {
        "path_config_source": {"path": path, "watched_directory": {"path": layout.config_dir}},
        "resource_api_version": "V3",
    }


def http_manager(
    stat_prefix: str,
    routing: Mapping[str, Any],
    filters: list[JSON],
    *,
    stream_timeout: int | None = None,
) -> JSON:
    config: JSON = {
        "@type": HCM,
        "stat_prefix": stat_prefix,
        **routing,
        "http_filters": [
            *filters,
            {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}},
        ],
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
    }
    if stream_timeout is not None:
        # A stream idle for the whole request timeout is dead; a long answer that
        # keeps sending is bounded by the route's timeout alone.
        config["stream_idle_timeout"] = f"{stream_timeout}s"
        config["request_timeout"] = "0s"
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": config}


def endpoints(cluster: str, addresses: list[tuple[str, int]], priority: int = 0) -> JSON:
    return {
        "cluster_name": cluster,
        "endpoints": [
            {
                "priority": priority,
                "lb_endpoints": [
                    {
                        "endpoint": {
                            "address": {"socket_address": {"address": host, "port_value": port}}
                        }
                    }
                    for host, port in addresses
                ],
            }
        ]
        if addresses
        else [],
    }


def tls_socket(sni: str, ca_file: str, *, alpn: bool) -> JSON:
    context: JSON = {
        "sni": sni,
        "common_tls_context": {
            "validation_context": {
                "trusted_ca": {"filename": ca_file},
                "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": sni}}],
            },
        },
    }
    if alpn:
        context["common_tls_context"]["alpn_protocols"] = ["h2", "http/1.1"]
    return {"name": "envoy.transport_sockets.tls", "typed_config": {"@type": TLS, **context}}


def split_url(url: str) -> tuple[str, str, int, str]:
    """`scheme, host, port, path` of an http(s) URL (validated by the CRD schema)."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    host, port = split_host(authority, scheme)
    return scheme, host, port, slash + path


def split_host(authority: str, scheme: str) -> tuple[str, int]:
    host, colon, port = authority.rpartition(":")
    if colon and port.isdigit() and not host.endswith("]") | host.startswith("["):
        return host, int(port)
    return authority, 443 if scheme == "https" else 80
