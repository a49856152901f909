"""Live changes through filesystem xDS, written the way the kubelet updates a
mounted ConfigMap (a new `..data` directory swapped in by one rename).

Requests keep flowing from another thread during each swap: none may fail, and
the new split must hold once Envoy has applied the new routes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import Client, Gateway, Server, gateway, servers
from .plans import plan

# Real processes on a shared machine: bounded, never hanging the run.
pytestmark = pytest.mark.timeout(120)

SETTLE_WITHIN = 5.0
AFTER = 1000


class Traffic(threading.Thread):
    """Requests back to back until stopped, each side noted with its time."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.client = Client(port)
        self.answers: list[tuple[float, str]] = []
        self.failures: list[object] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            answer = self.client.request()
            self.answers.append((time.monotonic(), answer.side))
            if answer.side == "error":
                self.failures.append((answer.status, answer.body))
        self.client.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def _swap(gw: Gateway, new_plan: object, stat: str) -> float:
    """Write the new files, return how long Envoy took to apply them."""
    before = gw.stat(stat)
    started = time.monotonic()
    gw.update(new_plan)  # type: ignore[arg-type]
    while gw.stat(stat) == before:
        assert time.monotonic() - started < SETTLE_WITHIN, gw.log()
        time.sleep(0.002)
    return time.monotonic() - started


def _share_after(traffic: Traffic, moment: float, count: int, until: Callable[[], None]) -> float:
    while sum(1 for t, _ in traffic.answers if t > moment) < count:
        until()
        time.sleep(0.01)
    later = [side for t, side in traffic.answers if t > moment][:count]
    return 100 * Counter(later)["remote"] / count


def test_weight_change_by_symlink_swap(
    tmp_path: Path, measured: Callable[[str, object], None]
) -> None:
    local, remote = Server("local"), Server("echo")
    with servers(local, remote):

        def at(weight: int) -> object:
            return plan(local_port=local.port, remote_port=remote.port, percentage=weight)

        with gateway(tmp_path, at(10), local_address=("127.0.0.1", local.port)) as gw:
            traffic = Traffic(gw.port)
            traffic.start()
            try:
                time.sleep(0.5)
                applied = _swap(gw, at(90), "http.gateway.rds.gateway.update_success")
                moment = time.monotonic()
                share = _share_after(traffic, moment, AFTER, lambda: None)
            finally:
                traffic.stop()
            listener_updates = gw.stat("listener_manager.lds.update_success")
            cluster_updates = gw.stat("cluster_manager.cds.update_success")
    measured("weight change applied after (ms)", round(applied * 1000, 1))
    measured("requests during the test", len(traffic.answers))
    assert traffic.failures == []
    assert abs(share - 90) <= 4, share
    # A weight change is a route change only: no listener drained, no cluster rebuilt.
    assert (listener_updates, cluster_updates) == (2, 2)
    assert applied < 1.0


def test_remote_added_and_removed_without_errors(tmp_path: Path) -> None:
    local, remote = Server("local"), Server("echo")
    with servers(local, remote):
        alone = plan(local_port=local.port, remote_port=None, percentage=0)
        split = plan(local_port=local.port, remote_port=remote.port, percentage=50)
        with gateway(tmp_path, alone, local_address=("127.0.0.1", local.port)) as gw:
            traffic = Traffic(gw.port)
            traffic.start()
            try:
                time.sleep(0.3)
                _swap(gw, split, "cluster_manager.cds.update_success")
                moment = time.monotonic()
                share = _share_after(traffic, moment + 0.5, 400, lambda: None)
                _swap(gw, alone, "cluster_manager.cds.update_success")
                moment = time.monotonic()
                after = _share_after(traffic, moment + 0.5, 200, lambda: None)
            finally:
                traffic.stop()
    assert traffic.failures == []
    assert abs(share - 50) <= 10, share
    assert after == 0
