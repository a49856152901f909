"""The kustomize overlays render with real kustomize and the API server accepts them."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.devcluster import ControlPlaneFiles, LocalCluster
from hooks.devcluster.stack import metacontroller_crds
from hooks.systems import CUSTOM_RESOURCES

pytestmark = pytest.mark.e2e
OVERLAYS = ("dev", "production", "offload-default-backend")


def _build(files: ControlPlaneFiles, overlay: str) -> list[dict[str, Any]]:
    return _kustomize(files, REPO_ROOT / "deploy/overlays" / overlay)


def _kustomize(files: ControlPlaneFiles, directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(files.kustomize), "build", str(directory)],
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
    assert "CustomResourceDefinition" not in kinds, "the CRDs are deploy/crds, on their own"
    for obj in objects:
        namespaced = obj["kind"] not in {
            "Namespace",
            "CustomResourceDefinition",
            "CompositeController",
            "DecoratorController",
            "ClusterRole",
            "ClusterRoleBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
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


def test_the_crds_are_a_kustomization_of_their_own(controlplane_files: ControlPlaneFiles) -> None:
    objects = _kustomize(controlplane_files, REPO_ROOT / "deploy/crds")
    crd_files = sorted(p.name for p in (REPO_ROOT / "crds").glob("*_*.yaml"))
    assert [o["kind"] for o in objects] == ["CustomResourceDefinition"] * len(crd_files)


@pytest.mark.parametrize("name", ["aihooks", "aihooks-router"])
def test_production_is_highly_available(controlplane_files: ControlPlaneFiles, name: str) -> None:
    objects = _build(controlplane_files, "production")
    deployment = _one(objects, "Deployment", name)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    affinity = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert affinity == [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": selector}}
    ]
    pdb = _one(objects, "PodDisruptionBudget", name)
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == selector


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_one_worker(controlplane_files: ControlPlaneFiles, overlay: str) -> None:
    """Each uvicorn worker has its own Prometheus registry: one worker per pod, and
    replicas for scale, so that /metrics counts every request of the pod."""
    for obj in _build(controlplane_files, overlay):
        if obj["kind"] == "Deployment":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                assert "--workers" not in container.get("args", []), obj["metadata"]["name"]


def test_the_router_drains_behind_a_network_policy(controlplane_files: ControlPlaneFiles) -> None:
    objects = _build(controlplane_files, "production")
    router = _one(objects, "Deployment", "aihooks-router")
    pod = router["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # Endpoints are removed while the pod still serves; then SIGTERM drains it.
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < pause < pod["terminationGracePeriodSeconds"]
    policy = _one(objects, "NetworkPolicy", "aihooks-router")
    assert policy["spec"]["podSelector"]["matchLabels"] == router["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http"}]


def test_dev_uses_the_local_image_and_patches_by_name(
    controlplane_files: ControlPlaneFiles,
) -> None:
    objects = _build(controlplane_files, "dev")
    text = (REPO_ROOT / "deploy/overlays/dev/kustomization.yaml").read_text()
    assert not re.search(r"/(containers|env)/[0-9]", text), "no patch by list index"
    for name, container_name in (("aihooks", "hooks"), ("aihooks-router", "router")):
        (container,) = _one(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["name"] == container_name
        assert container["image"] == "aihooks:dev"
        assert container["imagePullPolicy"] == "IfNotPresent"
        env = {e["name"]: e for e in container["env"]}
        assert env["AIHOOKS_LOG_LEVEL"]["value"] == "DEBUG"
    hooks_env = _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    token = next(e for e in hooks_env if e["name"] == "AIHOOKS_HOOK_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == "aihooks-hook-token"


def _uninstall_commands() -> list[list[str]]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Uninstall\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line]


def test_the_readme_uninstalls_in_an_order_that_strands_no_finalizer(
    controlplane_files: ControlPlaneFiles,
) -> None:
    """Custom resources (their finalize hooks still served), then the controllers,
    then the hooks, then the CRDs; together they remove everything installed."""
    commands = _uninstall_commands()
    assert [c[:2] for c in commands] == [["kubectl", "delete"]] * 4
    first = commands[0]
    assert {"--all", "--all-namespaces", "--wait"} <= set(first)
    kinds = {f"{r.plural}.{r.group}" for r in CUSTOM_RESOURCES}
    assert set(first[-1].split(",")) == kinds
    removed = []
    for command in commands[1:]:
        directory = command[command.index("-k") + 1]
        removed.append(_kustomize(controlplane_files, REPO_ROOT / directory))
    controllers, hooks, crds = ({o["kind"] for o in step} for step in removed)
    assert controllers == {"CompositeController", "DecoratorController"}
    assert {"Deployment", "Namespace"} <= hooks
    assert "CustomResourceDefinition" not in hooks
    assert crds == {"CustomResourceDefinition"}
    assert "--ignore-not-found" in commands[2], "the overlay holds the controllers deleted before"
    installed = _build(controlplane_files, "production") + _kustomize(
        controlplane_files, REPO_ROOT / "deploy/crds"
    )
    names = {(o["kind"], o["metadata"]["name"]) for step in removed for o in step}
    assert {(o["kind"], o["metadata"]["name"]) for o in installed} <= names


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
    crds = tmp_path / "crds.yaml"
    crds.write_text(yaml.safe_dump_all(_kustomize(controlplane_files, REPO_ROOT / "deploy/crds")))
    result = subprocess.run(
        [*kubectl, "apply", "--server-side", "--dry-run=server", "-f", str(crds)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [*kubectl, "apply", "--server-side", "--dry-run=server", "-f", str(manifest)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
