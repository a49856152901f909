"""The shape of the user's pod template, checked before anything is built from it.

`deployment.template` is a core/v1 PodTemplateSpec the CRD keeps as free JSON (the
API server validates it on the Deployment built from it, not on the AIDeployment),
so any field can have any type. The builders read a few of its fields; each is
checked here, and a wrong type is a `SpecError` naming the field, reported in
`Ready` while the existing children stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hooks.k8s.names import is_label_value, is_qualified_name

from .api import REASON_INVALID_SPEC
from .engines import SpecError

ROOT = "spec.deployment.template"
_MAPS = ("metadata", "spec", "spec.affinity", "spec.affinity.nodeAffinity")
_STRING_MAPS = ("metadata.labels", "metadata.annotations", "spec.nodeSelector")
_LABEL_MAPS = ("metadata.labels", "spec.nodeSelector")
_LISTS = (
    "spec.containers",
    "spec.initContainers",
    "spec.volumes",
    "spec.topologySpreadConstraints",
)
_REQUIRED = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
_CONTAINER_LISTS = ("env", "ports")
_CONTAINER_MAPS = ("resources", "resources.requests", "resources.limits")


def check_template(template: Mapping[str, Any] | None) -> None:
    """Raise SpecError for the first field of the template the builders cannot read."""
    if template is None:
        return
    for path in _MAPS:
        _expect(template, path, dict, "an object")
    for path in _STRING_MAPS:
        value = _expect(template, path, dict, "a map of strings")
        if value and not all(isinstance(v, str) for v in value.values()):
            raise _error(path, "a map of strings")
    for path in _LABEL_MAPS:
        for key, value in (_at(template, path) or {}).items():
            if not (is_qualified_name(key) and is_label_value(value)):
                raise _error(path, f"labels (not {key}={value})"[:200])
    for path in _LISTS:
        items = _expect(template, path, list, "a list of objects")
        if items and not all(isinstance(item, dict) for item in items):
            raise _error(path, "a list of objects")
    required = _expect(template, _REQUIRED, dict, "an object")
    terms = _expect(required or {}, "nodeSelectorTerms", list, "a list of objects")
    for index, term in enumerate(terms or ()):
        where = f"{_REQUIRED}.nodeSelectorTerms[{index}]"
        if not isinstance(term, dict):
            raise _error(where, "an object")
        if not isinstance(term.get("matchExpressions") or [], list):
            raise _error(f"{where}.matchExpressions", "a list")
    for index, container in enumerate(_at(template, "spec.containers") or ()):
        _check_container(container, f"spec.containers[{index}]")


def _check_container(container: Mapping[str, Any], where: str) -> None:
    for path in _CONTAINER_LISTS:
        items = _expect(container, path, list, "a list of objects", where)
        if items and not all(isinstance(item, dict) for item in items):
            raise _error(f"{where}.{path}", "a list of objects")
    for path in _CONTAINER_MAPS:
        _expect(container, path, dict, "an object", where)
    for index, variable in enumerate(container.get("env") or ()):
        if not isinstance(variable.get("name", ""), str):
            raise _error(f"{where}.env[{index}].name", "a string")
    for index, port in enumerate(container.get("ports") or ()):
        number = port.get("containerPort")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            raise _error(f"{where}.ports[{index}].containerPort", "a number")


def _at(value: Any, path: str) -> Any:
    for step in path.split("."):
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _expect(root: Mapping[str, Any], path: str, kind: type, what: str, where: str = "") -> Any:
    """The value at path when it is absent (None) or of the kind, else SpecError."""
    parent, _, last = path.rpartition(".")
    holder = _at(root, parent) if parent else root
    value = holder.get(last) if isinstance(holder, Mapping) else None
    if value is not None and not isinstance(value, kind):
        raise _error(f"{where}.{path}" if where else path, what)
    return value


def _error(path: str, what: str) -> SpecError:
    return SpecError(REASON_INVALID_SPEC, f"{ROOT}.{path} must be {what}")
