"""Where the control-plane binaries and third-party CRDs are.

`tools/controlplane/build.sh` owns the versions and the cache layout; this
module only asks it for the directory (it returns at once when everything is
built) so that the pins live in one place, the wrapper modules' go.mod files.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# The repository root: `hooks/devcluster/binaries.py` -> the clone.
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tools" / "controlplane" / "build.sh"


class BinariesError(RuntimeError):
    """The control-plane binaries could not be built or found."""


@dataclass(frozen=True)
class ControlPlaneFiles:
    """Everything `build.sh` produced, inside one versioned cache directory."""

    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def etcd(self) -> Path:
        return self.bin_dir / "etcd"

    @property
    def kube_apiserver(self) -> Path:
        return self.bin_dir / "kube-apiserver"

    @property
    def kube_controller_manager(self) -> Path:
        return self.bin_dir / "kube-controller-manager"

    @property
    def kube_scheduler(self) -> Path:
        return self.bin_dir / "kube-scheduler"

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def kwok(self) -> Path:
        return self.bin_dir / "kwok"

    @property
    def kustomize(self) -> Path:
        return self.bin_dir / "kustomize"

    @property
    def metrics_server(self) -> Path:
        return self.bin_dir / "metrics-server"

    @property
    def istio_crds(self) -> Path:
        return self.root / "crds" / "istio.yaml"

    @property
    def gateway_api_crds(self) -> list[Path]:
        return sorted((self.root / "crds" / "gateway-api").glob("*.yaml"))

    @property
    def kwok_stages(self) -> list[Path]:
        return sorted((self.root / "kwok-stages").glob("*.yaml"))

    @property
    def kwok_metrics(self) -> list[Path]:
        """kwok's Metric and ClusterResourceUsage documents."""
        return sorted((self.root / "kwok-metrics").glob("*.yaml"))

    def missing(self) -> list[Path]:
        """Files that a complete build has and this directory lacks."""
        binaries = [
            self.etcd,
            self.kube_apiserver,
            self.kube_controller_manager,
            self.kube_scheduler,
            self.kubectl,
            self.kwok,
            self.kustomize,
            self.metrics_server,
        ]
        lacking = [path for path in [*binaries, self.istio_crds] if not path.is_file()]
        if not self.gateway_api_crds:
            lacking.append(self.root / "crds" / "gateway-api")
        if not self.kwok_stages:
            lacking.append(self.root / "kwok-stages")
        if not self.kwok_metrics:
            lacking.append(self.root / "kwok-metrics")
        return lacking


def find_controlplane(build_script: Path = BUILD_SCRIPT) -> ControlPlaneFiles:
    """Run `build.sh` (quick when the cache is complete, tens of minutes cold)
    and return its cache directory.

    Its progress goes to this process's stderr so that a cold build is visibly
    alive; its stdout ends with the directory.
    """
    logger.info("resolving control-plane binaries with %s", build_script)
    try:
        result = subprocess.run(
            [str(build_script)],
            cwd=build_script.parent,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        raise BinariesError(f"{build_script} failed: {error}") from error
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise BinariesError(f"{build_script} printed no cache directory")
    files = ControlPlaneFiles(Path(lines[-1]))
    if missing := files.missing():
        raise BinariesError(f"{build_script} left these missing: {', '.join(map(str, missing))}")
    return files
