"""Objects left by the original inference-budget controller: its finalizer is reported,
and the command the condition gives removes it, on the real control plane."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from lightkube import Client
from lightkube.core.exceptions import ApiError

from hooks.devcluster import ControlPlaneFiles, LocalCluster
from hooks.k8s.conditions import condition_of
from tests.e2e.test_inference import InferenceModel, create, manifest, model
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e
LEGACY = "inference.eh-ops.io/finalizer"


def test_a_legacy_finalizer_is_reported_and_its_command_lets_the_object_go(
    controllers: object,
    cluster: LocalCluster,
    controlplane_files: ControlPlaneFiles,
    kube: Client,
    namespace: str,
) -> None:
    obj = manifest("legacy", image="")
    obj["metadata"]["finalizers"] = [LEGACY]
    create(kube, namespace, obj)

    def reported() -> str | None:
        condition = condition_of(model(kube, namespace, "legacy").get("status"), "LegacyFinalizer")
        return str(condition["message"]) if condition and condition["status"] == "True" else None

    message = wait_for(reported, what="the LegacyFinalizer condition", timeout=60)
    kube.delete(InferenceModel, "legacy", namespace=namespace)
    # Metacontroller lets go of its own finalizer; the original's stays, and holds it.
    wait_for(
        lambda: model(kube, namespace, "legacy")["metadata"].get("finalizers") == [LEGACY],
        what="only the legacy finalizer left",
        timeout=60,
    )
    command = shlex.split(message.split("remove it with: ", 1)[1])
    assert command[0] == "kubectl"
    kubectl = [str(controlplane_files.kubectl), "--kubeconfig", str(cluster.kubeconfig)]
    result = subprocess.run([*kubectl, *command[1:]], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    def gone() -> bool:
        try:
            model(kube, namespace, "legacy")
        except ApiError as error:
            return error.status.code == 404
        return False

    wait_for(gone, what="the InferenceModel to be deleted", timeout=30)
