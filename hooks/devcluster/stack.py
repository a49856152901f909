"""What runs on top of the local control plane: the hooks server, the CRDs and the
controllers (a Metacontroller binary when one is given, the project's runner
otherwise). Shared by the e2e fixtures and `aihooks dev`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from hooks.devcluster.binaries import REPO_ROOT, ControlPlaneFiles
from hooks.devcluster.cluster import LocalCluster, free_port
from hooks.devcluster.process import Process

logger = logging.getLogger(__name__)
# Metacontroller's own CRDs, shipped with the project (see the file's header).
METACONTROLLER_CRDS = REPO_ROOT / "tools" / "controlplane" / "metacontroller-crds.yaml"


class StackError(RuntimeError):
    """A piece of the stack did not come up."""


def serve_hooks(log_dir: Path, timeout: float = 30.0) -> tuple[Process, str]:
    """A real `aihooks serve` on a free loopback port; returns it and its base URL."""
    port = free_port()
    process = Process(
        "aihooks-serve",
        [sys.executable, "-m", "hooks", "serve", "--host", "127.0.0.1", "--port", str(port)],
        log_dir / "aihooks-serve.log",
    )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(process, f"{url}/readyz", timeout)
    return process, url


def _wait_ready(process: Process, url: str, timeout: float) -> None:
    """Until url answers 200; the process' log tail in the error if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.exit_code() is not None:
            process.kill()
            raise StackError(f"{process.name} exited:\n{process.tail()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise StackError(f"{process.name} not ready after {timeout:.0f}s:\n{process.tail()}")


def crd_files(files: ControlPlaneFiles) -> list[Path]:
    """The project's CRDs and the third-party ones its children need."""
    own = sorted(p for p in (REPO_ROOT / "crds").glob("*.yaml") if p.name != "kustomization.yaml")
    return [*own, files.istio_crds, *files.gateway_api_crds]


def controller_objects(hook_base_url: str) -> list[dict[str, Any]]:
    """The committed controller objects of `metacontroller/`, webhooks pointed at the URL."""
    objects = []
    for path in sorted((REPO_ROOT / "metacontroller").glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        if not obj or obj.get("kind") not in ("CompositeController", "DecoratorController"):
            continue
        for hook in obj["spec"]["hooks"].values():
            webhook = hook["webhook"]
            webhook.pop("service", None)
            webhook["url"] = hook_base_url.rstrip("/") + webhook.pop("path")
        objects.append(obj)
    return objects


def metacontroller_crds() -> Path:
    """The CRD manifest to install before Metacontroller: `METACONTROLLER_CRDS` when it names
    one (a release's `metacontroller-crds-v1.yaml`), the project's copy otherwise."""
    chosen = os.environ.get("METACONTROLLER_CRDS")
    if not chosen:
        return METACONTROLLER_CRDS
    path = Path(chosen)
    if not path.is_file():
        raise StackError(f"METACONTROLLER_CRDS={chosen} is not a file")
    return path


def start_metacontroller(
    binary: Path, cluster: LocalCluster, objects: list[dict[str, Any]], timeout: float = 30.0
) -> Process:
    """Metacontroller out of cluster against the local API server, with the objects applied.

    A local API server takes far more than client-go's default 5 requests per second;
    the higher limits keep a test from waiting on Metacontroller's own throttle.
    """
    if not binary.is_file():
        raise StackError(f"METACONTROLLER_BIN={binary} is not a file")
    cluster.apply_crds([metacontroller_crds()])
    health = f"127.0.0.1:{free_port()}"
    process = Process(
        "metacontroller",
        [
            str(binary),
            f"--kubeconfig={cluster.kubeconfig}",
            "--discovery-interval=1s",
            "--metrics-address=0",
            f"--health-probe-bind-address={health}",
            "--client-go-qps=100",
            "--client-go-burst=200",
            "--zap-log-level=4",
        ],
        cluster.log_dir / "metacontroller.log",
    )
    _wait_ready(process, f"http://{health}/readyz", timeout)
    with cluster.http() as http:
        for obj in objects:
            plural = obj["kind"].lower() + "s"
            path = f"/apis/metacontroller.k8s.io/v1alpha1/{plural}/{obj['metadata']['name']}"
            response = http.patch(
                path,
                params={"fieldManager": "aihooks-e2e", "force": "true"},
                content=yaml.safe_dump(obj),
                headers={"Content-Type": "application/apply-patch+yaml"},
            )
            if response.status_code >= 300:
                process.kill()
                raise StackError(f"applying {path}: {response.status_code} {response.text}")
    return process
