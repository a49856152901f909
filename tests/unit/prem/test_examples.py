"""Every example under examples/prem renders to its golden children and a sensible status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.render import render
from hooks.settings import Settings
from tests.conftest import NOW, Golden

EXAMPLES = sorted(
    p for p in (REPO_ROOT / "examples" / "prem").glob("*.yaml") if p.name != "autonodelabeler.yaml"
)


def deployment_first(path: Path) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = "demo"
    return sorted(documents, key=lambda d: d["kind"] != "AIDeployment")


def test_there_is_an_example_per_engine() -> None:
    engines = {deployment_first(p)[0]["spec"]["engine"]["name"] for p in EXAMPLES}
    assert engines == {"localai", "vllm", "deepspeed-mii", "triton", "generic"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example(path: Path, golden: Golden) -> None:
    answer = render(deployment_first(path), hook="sync", now=NOW, settings=Settings())
    golden.check("aideployment", path.stem, answer["children"])
    status = answer["status"]
    assert status["status"] == "NotReady", status
    resolved = [c for c in status["conditions"] if c["type"] == "ModelsResolved"]
    assert resolved[0]["status"] == "True"
