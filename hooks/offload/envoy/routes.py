"""The routes (RDS): the split, and the retry policy that fails over. A weight change
is a change of this file alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import JSON, LOCAL_FAILOVER, REMOTE_FAILOVER, ROUTE_NAME, TYPE, UNSENT_HEADER

if TYPE_CHECKING:
    from ..gateway import GatewayPlan


# Methods whose requests may be sent twice; everything else is retried only when
# nothing of it can have reached a server.
IDEMPOTENT_METHODS = ("GET", "HEAD", "OPTIONS")
RETRY_ON_SAFE = "connect-failure,refused-stream,reset-before-request,retriable-headers"
RETRY_ON_IDEMPOTENT = RETRY_ON_SAFE + ",reset,gateway-error"
NUM_RETRIES = 2


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
        "@type": TYPE + "envoy.config.route.v3.RouteConfiguration",
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
                    "@type": TYPE + "envoy.extensions.retry.priority.previous_priorities.v3."
                    "PreviousPrioritiesConfig",
                    "update_frequency": 1,
                },
            },
            "retry_host_predicate": [
                {
                    "name": "envoy.retry_host_predicates.previous_hosts",
                    "typed_config": {
                        "@type": TYPE
                        + "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                    },
                }
            ],
            "host_selection_retry_max_attempts": 3,
            "retriable_headers": [{"name": UNSENT_HEADER, "present_match": True}],
        },
    }
