"""One control-plane process: started in its own process group, logged to a
file, and stopped for certain.

A leaked kube-apiserver or etcd holds ports and a gigabyte of memory on a
shared machine, so every process gets its own process group (the whole group
is signalled, SIGTERM then SIGKILL, with bounded waits) and, on Linux, a
parent-death signal so that even a SIGKILLed test runner takes its children
with it. The kernel sends that signal when the *thread* that started the
child ends, so start processes from a thread that lives as long as they
should (the main thread, in the e2e suite and `aihooks dev`).

Every running `Process` is also listed here, so that a signal handler can
kill all of them at once (`kill_all`) before the interpreter dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# Resolved in the parent: the child, between fork and exec, should only call.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        """Runs in the child between fork and exec: ask the kernel for
        SIGKILL when the parent (thread) dies, and die at once if it already
        died before the request was made."""
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


# Started and not yet killed, by pid.
_running: dict[int, Process] = {}


class Process:
    """A started command whose stdout and stderr go to `log_path`."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        logger.debug("starting %s: %s", name, " ".join(self.argv))
        self._log: IO[bytes] = log_path.open("ab")
        try:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with(os.getpid()),
            )
        except BaseException:
            self._log.close()
            raise
        _running[self._popen.pid] = self

    @property
    def pid(self) -> int:
        return self._popen.pid

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self._popen.poll()

    def tail(self, lines: int = 30) -> str:
        """The end of its log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask the whole process group to exit."""
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the leader.

        Also reaches grandchildren left in the group after the leader exited."""
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=10)
        self._log.close()
        _running.pop(self._popen.pid, None)

    def _signal_group(self, signum: int) -> None:
        # The group id is the pid: start_new_session made it a group leader.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)


def kill_all() -> None:
    """SIGKILL every process group this interpreter started and has not
    killed yet: the last resort of a signal handler, with no grace period."""
    for process in list(_running.values()):
        process._signal_group(signal.SIGKILL)
    for process in list(_running.values()):
        process.kill()


def stop_all(processes: Sequence[Process], grace: float = 5.0) -> None:
    """Stop the processes in reverse start order, each with SIGTERM, then
    SIGKILL after `grace` seconds.

    The order matters: an API server whose etcd went first hangs in its
    graceful shutdown, and etcd waits for its clients' connections."""
    for process in reversed(processes):
        process.terminate()
        deadline = time.monotonic() + grace
        while process.exit_code() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if process.exit_code() is None:
            logger.warning("%s ignored SIGTERM for %.0fs; killing it", process.name, grace)
        process.kill()
