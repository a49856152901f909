"""The gateway's children are accepted by the real API server (server-side dry run),
for every kind of plan: the Envoy pod spec, its mounts, probes and lifecycle."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
import yaml

from hooks.devcluster import ControlPlaneFiles, LocalCluster
from hooks.offload.gateway import build_gateway_children
from hooks.settings import Settings
from tests.envoy.variants import VARIANTS

pytestmark = pytest.mark.e2e


def test_api_server_accepts_every_gateway(
    cluster: LocalCluster,
    controlplane_files: ControlPlaneFiles,
    namespace: str,
    tmp_path: Path,
) -> None:
    objects = [
        child
        for index, plan in enumerate(VARIANTS.values())
        for child in build_gateway_children(
            dataclasses.replace(plan, namespace=namespace, name=f"{plan.name}-{index}"),
            settings=Settings(),
        )
    ]
    manifest = tmp_path / "gateways.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    kubectl = [str(controlplane_files.kubectl), "--kubeconfig", str(cluster.kubeconfig)]
    result = subprocess.run(
        [*kubectl, "apply", "--server-side", "--dry-run=server", "-f", str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied") == 3 * len(VARIANTS), result.stdout
