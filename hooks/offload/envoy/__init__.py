"""Envoy's configuration for the offload gateway, rendered as a pure function of the plan.

The files are what the gateway pod mounts from its ConfigMap: a bootstrap
(`envoy.yaml`, read once at start) and three filesystem-xDS files (`lds.yaml`,
`cds.yaml`, `rds.yaml`) in a watched directory, so the kubelet's atomic swap of
the mounted ConfigMap reaches a running Envoy without a restart. A weight change
touches only `rds.yaml`: no listener is drained, no cluster is rebuilt.

The shape, and why:
- the listener's one route splits with `weighted_clusters` between
  `local-failover` and `remote-failover`;
- Envoy picks the weighted cluster once and keeps a request's retries in it, so
  each side is an aggregate whose second member is the other side:
  `local-failover` = [`local`, `remote-leg`], `remote-failover` = [`remote-leg`,
  `local`]; `previous_priorities` moves a retry to the second member, and when
  no `local` host is healthy (health checks, outlier detection) the aggregate
  sends everything on at once, without waiting for any weight change;
- `remote-leg` is Envoy's internal listener of that name: a second connection
  manager that alone injects the credential, rewrites the model, the path and
  the Host, adds the headers, and forwards to `remote`. Upstream filters of an
  aggregate's members are not applied and a cluster's filters would apply to
  all of its priorities, so the credential lives where only remote-bound
  requests pass. Its own replies to requests it never sent on (no healthy
  remote, no token yet) carry `UNSENT_HEADER`, which the gateway's retry policy
  retries on the local side whatever the method;
- the cluster names never change with the plan (an absent side is a cluster
  without endpoints), so no xDS update can bring a route before its cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from .bootstrap import bootstrap
from .clusters import clusters
from .layout import (
    ADMIN_PORT,
    BOOTSTRAP_FILE,
    CA_FILE,
    CDS_FILE,
    CREDENTIAL_SDS_FILE,
    CREDENTIAL_SECRET,
    JSON,
    LDS_FILE,
    LISTENER_PORT,
    OPS_PORT,
    RDS_FILE,
    REMOTE_LEG,
    SECRET_FILE,
    UNSENT_HEADER,
    Layout,
)
from .listeners import generic_secret, listeners
from .routes import route_configuration

if TYPE_CHECKING:
    from ..gateway import GatewayPlan


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
        files[CREDENTIAL_SDS_FILE] = _discovery([generic_secret(CREDENTIAL_SECRET, layout)])
    return {name: _dump(content) for name, content in sorted(files.items())}


def restart_files() -> tuple[str, ...]:
    """The files a running Envoy reads only at start: a change to them rolls the pods."""
    return (BOOTSTRAP_FILE,)


def _dump(content: JSON) -> str:
    return yaml.safe_dump(content, sort_keys=True, default_flow_style=False)


def _discovery(resources: list[JSON]) -> JSON:
    return {"resources": resources}


__all__ = [
    "ADMIN_PORT",
    "BOOTSTRAP_FILE",
    "CA_FILE",
    "CDS_FILE",
    "CREDENTIAL_SDS_FILE",
    "LDS_FILE",
    "LISTENER_PORT",
    "OPS_PORT",
    "RDS_FILE",
    "REMOTE_LEG",
    "SECRET_FILE",
    "UNSENT_HEADER",
    "Layout",
    "render",
    "restart_files",
]
