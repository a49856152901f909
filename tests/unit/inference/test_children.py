"""The Deployment of an InferenceModel: golden files and the resource mapping."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.inference.api import InferenceModelSpec
from hooks.inference.children import (
    GPU_TOLERATION,
    Backend,
    backend,
    build_deployment,
    build_service,
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


def test_the_seed_example_serves_on_the_port_its_backend_url_names() -> None:
    """vllm/vllm-openai listens on 8000, the port of the seed's backendUrl."""
    model = InferenceModelSpec.model_validate(SEED["spec"])
    (container,) = build("codellama-34b", model)["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert {"name": "PORT", "value": "8000"} in container["env"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}


@pytest.mark.parametrize(
    ("url", "port", "service", "service_port"),
    [
        ("http://vllm:8000", 8000, "vllm", 8000),
        ("http://vllm", 8080, "vllm", 80),
        ("https://vllm", 8080, "vllm", 443),
        ("http://vllm.ml:9000/v1", 9000, "vllm", 9000),
        ("http://vllm.ml.svc:8000", 8000, "vllm", 8000),
        ("http://VLLM.ml.svc.cluster.local:8000", 8000, "vllm", 8000),
        ("http://vllm.other.svc.cluster.local:8000", 8000, None, 8000),
        ("http://vllm.ml.svc.example.com:8000", 8000, None, 8000),
        ("https://inference.example.com", 8080, None, 443),
        ("http://10.0.0.7:8000", 8000, None, 8000),
        ("http://[fd00::7]:8000", 8000, None, 8000),
        ("http://under_score:8000", 8000, None, 8000),
    ],
)
def test_backend_url_gives_the_port_and_the_service(
    url: str, port: int, service: str | None, service_port: int
) -> None:
    assert backend(url, "ml") == Backend(port, service, service_port)


@pytest.mark.parametrize(
    "url", ["http://vllm:0", "http://vllm:99999", "http://vllm:x", "http://[fd00::1:8000"]
)
def test_a_backend_url_without_a_usable_port(url: str) -> None:
    assert backend(url, "ml") is None


def test_the_service_selects_the_models_pods() -> None:
    model = spec(backendUrl="http://vllm.ml.svc.cluster.local")
    service = build_service(name="llama", namespace="ml", spec=model)
    assert service is not None
    assert service["metadata"]["name"] == "vllm"
    assert service["metadata"]["namespace"] == "ml"
    deployment = build("llama", model)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"] == {
        "selector": selector,
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    }
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert build_service(name="llama", namespace="other", spec=model) is None


def test_args_command_env_and_probes_start_a_real_server() -> None:
    model = spec(
        backendUrl="http://llama:8000",
        command=["python3", "-m", "vllm.entrypoints.openai.api_server"],
        args=["--model", "meta-llama/Llama-2-7b-chat-hf", "--port", "8000"],
        env=[
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
            {"name": "PORT", "value": "8000"},
        ],
        probes={
            "path": "/v1/models",
            "readiness": {"initialDelaySeconds": 120, "failureThreshold": 30},
            "liveness": {"periodSeconds": 60},
        },
    )
    (container,) = build("llama", model)["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert container["args"] == ["--model", "meta-llama/Llama-2-7b-chat-hf", "--port", "8000"]
    assert [e["name"] for e in container["env"]] == [
        "MODEL_NAME",
        "BACKEND_URL",
        "PORT",
        "HF_TOKEN",
    ]
    assert container["env"][3] == {
        "name": "HF_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}},
    }
    assert container["readinessProbe"] == {
        "httpGet": {"path": "/v1/models", "port": "http"},
        "initialDelaySeconds": 120,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 30,
    }
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/v1/models", "port": "http"},
        "initialDelaySeconds": 60,
        "periodSeconds": 60,
    }
    plain = build("m", spec())["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in plain
    assert "args" not in plain
