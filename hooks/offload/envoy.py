"""Envoy's configuration for the offload gateway, rendered as a pure function of the plan.

The files are what the gateway pod mounts from its ConfigMap: a bootstrap
(`envoy.yaml`, read once at start) and three filesystem-xDS files (`lds.yaml`,
`cds.yaml`, `rds.yaml`) in a watched directory, so the kubelet's atomic swap of
the mounted ConfigMap reaches a running Envoy without a restart. A weight change
touches only `rds.yaml`: no listener is drained, no cluster is rebuilt.

The shape, and why:
- the listener's one route splits with `weighted_clusters` between
  `local-failover` and `remote-leg`;
- `local-failover` is an aggregate of `local` (the user's pods, health checked,
  with outlier detection) and `remote-leg`, so when no local pod answers, the
  request (and its retry, moved on by `previous_priorities`) goes remote without
  waiting for any weight change;
- `remote-leg` is Envoy's internal listener of that name: a second connection
  manager that alone rewrites the path, adds the headers and injects the
  credential before forwarding to `remote`. Upstream filters of an aggregate's
  children are not applied and a cluster's filters would apply to all of its
  priorities, so the credential lives where only remote-bound requests pass;
- the cluster names never change with the plan (an absent side is a cluster
  without endpoints), so no xDS update can bring a route before its cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from .gateway import Credential, GatewayPlan, RemoteLeg

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

_TYPE = "type.googleapis.com/"
_HCM = _TYPE + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = _TYPE + "envoy.extensions.filters.http.router.v3.Router"
_TLS = _TYPE + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
_HTTP_OPTIONS = _TYPE + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_SECRET = _TYPE + "envoy.extensions.transport_sockets.tls.v3.Secret"

# Methods whose requests may be sent twice; everything else is retried only when
# nothing of it can have reached a server.
IDEMPOTENT_METHODS = ("GET", "HEAD", "OPTIONS")
# The remote leg marks its own answers to requests it never sent on: no healthy or
# no reachable remote, no credential yet. The gateway retries those (on the local
# side) whatever the method, and takes the mark off before the client sees it.
UNSENT_HEADER = "x-aihooks-offload-unsent"
UNSENT_FLAGS = ("UH", "UF", "UO", "NC", "DF")
RETRY_ON_SAFE = "connect-failure,refused-stream,reset-before-request,retriable-headers"
RETRY_ON_IDEMPOTENT = RETRY_ON_SAFE + ",reset,gateway-error"
NUM_RETRIES = 2


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


def render(plan: GatewayPlan, layout: Layout | None = None) -> dict[str, str]:
    """Every file of the ConfigMap, by file name; the same plan gives the same bytes."""
    layout = layout or Layout()
    files = {
        BOOTSTRAP_FILE: bootstrap(plan, layout),
        LDS_FILE: _discovery(listeners(plan, layout)),
        CDS_FILE: _discovery(clusters(plan, layout)),
        RDS_FILE: _discovery([route_configuration(plan)]),
    }
    credential = plan.remote.credential if plan.remote else None
    if credential is not None:
        files[CREDENTIAL_SDS_FILE] = _discovery([_generic_secret(CREDENTIAL_SECRET, layout)])
    return {name: _dump(content) for name, content in sorted(files.items())}


def restart_files() -> tuple[str, ...]:
    """The files a running Envoy reads only at start: a change to them rolls the pods."""
    return (BOOTSTRAP_FILE,)


def _dump(content: JSON) -> str:
    return yaml.safe_dump(content, sort_keys=True, default_flow_style=False)


def _discovery(resources: list[JSON]) -> JSON:
    return {"resources": resources}


def _path_source(path: str, layout: Layout) -> JSON:
    return {
        "path_config_source": {"path": path, "watched_directory": {"path": layout.config_dir}},
        "resource_api_version": "V3",
    }


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
                    "@type": _TYPE
                    + "envoy.extensions.bootstrap.internal_listener.v3.InternalListener"
                },
            }
        ],
        "dynamic_resources": {
            "lds_config": _path_source(layout.config(LDS_FILE), layout),
            "cds_config": _path_source(layout.config(CDS_FILE), layout),
        },
        "static_resources": {"listeners": [_ops_listener(layout)], "clusters": static_clusters},
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": _TYPE
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
                    _hcm(
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
        "load_assignment": _endpoints(ADMIN, [("127.0.0.1", layout.admin_port)]),
    }


def _token_cluster(credential: Credential, layout: Layout) -> JSON:
    scheme, host, port, _ = split_url(credential.token_url)
    cluster: JSON = {
        "name": TOKEN,
        "type": "LOGICAL_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "5s",
        "load_assignment": _endpoints(TOKEN, [(host, port)]),
    }
    if scheme == "https":
        cluster["transport_socket"] = _tls_socket(host, layout.system_ca, alpn=False)
    return cluster


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


def listeners(plan: GatewayPlan, layout: Layout) -> list[JSON]:
    """The gateway's listener (routes from RDS) and the internal `remote-leg` listener."""
    gateway = {
        "@type": _TYPE + "envoy.config.listener.v3.Listener",
        "name": "gateway",
        "address": {
            "socket_address": {
                "address": layout.listener_address,
                "port_value": layout.listener_port,
            }
        },
        "per_connection_buffer_limit_bytes": 1048576,
        "filter_chains": [
            {
                "filters": [
                    _hcm(
                        "gateway",
                        {
                            "rds": {
                                "route_config_name": ROUTE_NAME,
                                "config_source": _path_source(layout.config(RDS_FILE), layout),
                            }
                        },
                        [],
                        stream_timeout=plan.request_timeout_seconds,
                    )
                ]
            }
        ],
    }
    return [gateway, _remote_listener(plan, layout)]


def _remote_listener(plan: GatewayPlan, layout: Layout) -> JSON:
    remote = plan.remote
    filters: list[JSON] = []
    route: JSON = {"cluster": REMOTE, "timeout": f"{plan.request_timeout_seconds}s"}
    headers: list[JSON] = []
    if remote is not None:
        if remote.credential is not None:
            filters.append(_credential_filter(remote.credential, layout))
        if remote.openai_model:
            filters.append(_model_rewrite_filter(remote.openai_model))
        route["host_rewrite_literal"] = remote.host
        if remote.path_prefix:
            route["prefix_rewrite"] = remote.path_prefix.rstrip("/") + "/"
        headers = [
            {
                # Envoy reads `%...%` in a header value as a command: a tenant's value
                # is literal text.
                "header": {"key": key.lower(), "value": value.replace("%", "%%")},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
            for key, value in remote.headers
        ]
    virtual_host: JSON = {
        "name": REMOTE_LEG,
        "domains": ["*"],
        "routes": [{"match": {"prefix": "/"}, "route": route}],
    }
    if headers:
        virtual_host["request_headers_to_add"] = headers
    return {
        "@type": _TYPE + "envoy.config.listener.v3.Listener",
        "name": REMOTE_LEG,
        "internal_listener": {},
        "filter_chains": [
            {
                "filters": [
                    _hcm(
                        REMOTE_LEG,
                        {
                            "route_config": {"name": REMOTE_LEG, "virtual_hosts": [virtual_host]},
                            "local_reply_config": _unsent_marker(),
                        },
                        filters,
                        stream_timeout=plan.request_timeout_seconds,
                    )
                ]
            }
        ],
    }


def _unsent_marker() -> JSON:
    """Marks the remote leg's own answers to requests that never left it: the
    router's with a flag saying nothing was sent, and the credential injector's 401
    (a local reply, unlike any 401 of the remote)."""
    nothing_sent = {"response_flag_filter": {"flags": list(UNSENT_FLAGS)}}
    no_credential = {
        "status_code_filter": {
            "comparison": {"op": "EQ", "value": {"default_value": 401, "runtime_key": "unused"}}
        }
    }
    return {
        "mappers": [
            {
                "filter": {"or_filter": {"filters": [nothing_sent, no_credential]}},
                "headers_to_add": [
                    {
                        "header": {"key": UNSENT_HEADER, "value": "1"},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    }
                ],
            }
        ]
    }


def _hcm(
    stat_prefix: str,
    routing: Mapping[str, Any],
    filters: list[JSON],
    *,
    stream_timeout: int | None = None,
) -> JSON:
    config: JSON = {
        "@type": _HCM,
        "stat_prefix": stat_prefix,
        **routing,
        "http_filters": [
            *filters,
            {"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}},
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


def _credential_filter(credential: Credential, layout: Layout) -> JSON:
    # The SDS file names the mounted Secret's file; the Secret's directory is watched
    # so that a rotated key is read again.
    secret = {
        "name": CREDENTIAL_SECRET,
        "sds_config": {
            "path_config_source": {
                "path": layout.config(CREDENTIAL_SDS_FILE),
                "watched_directory": {"path": layout.credential_dir()},
            },
            "resource_api_version": "V3",
        },
    }
    if credential.kind == "apiKey":
        injected: JSON = {
            "name": "envoy.http.injected_credentials.generic",
            "typed_config": {
                "@type": _TYPE + "envoy.extensions.http.injected_credentials.generic.v3.Generic",
                "credential": secret,
                "header": credential.header,
            },
        }
        if credential.prefix:
            injected["typed_config"]["header_value_prefix"] = credential.prefix
    else:
        injected = {
            "name": "envoy.http.injected_credentials.oauth2",
            "typed_config": {
                "@type": _TYPE + "envoy.extensions.http.injected_credentials.oauth2.v3.OAuth2",
                "token_endpoint": {
                    "cluster": TOKEN,
                    "uri": credential.token_url,
                    "timeout": "10s",
                },
                "scopes": list(credential.scopes),
                "client_credentials": {
                    "client_id": credential.client_id,
                    "client_secret": secret,
                },
            },
        }
    return {
        "name": "envoy.filters.http.credential_injector",
        "typed_config": {
            "@type": _TYPE
            + "envoy.extensions.filters.http.credential_injector.v3.CredentialInjector",
            "overwrite": True,
            "credential": injected,
        },
    }


def _model_rewrite_filter(model: str) -> JSON:
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": _TYPE + "envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {
                "inline_string": _MODEL_REWRITE_LUA.replace(
                    "__MODEL__", _lua_string(json.dumps(model))
                )
            },
        },
    }


def _lua_string(value: str) -> str:
    """A Lua string literal of value: every byte that is not a letter or digit as a
    decimal escape, so that no tenant-written name can end the literal."""
    return (
        '"'
        + "".join(chr(b) if b < 128 and chr(b).isalnum() else f"\\{b:03d}" for b in value.encode())
        + '"'
    )


# Buffers a JSON request body and replaces the value of its top-level "model" key
# (found by a scan that skips strings and counts nesting, so a "model" inside a
# message or a nested object is left alone). Other bodies pass untouched.
_MODEL_REWRITE_LUA = r"""
local MODEL = __MODEL__

local function skip_string(text, i, n)
  local j = i + 1
  while j <= n do
    local c = text:byte(j)
    if c == 92 then
      j = j + 2
    elseif c == 34 then
      return j
    else
      j = j + 1
    end
  end
  return nil
end

local function skip_space(text, k, n)
  while k <= n do
    local c = text:byte(k)
    if c ~= 32 and c ~= 9 and c ~= 10 and c ~= 13 then
      return k
    end
    k = k + 1
  end
  return k
end

local function model_value(text)
  local i, n, depth = 1, #text, 0
  while i <= n do
    local c = text:byte(i)
    if c == 34 then
      local j = skip_string(text, i, n)
      if j == nil then
        return nil
      end
      local k = skip_space(text, j + 1, n)
      if depth == 1 and k <= n and text:byte(k) == 58 and text:sub(i, j) == '"model"' then
        local v = skip_space(text, k + 1, n)
        if v > n or text:byte(v) ~= 34 then
          return nil
        end
        local w = skip_string(text, v, n)
        if w == nil then
          return nil
        end
        return v, w
      end
      i = j + 1
    else
      if c == 123 or c == 91 then
        depth = depth + 1
      elseif c == 125 or c == 93 then
        depth = depth - 1
      end
      i = i + 1
    end
  end
  return nil
end

function envoy_on_request(handle)
  local kind = handle:headers():get("content-type") or ""
  if not string.find(kind, "json", 1, true) then
    return
  end
  local body = handle:body()
  if body == nil then
    return
  end
  local text = body:getBytes(0, body:length())
  local first, last = model_value(text)
  if first == nil then
    return
  end
  body:setBytes(text:sub(1, first - 1) .. MODEL .. text:sub(last + 1))
end
"""


def _generic_secret(name: str, layout: Layout) -> JSON:
    return {
        "@type": _SECRET,
        "name": name,
        "generic_secret": {"secret": {"filename": layout.credential_file()}},
    }


def _endpoints(cluster: str, addresses: list[tuple[str, int]], priority: int = 0) -> JSON:
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


def _tls_socket(sni: str, ca_file: str, *, alpn: bool) -> JSON:
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
    return {"name": "envoy.transport_sockets.tls", "typed_config": {"@type": _TLS, **context}}


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
        "@type": _TYPE + "envoy.config.cluster.v3.Cluster",
        "name": LOCAL,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "1s",
        "load_assignment": _endpoints(LOCAL, addresses),
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
                "@type": _HTTP_OPTIONS,
                "explicit_http_config": {"http_protocol_options": {}},
            }
        },
    }


def _failover_cluster(name: str, first: str, then: str) -> JSON:
    return {
        "@type": _TYPE + "envoy.config.cluster.v3.Cluster",
        "name": name,
        "connect_timeout": "1s",
        "lb_policy": "CLUSTER_PROVIDED",
        "cluster_type": {
            "name": "envoy.clusters.aggregate",
            "typed_config": {
                "@type": _TYPE + "envoy.extensions.clusters.aggregate.v3.ClusterConfig",
                "clusters": [first, then],
            },
        },
    }


def _remote_leg_cluster() -> JSON:
    return {
        "@type": _TYPE + "envoy.config.cluster.v3.Cluster",
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
                "@type": _TYPE + "envoy.extensions.transport_sockets.internal_upstream.v3."
                "InternalUpstreamTransport",
                "transport_socket": {
                    "name": "envoy.transport_sockets.raw_buffer",
                    "typed_config": {
                        "@type": _TYPE
                        + "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
                    },
                },
            },
        },
    }


def _remote_cluster(remote: RemoteLeg | None, layout: Layout) -> JSON:
    cluster: JSON = {
        "@type": _TYPE + "envoy.config.cluster.v3.Cluster",
        "name": REMOTE,
        "connect_timeout": "5s",
    }
    if remote is None:
        cluster["type"] = "STATIC"
        cluster["load_assignment"] = _endpoints(REMOTE, [])
        return cluster
    host, port = split_host(remote.host, remote.scheme)
    cluster["type"] = "LOGICAL_DNS"
    cluster["dns_lookup_family"] = "V4_PREFERRED"
    cluster["load_assignment"] = _endpoints(REMOTE, [(host, port)])
    if remote.scheme == "https":
        ca = layout.ca_file() if remote.ca_secret else layout.system_ca
        cluster["transport_socket"] = _tls_socket(host, ca, alpn=True)
        protocol: JSON = {
            "auto_config": {"http_protocol_options": {}, "http2_protocol_options": {}}
        }
    else:
        protocol = {"explicit_http_config": {"http_protocol_options": {}}}
    cluster["typed_extension_protocol_options"] = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": _HTTP_OPTIONS,
            **protocol,
        }
    }
    return cluster


def route_configuration(plan: GatewayPlan) -> JSON:
    """The gateway's routes: the split, and the retry policy that fails over."""
    percentage = max(0, min(100, plan.remote_percentage))
    if plan.local is None or plan.remote is None:
        percentage = 0 if plan.remote is None else 100
    if percentage == 0:
        target: JSON = {"cluster": LOCAL_FAILOVER}
    elif percentage == 100:
        target = {"cluster": REMOTE_FAILOVER}
    else:
        target = {
            "weighted_clusters": {
                "clusters": [
                    {"name": LOCAL_FAILOVER, "weight": 100 - percentage},
                    {"name": REMOTE_FAILOVER, "weight": percentage},
                ]
            }
        }
    idempotent = {
        "match": {
            "prefix": "/",
            "headers": [
                {
                    "name": ":method",
                    "string_match": {
                        "safe_regex": {"regex": "^(" + "|".join(IDEMPOTENT_METHODS) + ")$"}
                    },
                }
            ],
        },
        "route": _route_action(plan, target, RETRY_ON_IDEMPOTENT),
        "response_headers_to_remove": [UNSENT_HEADER],
    }
    other = {
        "match": {"prefix": "/"},
        "route": _route_action(plan, target, RETRY_ON_SAFE),
        "response_headers_to_remove": [UNSENT_HEADER],
    }
    return {
        "@type": _TYPE + "envoy.config.route.v3.RouteConfiguration",
        "name": ROUTE_NAME,
        "virtual_hosts": [{"name": "gateway", "domains": ["*"], "routes": [idempotent, other]}],
    }


def _route_action(plan: GatewayPlan, target: JSON, retry_on: str) -> JSON:
    return {
        **target,
        "timeout": f"{plan.request_timeout_seconds}s",
        "retry_policy": {
            "retry_on": retry_on,
            "num_retries": NUM_RETRIES,
            "retry_priority": {
                "name": "envoy.retry_priorities.previous_priorities",
                "typed_config": {
                    "@type": _TYPE + "envoy.extensions.retry.priority.previous_priorities.v3."
                    "PreviousPrioritiesConfig",
                    "update_frequency": 1,
                },
            },
            "retry_host_predicate": [
                {
                    "name": "envoy.retry_host_predicates.previous_hosts",
                    "typed_config": {
                        "@type": _TYPE
                        + "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                    },
                }
            ],
            "host_selection_retry_max_attempts": 3,
            "retriable_headers": [{"name": UNSENT_HEADER, "present_match": True}],
        },
    }
