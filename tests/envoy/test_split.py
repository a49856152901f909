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
