"""Server-sent events pass through the gateway as the remote sends them."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import Server, gateway, servers
from .plans import plan

# Real processes on a shared machine: bounded, never hanging the run.
pytestmark = pytest.mark.timeout(120)

CHUNKS, DELAY = 5, 0.3


@pytest.mark.parametrize("percentage", [100, 0])
def test_events_arrive_as_they_are_sent(
    tmp_path: Path, percentage: int, measured: Callable[[str, object], None]
) -> None:
    # At 0 % the local side is down, so the stream is the failover's (via the remote leg).
    remote = Server("echo")
    with servers(remote):
        the_plan = plan(local_port=1, remote_port=remote.port, percentage=percentage)
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", 1)) as gw:
            conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
            body = {"model": "m", "stream": True, "x_chunks": CHUNKS, "x_delay": DELAY}
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=json.dumps(body),
                headers={"content-type": "application/json"},
            )
            response = conn.getresponse()
            sent = time.monotonic()
            arrivals: list[float] = []
            text = b""
            while chunk := response.read1(65536):
                text += chunk
                arrivals.extend(time.monotonic() - sent for _ in range(chunk.count(b"data: ")))
            conn.close()
    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream"
    assert text.count(b"data: ") == CHUNKS + 1
    assert text.endswith(b"data: [DONE]\n\n")
    gaps = [b - a for a, b in itertools.pairwise(arrivals[:CHUNKS])]
    measured("gaps between events (s)", [round(g, 3) for g in gaps])
    # Each event arrives on its own, about DELAY after the one before it: nothing
    # waits for the end of the stream.
    assert all(DELAY * 0.6 <= gap <= DELAY * 2 for gap in gaps), gaps
    assert arrivals[-1] - arrivals[0] >= DELAY * (CHUNKS - 1) * 0.8
