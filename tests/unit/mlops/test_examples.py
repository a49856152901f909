"""Every example under examples/mlops renders to its golden children."""

from __future__ import annotations

from typing import Any

import yaml

from hooks.cli import REPO_ROOT
from hooks.mlops.controller import sync_model
from hooks.mlops.endpoints import sync_config, sync_endpoint
from hooks.settings import Settings
from tests.conftest import NOW, Golden
from tests.unit.mlops.factory import ENDPOINT, ENDPOINT_CONFIG, MODEL, NAMESPACE, request

EXAMPLES = REPO_ROOT / "examples" / "mlops"


def _load(name: str) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
    for document in documents:
        document["metadata"].update(namespace=NAMESPACE, generation=1, uid="u")
    return documents


def test_model_example(golden: Golden) -> None:
    (parent,) = _load("model.yaml")
    answer = sync_model(request(MODEL, parent), now=NOW, settings=Settings()).to_json()
    golden.check("mlops-model", "sentiment", answer["children"])
    assert answer["status"]["phase"] == "Pending"


def test_endpointconfig_example(golden: Golden) -> None:
    documents = _load("endpointconfig.yaml")
    templates = [d for d in documents if d["kind"] == "Model"]
    (parent,) = [d for d in documents if d["kind"] == "EndpointConfig"]
    (endpoint,) = _load("endpoint.yaml")
    answer = sync_config(
        request(ENDPOINT_CONFIG, parent, related=[*templates, endpoint]),
        now=NOW,
        settings=Settings(),
    ).to_json()
    golden.check("mlops-endpointconfig", "sentiment", answer["children"])
    assert [m["weight"] for m in answer["status"]["models"]] == [75, 25]
    for template in templates:
        own = sync_model(request(MODEL, template), now=NOW, settings=Settings()).to_json()
        golden.check("mlops-model", template["metadata"]["name"], own["children"])
        # A template with replicas 0 runs no pod of its own.
        assert all(c["spec"]["replicas"] == 0 for c in own["children"] if c["kind"] == "Deployment")


def test_endpoint_example(golden: Golden) -> None:
    (parent,) = _load("endpoint.yaml")
    configs = [d for d in _load("endpointconfig.yaml") if d["kind"] == "EndpointConfig"]
    answer = sync_endpoint(
        request(ENDPOINT, parent, related=configs), now=NOW, settings=Settings()
    ).to_json()
    golden.check("mlops-endpoint", "sentiment", answer["children"])
    assert answer["status"]["url"] == "http://sentiment.example.com"
