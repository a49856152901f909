"""A test run that holds a cluster leaves no process behind, however it ends.

A child pytest runs one test that takes the suite's own `cluster` and `controllers`
fixtures (the control plane, `aihooks serve`, and Metacontroller or the runner) and then
waits. This test records every process descended from that pytest, ends it with SIGTERM,
SIGINT or SIGKILL, and checks that none of them is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hooks.cli import REPO_ROOT
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e

HELD = """
import os
import time
from pathlib import Path


def test_hold(cluster, controllers, hooks_server):
    Path(os.environ["AIHOOKS_HELD"]).write_text(f"{controllers.driver}\\n")
    time.sleep(600)
"""
# What the held run starts, by the kernel's command name (at most 15 characters).
EXPECTED = {"etcd", "kube-apiserver", "kube-controller", "kube-scheduler", "kwok", "metrics-server"}


def _table() -> dict[int, tuple[int, str, str, str]]:
    """Every live process: pid -> (parent pid, start time, command name, state)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        state, parent, started = fields[0], int(fields[1]), fields[19]
        if state not in ("Z", "X"):
            table[int(entry.name)] = (parent, started, name, state)
    return table


def _descendants(root: int) -> dict[int, tuple[str, str]]:
    """pid -> (start time, command name) of every live process below `root`."""
    table = _table()
    found: dict[int, tuple[str, str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, started, name, _) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = (started, name)
                frontier.append(pid)
    return found


def _survivors(seen: dict[int, tuple[str, str]]) -> list[str]:
    table = _table()
    return [
        f"{pid} {name}"
        for pid, (started, name) in seen.items()
        if pid in table and table[pid][1] == started
    ]


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_killed_test_run_leaves_no_process(tmp_path: Path, signum: signal.Signals) -> None:
    (tmp_path / "test_held.py").write_text(HELD)
    ready = tmp_path / "held"
    log = tmp_path / "pytest.log"
    with log.open("wb") as out:
        held = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "tests.e2e.conftest",
                "-p",
                "no:cacheprovider",
                "-q",
                str(tmp_path / "test_held.py"),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "AIHOOKS_HELD": str(ready)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: ready.exists() or held.poll() is not None,
            what="the held run to start its cluster",
            timeout=180,
        )
        assert held.poll() is None, log.read_text()
        seen = _descendants(held.pid)
        driver = ready.read_text().strip()
        expected = EXPECTED | ({"metacontroller"} if driver == "metacontroller" else set())
        assert {name for _, name in seen.values()} >= expected, seen
        held.send_signal(signum)
        held.wait(60)
    finally:
        if held.poll() is None:
            held.kill()
            held.wait()
    wait_for(
        lambda: not _survivors(seen),
        what=f"every process of the held run to end after {signum.name}",
        timeout=20,
    )
    assert not _survivors(seen)
    if signum is signal.SIGINT:
        # pytest's own interrupt handling: the session's fixtures are torn down.
        assert held.returncode == pytest.ExitCode.INTERRUPTED, log.read_text()
    else:
        assert held.returncode == -signum, log.read_text()
