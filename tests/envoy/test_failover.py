"""Failover without errors: the local server dies and comes back under load.

2,000 requests at a steady pace with every request local (weight 0); the local
server is killed (SIGKILL) after 500 and restarted after 1,500. No request may
fail: those that cannot reach it are answered by the remote, with no weight
change. Then traffic must return to the local side.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import Client, Server, gateway, servers
from .plans import plan

# Real processes on a shared machine: bounded, never hanging the run.
pytestmark = pytest.mark.timeout(120)

REQUESTS = 2000
KILL_AT, RESTART_AT = 500, 1500
INTERVAL = 0.0025
RETURN_WITHIN = 10.0


def test_local_death_is_answered_by_the_remote(
    tmp_path: Path, measured: Callable[[str, object], None]
) -> None:
    local, remote = Server("local"), Server("echo")
    with servers(local, remote):
        the_plan = plan(local_port=local.port, remote_port=remote.port, percentage=0)
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            sides: list[str] = []
            failures: list[object] = []
            restarted = returned = 0.0
            start = time.monotonic()
            for index in range(REQUESTS):
                if index == KILL_AT:
                    local.kill()
                if index == RESTART_AT:
                    local.start()
                    restarted = time.monotonic()
                answer = client.request()
                sides.append(answer.side)
                if answer.side == "error":
                    failures.append((index, answer.status, answer.body))
                if restarted and not returned and answer.side == "local":
                    returned = time.monotonic() - restarted
                time.sleep(max(0.0, start + (index + 1) * INTERVAL - time.monotonic()))
            while not returned and time.monotonic() - restarted < RETURN_WITHIN:
                if client.request().side == "local":
                    returned = time.monotonic() - restarted
                time.sleep(INTERVAL)
            client.close()
    measured("failed requests", len(failures))
    measured("remote answers while the local server was down", Counter(sides)["remote"])
    measured("traffic back on the local side after the restart (s)", round(returned, 2))
    assert failures == []
    during = Counter(sides[KILL_AT + 50 : RESTART_AT])
    assert during == {"remote": RESTART_AT - KILL_AT - 50}, during
    assert Counter(sides[:KILL_AT]) == {"local": KILL_AT}
    assert 0 < returned < RETURN_WITHIN, returned


def test_a_request_sent_is_not_sent_again_unless_idempotent(tmp_path: Path) -> None:
    # The local server takes each request and dies on it: a POST may have been
    # acted on, so it fails; a GET is safe to repeat, so the remote answers it.
    local, remote = Server("drop"), Server("echo")
    with servers(local, remote):
        the_plan = plan(local_port=local.port, remote_port=remote.port, percentage=0)
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            post = client.request()
            get = client.request(method="GET")
            client.close()
    assert post.status == 503, post
    assert get.side == "remote", get


def test_a_large_body_fails_over(tmp_path: Path) -> None:
    # The local server dies between two requests: Envoy still believes it healthy,
    # connects, fails, and replays the body on the remote (it keeps up to 1 MiB).
    local, remote = Server("local"), Server("echo")
    with servers(local, remote):
        the_plan = plan(local_port=local.port, remote_port=remote.port, percentage=0)
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            assert client.request().side == "local"
            local.kill()
            answer = client.request({"model": "m", "pad": "x" * 500_000})
            client.close()
    assert answer.side == "remote", answer
