"""`aihooks dev`: the whole project on a local control plane, until interrupted.

Builds (or reuses) the binaries, starts the cluster with its fake node pools,
the hooks server, the CRDs and the controllers (Metacontroller when
`METACONTROLLER_BIN` names a binary, the project's test runner otherwise, which
lives in the checkout's `tests/` and is never shipped), then prints what to do next.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

from hooks.devcluster.binaries import REPO_ROOT, find_controlplane
from hooks.devcluster.cluster import LocalCluster
from hooks.devcluster.stack import (
    controller_objects,
    crd_files,
    serve_hooks,
    start_metacontroller,
)


class DevError(RuntimeError):
    """`aihooks dev` cannot run here."""


def run(out: TextIO = sys.stdout) -> int:
    if not (REPO_ROOT / "tests" / "e2e" / "runner").is_dir() and not os.environ.get(
        "METACONTROLLER_BIN"
    ):
        raise DevError(
            "aihooks dev runs from a checkout of the project (it uses tests/e2e/runner), "
            "or set METACONTROLLER_BIN to a Metacontroller binary"
        )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    files = find_controlplane()
    with LocalCluster(files) as cluster:
        hooks_process, url = serve_hooks(cluster.log_dir)
        cluster.apply_crds(crd_files(files))
        objects = controller_objects(url)
        binary = os.environ.get("METACONTROLLER_BIN")
        runner = None
        driver = None
        try:
            if binary:
                driver = start_metacontroller(Path(binary), cluster, objects)
            else:
                sys.path.insert(0, str(REPO_ROOT))
                from tests.e2e.runner import Runner

                runner = Runner(cluster.http(), objects)
                runner.start()
            out.write(
                _instructions(
                    cluster, url, "Metacontroller" if binary else "test runner", files.kubectl
                )
            )
            out.flush()
            stop.wait()
        finally:
            if runner is not None:
                runner.stop()
            for process in (driver, hooks_process):
                if process is not None:
                    process.terminate()
                    process.kill()
    return 0


def _instructions(cluster: LocalCluster, url: str, driver: str, kubectl: Path) -> str:
    return f"""
aihooks dev is up (controllers driven by the {driver}; hooks at {url}).
Logs: {cluster.log_dir}

  export KUBECONFIG={cluster.kubeconfig}
  alias kubectl={kubectl}   # if you have no kubectl of your own
  kubectl get nodes -L inference-pool
  kubectl apply -f {REPO_ROOT / "examples" / "inference"}
  kubectl get inferencemodels
  kubectl apply -f {REPO_ROOT / "examples" / "prem"}
  kubectl get aideployments,aimodelmaps,autonodelabelers
  kubectl top pods -A   # emulated: the pods' kwok.x-k8s.io/usage-cpu|memory annotations

Press Ctrl-C to stop and remove everything.
"""
