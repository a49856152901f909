"""The Deployment of an InferenceModel: golden files and the resource mapping."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.inference.api import InferenceModelSpec
from hooks.inference.children import (
    GPU_TOLERATION,
    build_deployment,
    container_resources,
    deployment_name,
    resource_problems,
)
from hooks.inference.observe import pool_id
from tests.conftest import Golden

SEED = yaml.safe_load((REPO_ROOT / "examples/inference/codellama-34b.yaml").read_text())


def spec(**fields: Any) -> InferenceModelSpec:
    base = {
        "modelName": "m",
        "memory": "16Gi",
        "backendUrl": "http://m:8000",
        "containerImage": "i",
    }
    return InferenceModelSpec.model_validate({**base, **fields})


def build(name: str, model: InferenceModelSpec, **kwargs: Any) -> dict[str, Any]:
    return build_deployment(
        name=name,
        namespace="ml",
        spec=model,
        pool=pool_id(model.node_selector),
        replicas=kwargs.get("replicas", 1),
        last_request=kwargs.get("last_request"),
    )


def test_seed_example(golden: Golden) -> None:
    model = InferenceModelSpec.model_validate(SEED["spec"])
    deployment = build("codellama-34b", model, last_request="2026-01-15T10:29:00Z")
    golden.check("inferencemodel", "deployment-seed-example", deployment)
    labels = deployment["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "codellama-34b"
    assert labels["app.kubernetes.io/component"] == "inference-server"
    assert labels["inference.eh-ops.io/model"] == "codellama-34b-instruct"
    assert labels["inference.eh-ops.io/managed"] == "true"
    assert deployment["metadata"]["annotations"] == {
        "inference.eh-ops.io/memory": "48Gi",
        "inference.eh-ops.io/last-request-time": "2026-01-15T10:29:00Z",
    }
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"accelerator": "nvidia-a100-80gb", "inference-pool": "gpu-a100"}
    assert pod["tolerations"] == [GPU_TOLERATION]


def test_minimal_model(golden: Golden) -> None:
    deployment = build("tokenizer", spec(), replicas=0)
    golden.check("inferencemodel", "deployment-minimal", deployment)
    pod = deployment["spec"]["template"]["spec"]
    assert "tolerations" not in pod
    assert pod["containers"][0]["resources"] == {
        "requests": {"memory": "16Gi"},
        "limits": {"memory": "16Gi"},
    }


def test_long_names_are_capped() -> None:
    name = "a" * 80
    deployment = build(name, spec())
    assert deployment["metadata"]["name"] == deployment_name(name)
    assert len(deployment_name(name)) == 63
    assert all(len(v) <= 63 for v in deployment["metadata"]["labels"].values())


@pytest.mark.parametrize(
    ("reason", "resources", "want"),
    [
        ("defaults", {}, ({"memory": "16Gi"}, {"memory": "16Gi"})),
        (
            "a request above spec.memory raises the limit",
            {"requests": {"memory": "20Gi"}},
            ({"memory": "20Gi"}, {"memory": "20Gi"}),
        ),
        (
            "gpu on one side is set on both",
            {"limits": {"gpu": "2", "cpu": "4"}},
            (
                {"memory": "16Gi", "nvidia.com/gpu": "2"},
                {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"},
            ),
        ),
    ],
)
def test_container_resources(
    reason: str, resources: dict[str, Any], want: tuple[dict[str, str], dict[str, str]]
) -> None:
    got = container_resources(spec(resources=resources))
    assert (got["requests"], got["limits"]) == want, reason


@pytest.mark.parametrize(
    ("resources", "problem"),
    [
        ({"requests": {"cpu": "8"}, "limits": {"cpu": "4"}}, "cpu request 8 is above its limit 4"),
        ({"limits": {"memory": "8Gi"}}, "memory request 16Gi is above its limit 8Gi"),
        ({"requests": {"gpu": "1"}, "limits": {"gpu": "2"}}, "gpu request 1 and limit 2 must be"),
    ],
)
def test_resource_problems(resources: dict[str, Any], problem: str) -> None:
    problems = resource_problems(spec(resources=resources))
    assert len(problems) == 1
    assert problem in problems[0]
