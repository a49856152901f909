"""The weighted split, measured over 2,000 requests through the real Envoy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from .harness import Client, Server, gateway, servers
from .plans import plan

# Real processes on a shared machine: bounded, never hanging the run.
pytestmark = pytest.mark.timeout(120)

REQUESTS = 2000


@pytest.mark.parametrize("weight", [10, 50, 90])
def test_remote_share_matches_the_weight(tmp_path: Path, weight: int) -> None:
    local, remote = Server("local"), Server("echo")
    with servers(local, remote):
        the_plan = plan(local_port=local.port, remote_port=remote.port, percentage=weight)
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            sides = Counter(client.request().side for _ in range(REQUESTS))
            client.close()
    assert sides["error"] == 0, sides
    share = 100 * sides["remote"] / REQUESTS
    assert abs(share - weight) <= 3, f"remote share {share:.1f} % for weight {weight}"


def test_ops_port_serves_ready_and_metrics_only(tmp_path: Path) -> None:
    local = Server("local")
    with servers(local):
        the_plan = plan(local_port=local.port, remote_port=None, percentage=0)
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            assert client.request().side == "local"
            client.close()
            ready = gw.ops("/ready")
            metrics = gw.ops("/stats/prometheus")
            hidden = [gw.ops(path)[0] for path in ("/config_dump", "/quitquitquit", "/stats")]
    assert ready == (200, "LIVE\n")
    assert metrics[0] == 200
    assert "envoy_cluster_upstream_rq_total" in metrics[1]
    assert 'envoy_cluster_name="local"' in metrics[1]
    assert hidden == [404, 404, 404]
