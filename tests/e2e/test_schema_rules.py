"""The CRDs' bounds and rules, as the real API server applies them.

What the hooks rely on the schema to refuse is refused: a node selector whose key is
not a label key, a cooldown Go cannot hold, an over-long field; and what the seeds
write is accepted. Each object is created with a server-side dry run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource

from hooks.devcluster import LocalCluster

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = create_namespaced_resource(
    "inference.eh-ops.io", "v1alpha1", "InferenceModel", "inferencemodels"
)
DEPLOYMENTS = create_namespaced_resource("premlabs.io", "v1alpha1", "AIDeployment", "aideployments")
MODEL = {
    "modelName": "llama",
    "memory": "48Gi",
    "backendUrl": "http://llama:8000",
    "containerImage": "vllm/vllm-openai:v0.6.0",
}


@pytest.fixture(scope="module")
def crds(cluster: LocalCluster) -> None:
    project = [
        p for p in sorted((REPO_ROOT / "crds").glob("*.yaml")) if p.name != "kustomization.yaml"
    ]
    cluster.apply_crds(project)


def _accepted(kube: Client, kind: Any, namespace: str, spec: dict[str, Any]) -> bool:
    obj = kind(metadata={"name": "probe", "namespace": namespace}, spec=spec)
    try:
        kube.create(obj, dry_run=True)
    except ApiError as error:
        refused = error.status
    else:
        return True
    assert refused.code == 422, refused.message
    return False


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({}, True),
        ({"cooldownPeriod": "1h30m"}, True),
        ({"cooldownPeriod": "1.5h"}, True),
        ({"cooldownPeriod": "0"}, True),
        ({"cooldownPeriod": "2562047h"}, True),
        ({"cooldownPeriod": "2562048h"}, False),
        ({"cooldownPeriod": "-1s"}, False),
        ({"cooldownPeriod": "1d"}, False),
        ({"nodeSelector": {"example.com/pool": "gpu"}}, True),
        ({"nodeSelector": {"bad key": "gpu"}}, False),
        ({"nodeSelector": {"-pool": "gpu"}}, False),
        ({"nodeSelector": {"pool": "not a value"}}, False),
        ({"memory": "9" * 100 + "Gi"}, False),
        ({"dependencies": ["m"] * 65}, False),
        ({"containerImage": "x" * 1025}, False),
    ],
)
def test_inference_model_rules(
    kube: Client, crds: None, namespace: str, change: dict[str, Any], accepted: bool
) -> None:
    assert _accepted(kube, MODELS, namespace, {**copy.deepcopy(MODEL), **change}) is accepted


@pytest.mark.parametrize(
    ("deployment", "accepted"),
    [
        ({"labels": {"team": "a"}, "resources": {"requests": {"cpu": "1e3", "memory": 2}}}, True),
        ({"labels": {"team": "not a value"}}, False),
        ({"annotations": {"no spaces/x y": "v"}}, False),
        ({"resources": {"requests": {"cpu": "lots"}}}, False),
        ({"nodeSelector": {"a/b/c": "x"}}, False),
        ({"replicas": 2**31}, False),
    ],
)
def test_ai_deployment_rules(
    kube: Client, crds: None, namespace: str, deployment: dict[str, Any], accepted: bool
) -> None:
    spec = {"engine": {"name": "vllm"}, "models": [{"uri": "m"}], "deployment": deployment}
    assert _accepted(kube, DEPLOYMENTS, namespace, spec) is accepted
