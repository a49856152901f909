from pathlib import Path

import pytest

from hooks.cli import write_or_check
from hooks.render import RenderError, render
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.sample_system import CONTROLLERS, widget

OBSERVED = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w1"}, "data": {}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}}


def test_render_builds_the_request_like_metacontroller() -> None:
    answer = render(
        [widget({"image": "img"}), OBSERVED, NODE],
        hook="sync",
        now=NOW,
        settings=Settings(),
        controllers=CONTROLLERS,
    )
    assert answer["children"][0]["data"] == {"image": "img"}
    assert answer["status"]["replicas"] == 1


def test_render_customize_and_decorator() -> None:
    related = render(
        [widget({})], hook="customize", now=NOW, settings=Settings(), controllers=CONTROLLERS
    )
    assert related["relatedResources"][0]["resource"] == "nodes"
    labels = render([NODE], hook="sync", now=NOW, settings=Settings(), controllers=CONTROLLERS)
    assert labels["labels"] == {"old": None, "widget": "yes"}


def test_render_errors_are_clear() -> None:
    with pytest.raises(RenderError, match="no controller watches any of: ConfigMap"):
        render([OBSERVED], hook="sync", now=NOW, settings=Settings(), controllers=CONTROLLERS)
    with pytest.raises(RenderError, match="has no finalize hook"):
        render([widget({})], hook="finalize", now=NOW, settings=Settings(), controllers=CONTROLLERS)


def test_write_or_check(tmp_path: Path) -> None:
    said: list[str] = []
    files = {"a.yaml": "a: 1\n"}
    (tmp_path / "old.yaml").write_text("x")
    assert write_or_check(tmp_path, files, check=True, say=said.append, command="crds") == [
        "a.yaml",
        "old.yaml",
    ]
    assert "run `aihooks crds`" in said[0]
    assert write_or_check(tmp_path, files, check=False, say=said.append, command="crds") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]
    assert write_or_check(tmp_path, files, check=True, say=said.append, command="crds") == []
