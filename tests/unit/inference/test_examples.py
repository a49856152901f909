"""The examples decide what docs/inference.md says they decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.k8s.conditions import condition_of
from hooks.render import render
from hooks.settings import Settings
from tests.conftest import NOW

TWO_POOLS = REPO_ROOT / "examples" / "inference" / "two-pools"


def documents(*paths: Path) -> list[dict[str, Any]]:
    return [d for path in paths for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize(
    ("model", "reason", "replicas", "says"),
    [
        ("llama-70b", "Deployed", 1, "serving traffic"),
        ("mixtral-8x7b", "InsufficientMemory", 0, "blocking: llama-70b (48Gi)"),
        ("chat-7b", "Pending", 0, "bge-embedder (not ready)"),
        ("embedder", "Deploying", 1, "(0/1 ready)"),
    ],
)
def test_two_pools(model: str, reason: str, replicas: int, says: str) -> None:
    first = TWO_POOLS / f"{model}.yaml"
    others = sorted(p for p in TWO_POOLS.glob("*.yaml") if p != first)
    answer = render(documents(first, *others), hook="sync", now=NOW, settings=Settings())
    ready = condition_of(answer["status"], "Ready")
    assert ready is not None
    assert (ready["reason"], answer["children"][0]["spec"]["replicas"]) == (reason, replicas)
    assert says in ready["message"]


def test_seed_example_waits_for_its_dependency() -> None:
    seed = documents(REPO_ROOT / "examples" / "inference" / "codellama-34b.yaml")[0]
    seed["metadata"]["creationTimestamp"] = "2026-01-15T10:25:00Z"
    answer = render([seed], hook="sync", now=NOW, settings=Settings())
    ready = condition_of(answer["status"], "Ready")
    assert ready is not None
    assert ready["reason"] == "Pending"
    assert "tokenizer-service (no InferenceModel has this modelName)" in ready["message"]
