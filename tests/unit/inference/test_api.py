"""The InferenceModel CRD: the seed's fields, defaults, limits, columns and validation."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.crdgen import crd_manifest
from hooks.inference.api import INFERENCE_MODELS, URI_RULE
from tests.unit.test_properties import closed

CRD = crd_manifest(INFERENCE_MODELS)
VERSION = CRD["spec"]["versions"][0]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]["properties"]
SPEC = SCHEMA["spec"]
VALID = {"modelName": "llama-2-7b", "memory": "16Gi", "backendUrl": "http://vllm-server:8000"}


def spec_errors(spec: dict[str, Any]) -> list[str]:
    """What the API server's OpenAPI check and the backendUrl CEL rule say about a spec."""
    validator = jsonschema.Draft7Validator(closed(SPEC))
    errors = [e.message for e in validator.iter_errors(spec)]
    url = spec.get("backendUrl")
    if isinstance(url, str) and not re.match(URI_RULE, url):
        errors.append(SPEC["properties"]["backendUrl"]["x-kubernetes-validations"][0]["message"])
    return errors


def test_identity_and_columns() -> None:
    assert CRD["metadata"]["name"] == "inferencemodels.inference.eh-ops.io"
    assert CRD["spec"]["names"]["kind"] == "InferenceModel"
    assert CRD["spec"]["names"]["listKind"] == "InferenceModelList"
    assert VERSION["name"] == "v1alpha1"
    assert VERSION["subresources"] == {"status": {}}
    columns = [(c["name"].upper(), c["jsonPath"]) for c in VERSION["additionalPrinterColumns"]]
    assert columns == [
        ("READY", ".status.ready"),
        ("REPLICAS", ".status.replicas"),
        ("MEMORY", ".spec.memory"),
        ("AGE", ".metadata.creationTimestamp"),
    ]


def test_spec_fields_and_defaults() -> None:
    props = SPEC["properties"]
    assert SPEC["required"] == ["modelName", "memory", "backendUrl"]
    assert props["modelName"]["minLength"] == 1
    assert props["memory"]["pattern"] == "^[0-9]+(Ki|Mi|Gi|Ti)$"
    assert props["backendUrl"]["format"] == "uri"
    assert props["nodeSelector"]["default"] == {"inference-pool": "default"}
    assert props["cooldownPeriod"]["default"] == "10m"
    assert (props["maxReplicas"]["default"], props["maxReplicas"]["minimum"]) == (1, 0)
    assert props["maxReplicas"]["maximum"] == 1
    assert props["dependencies"]["default"] == []
    assert props["containerImage"]["default"] == ""
    assert props["resources"]["default"] == {}
    for side in ("requests", "limits"):
        assert sorted(props["resources"]["properties"][side]["properties"]) == [
            "cpu",
            "gpu",
            "memory",
        ]


def test_status_fields() -> None:
    assert sorted(SCHEMA["status"]["properties"]) == [
        "conditions",
        "lastObservation",
        "observedGeneration",
        "observedPeakMemory",
        "ready",
        "recommendation",
        "replicas",
        "utilizationPercent",
    ]


@pytest.mark.parametrize(
    ("reason", "change"),
    [
        ("seed minimum", {}),
        ("binary suffixes", {"memory": "16384Mi"}),
        ("tebibytes", {"memory": "1Ti"}),
        ("service URL", {"backendUrl": "http://vllm-server.default.svc.cluster.local:8000"}),
        ("https URL", {"backendUrl": "https://inference.example.com"}),
        ("zero replicas", {"maxReplicas": 0}),
        ("go duration", {"cooldownPeriod": "1h30m"}),
        ("resources", {"resources": {"requests": {"cpu": "4000m", "gpu": "1"}}}),
    ],
)
def test_valid_specs(reason: str, change: dict[str, Any]) -> None:
    assert spec_errors({**VALID, **change}) == [], reason


@pytest.mark.parametrize(
    ("reason", "change", "says"),
    [
        ("GB is not a binary suffix", {"memory": "16GB"}, "does not match"),
        ("missing unit", {"memory": "80"}, "does not match"),
        ("decimals", {"memory": "1.5Gi"}, "does not match"),
        ("more than one replica", {"maxReplicas": 2}, "greater than the maximum of 1"),
        ("not a URI", {"backendUrl": "not a url"}, "absolute URI"),
        ("no scheme", {"backendUrl": "vllm-server:8000"}, "absolute URI"),
        ("empty modelName", {"modelName": ""}, "non-empty"),
        ("bad duration", {"cooldownPeriod": "ten minutes"}, "does not match"),
        ("bad cpu", {"resources": {"limits": {"cpu": "lots"}}}, "does not match"),
        ("bad pool value", {"nodeSelector": {"pool": "a b"}}, "does not match"),
    ],
)
def test_invalid_specs(reason: str, change: dict[str, Any], says: str) -> None:
    errors = spec_errors({**VALID, **change})
    assert any(says in e for e in errors), (reason, errors)


def test_committed_crd_is_the_generated_one() -> None:
    path = REPO_ROOT / "crds" / "inference.eh-ops.io_inferencemodels.yaml"
    assert yaml.safe_load(path.read_text()) == CRD
