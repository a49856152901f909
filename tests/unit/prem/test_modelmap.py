"""AIModelMap: the original's ConfigMap keys, variants and users in status, the schema rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hooks.contract import CustomizeRequest
from hooks.prem import modelmap
from hooks.prem.api import AIModelMapSpec
from hooks.prem.resolve import map_label
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.prem.factory import ai_deployment, label_maps, model_map, sync_map

JSON = dict[str, Any]
ORIGINAL = {
    "localai": [
        {
            "variant": "variant1",
            "uri": "s3://prem-ai/aimodels/variant1",
            "engineConfigFile": "engine config file content",
        },
        {
            "variant": "variant2",
            "uri": "s3://prem-ai/aimodels/variant2",
            "engineConfigFile": "engine config file content",
        },
    ],
    "vllm": [
        {
            "variant": "variant1",
            "uri": "s3://prem-ai/aimodels/variant1",
            "engineConfigFile": "engine config file content",
        },
    ],
    "deepspeed-mii": [{"variant": "base", "uri": "microsoft/phi-2"}],
    "tensor_rt": [{"variant": "onnx", "uri": "https://e.com/m.onnx", "engineConfigFile": "c"}],
}


def test_the_configmap_has_the_original_keys_for_every_engine() -> None:
    answer = sync_map(model_map(ORIGINAL, name="test-aimodelmap"))
    (config,) = answer["children"]
    assert config["metadata"]["name"] == "test-aimodelmap"
    assert config["metadata"]["labels"]["mlcontroller.premlabs.io/aimodelmap"] == "test-aimodelmap"
    assert config["data"] == {
        "localai-variant1-engineConfigFile": "engine config file content",
        "localai-variant2-engineConfigFile": "engine config file content",
        "tensor_rt-onnx-engineConfigFile": "c",
        "vllm-variant1-engineConfigFile": "engine config file content",
    }


def test_status_lists_variants_per_engine_and_users() -> None:
    users = (
        ai_deployment({"engine": {"name": "vllm"}}, name="b", namespace="team"),
        ai_deployment({"engine": {"name": "vllm"}}, name="a", namespace="team"),
    )
    status = sync_map(model_map(ORIGINAL), users)["status"]
    assert status["variants"] == {
        "localai": ["variant1", "variant2"],
        "vllm": ["variant1"],
        "deepspeed-mii": ["base"],
        "tensor_rt": ["onnx"],
    }
    assert (status["variantCount"], status["usedByCount"]) == (5, 2)
    assert status["usedBy"] == ["team/a", "team/b"]
    assert status["conditions"][0]["status"] == "True"


def test_a_map_without_config_files_has_no_configmap() -> None:
    answer = sync_map(model_map({"vllm": [{"variant": "awq", "uri": "x"}]}))
    assert answer["children"] == []
    assert answer["status"]["variants"] == {"vllm": ["awq"]}


def test_customize_selects_the_users_the_decorator_labelled() -> None:
    catalog = model_map({}, name="catalog", namespace="models")
    request = CustomizeRequest.model_validate({"parent": catalog})
    rules = modelmap.customize(request, now=NOW, settings=Settings()).to_json()["relatedResources"]
    key = map_label("models", "catalog")
    assert rules == [
        {
            "apiVersion": "premlabs.io/v1alpha1",
            "resource": "aideployments",
            "labelSelector": {"matchExpressions": [{"key": key, "operator": "Exists"}]},
        }
    ]
    user = ai_deployment(
        {
            "engine": {"name": "vllm"},
            "models": [{"modelMapRef": {"name": "catalog", "namespace": "models", "variant": "a"}}],
        },
        namespace="team",
    )
    assert label_maps(user)["labels"] == {key: "catalog"}


@pytest.mark.parametrize("variant", ["Base", "has_underscore", "-x", "a" * 64])
def test_variant_names_are_dns_labels(variant: str) -> None:
    with pytest.raises(ValidationError):
        AIModelMapSpec.model_validate({"vllm": [{"variant": variant}]})
