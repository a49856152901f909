"""The kustomize overlays render with real kustomize and the API server accepts them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.devcluster import ControlPlaneFiles, LocalCluster
from hooks.devcluster.stack import metacontroller_crds

pytestmark = pytest.mark.e2e
OVERLAYS = ("dev", "production", "offload-default-backend")


def _build(files: ControlPlaneFiles, overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(files.kustomize), "build", str(REPO_ROOT / "deploy/overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _one(objects: list[dict[str, Any]], kind: str, name: str = "aihooks") -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_a_hardened_hooks_deployment(
    controlplane_files: ControlPlaneFiles, overlay: str
) -> None:
    objects = _build(controlplane_files, overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "Deployment", "Service", "NetworkPolicy"} <= kinds
    crd_files = sorted(p.name for p in (REPO_ROOT / "crds").glob("*_*.yaml"))
    assert sum(o["kind"] == "CustomResourceDefinition" for o in objects) >= len(crd_files)
    for obj in objects:
        namespaced = obj["kind"] not in {
            "Namespace",
            "CustomResourceDefinition",
            "CompositeController",
            "DecoratorController",
            "ClusterRole",
            "ClusterRoleBinding",
        }
        if namespaced:
            assert obj["metadata"]["namespace"] == "aihooks", obj["metadata"]["name"]
    pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["memory"]


def test_production_is_highly_available(controlplane_files: ControlPlaneFiles) -> None:
    objects = _build(controlplane_files, "production")
    deployment = _one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    pdb = _one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector


def test_dev_uses_the_local_image(controlplane_files: ControlPlaneFiles) -> None:
    deployment = _one(_build(controlplane_files, "dev"), "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "aihooks:dev"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_server_accepts_the_overlay(
    cluster: LocalCluster, controlplane_files: ControlPlaneFiles, overlay: str, tmp_path: Path
) -> None:
    kubectl = [str(controlplane_files.kubectl), "--kubeconfig", str(cluster.kubeconfig)]
    cluster.apply_crds([metacontroller_crds()])
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(_build(controlplane_files, overlay)))
    subprocess.run(
        [*kubectl, "apply", "-f", str(REPO_ROOT / "deploy/base/namespace.yaml")],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [*kubectl, "apply", "--server-side", "--dry-run=server", "-f", str(manifest)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
