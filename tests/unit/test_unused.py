"""Nothing in the InferenceModel package or the router exists only for its tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hooks.inference
from hooks.cli import REPO_ROOT

HOOKS = REPO_ROOT / "hooks"
PACKAGES = ("inference", "router")


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text()) for path in sorted(HOOKS.rglob("*.py"))}


def _used(trees: dict[Path, ast.Module]) -> set[str]:
    """Every name read anywhere in hooks/ (bare, or as an attribute)."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


def _defined(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [name for name in names if not name.startswith("__")]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_level_name_is_used_by_the_project(package: str) -> None:
    trees = _trees()
    used = _used(trees)
    unused = [
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for path, tree in trees.items()
        if path.is_relative_to(HOOKS / package)
        for name in _defined(tree)
        if name not in used
    ]
    assert unused == []


def test_what_the_inference_package_re_exports_is_imported_elsewhere() -> None:
    imported: set[str] = set()
    for path, tree in _trees().items():
        if path.is_relative_to(HOOKS / "inference"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "hooks.inference":
                imported.update(alias.name for alias in node.names)
    own = {"CONTROLLERS", "CUSTOM_RESOURCES"}  # read by hooks/systems.py as attributes
    assert sorted(set(hooks.inference.__all__) - imported - own) == []
