"""The committed manifests match the models, and the controller objects match the app."""

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from hooks.app import create_app
from hooks.cli import REPO_ROOT, main
from hooks.metacontroller import controller_object
from hooks.systems import CONTROLLERS
from tests.unit.sample_system import CONTROLLERS as SAMPLE_CONTROLLERS


@pytest.mark.parametrize("command", ["crds", "controllers"])
def test_committed_manifests_are_fresh(command: str) -> None:
    assert main([command, "--check"]) == 0, f"run `aihooks {command}` and commit the result"


def test_every_controller_object_hook_is_a_v2_route() -> None:
    client = TestClient(create_app(CONTROLLERS))
    for path in sorted((REPO_ROOT / "metacontroller").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        obj = yaml.safe_load(path.read_text())
        for name, hook in obj["spec"]["hooks"].items():
            assert hook["version"] == "v2", f"{path.name}: {name} hook must be v2"
            assert hook["webhook"]["timeout"]
            # A served route answers an empty body with 400 (undecodable), not 404.
            answer = client.post(hook["webhook"]["path"], content=b"{}")
            assert answer.status_code == 400, f"{path.name}: {name} has no route"


def test_composite_controller_object_shape() -> None:
    widget, nodes = (controller_object(c) for c in SAMPLE_CONTROLLERS)
    assert widget["spec"]["generateSelector"] is True
    assert widget["spec"]["childResources"] == [
        {"apiVersion": "v1", "resource": "configmaps", "updateStrategy": {"method": "InPlace"}}
    ]
    assert sorted(widget["spec"]["hooks"]) == ["customize", "sync"]
    assert widget["spec"]["hooks"]["sync"]["webhook"]["path"] == "/widget/sync"
    assert nodes["kind"] == "DecoratorController"
    assert nodes["spec"]["resources"] == [
        {
            "apiVersion": "v1",
            "resource": "nodes",
            "labelSelector": {"matchLabels": {"widget": "wanted"}},
        }
    ]


def test_children_follow_their_parent_in_place() -> None:
    """Every child's content follows its parent; the default OnDelete would never update it."""
    for controller in CONTROLLERS:
        spec = controller_object(controller)["spec"]
        for rule in spec.get("childResources", []) + spec.get("attachments", []):
            assert rule["updateStrategy"] == {"method": "InPlace"}, (controller.name, rule)


def test_controller_names_are_unique() -> None:
    names = [c.name for c in CONTROLLERS]
    assert len(names) == len(set(names))


def _example_files() -> list[Path]:
    return sorted((REPO_ROOT / "examples").rglob("*.yaml"))


@pytest.mark.parametrize("path", _example_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_examples_render_and_emit_only_declared_children(path: Path) -> None:
    from hooks.render import find_controller, render
    from hooks.settings import Settings
    from tests.conftest import NOW

    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    parents = [
        d
        for d in documents
        if any(c.parent.key == f"{d['kind']}.{d['apiVersion']}" for c in CONTROLLERS)
    ]
    for parent in parents:
        controller, _ = find_controller([parent], CONTROLLERS)
        answer = render([parent], hook="sync", now=NOW, settings=Settings())
        declared = {child.key for child in controller.children}
        for child in answer.get("children", answer.get("attachments", [])):
            key = f"{child['kind']}.{child['apiVersion']}"
            assert key in declared, f"{controller.name} emits undeclared {key}"


def _undescribed(schema: dict[str, object], path: str) -> list[str]:
    missing = []
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            where = f"{path}.{name}"
            if not sub.get("description"):
                missing.append(where)
            missing += _undescribed(sub, where)
    items = schema.get("items")
    if isinstance(items, dict):
        missing += _undescribed(items, f"{path}[]")
    return missing


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (REPO_ROOT / "crds").glob("*.yaml") if p.name != "kustomization.yaml"),
    ids=lambda p: p.stem,
)
def test_every_spec_field_is_explained(path: Path) -> None:
    """`kubectl explain <kind>.spec...` has something to say for every field a user sets."""
    crd = yaml.safe_load(path.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert _undescribed(schema, "spec") == []
