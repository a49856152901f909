"""The listeners (LDS): the gateway's, whose routes come from RDS, and the internal
`remote-leg`, the only place a credential is added."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import (
    CREDENTIAL_SDS_FILE,
    CREDENTIAL_SECRET,
    JSON,
    RDS_FILE,
    REMOTE,
    REMOTE_LEG,
    ROUTE_NAME,
    SECRET,
    TOKEN,
    TYPE,
    UNSENT_FLAGS,
    UNSENT_HEADER,
    Layout,
    http_manager,
    path_source,
)
from .lua import model_rewrite_filter

if TYPE_CHECKING:
    from ..gateway import Credential, GatewayPlan


def listeners(plan: GatewayPlan, layout: Layout) -> list[JSON]:
    """The gateway's listener (routes from RDS) and the internal `remote-leg` listener."""
    gateway = {
        "@type": TYPE + "envoy.config.listener.v3.Listener",
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
                    http_manager(
                        "gateway",
                        {
                            "rds": {
                                "route_config_name": ROUTE_NAME,
                                "config_source": path_source(layout.config(RDS_FILE), layout),
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
            filters.append(model_rewrite_filter(remote.openai_model))
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
        "@type": TYPE + "envoy.config.listener.v3.Listener",
        "name": REMOTE_LEG,
        "internal_listener": {},
        "filter_chains": [
            {
                "filters": [
                    http_manager(
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
                "@type": TYPE + "envoy.extensions.http.injected_credentials.generic.v3.Generic",
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
                "@type": TYPE + "envoy.extensions.http.injected_credentials.oauth2.v3.OAuth2",
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
            "@type": TYPE
            + "envoy.extensions.filters.http.credential_injector.v3.CredentialInjector",
            "overwrite": True,
            "credential": injected,
        },
    }


def generic_secret(name: str, layout: Layout) -> JSON:
    return {
        "@type": SECRET,
        "name": name,
        "generic_secret": {"secret": {"filename": layout.credential_file()}},
    }
