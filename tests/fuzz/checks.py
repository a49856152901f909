"""What every hook answer must be for Metacontroller and the API server to take it.

Each check returns the problems it finds as sentences (empty when the answer is
right): only fields Metacontroller v2 decodes; a status the parent's CRD keeps
whole (a pruned or rejected field makes Metacontroller loop); children that the
API server accepts as objects (kind, apiVersion, a valid name for the kind, the
parent's namespace, valid labels and annotations); finite resync periods.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import jsonschema

from hooks.registry import Controller

RESPONSE_FIELDS = {
    "CompositeController": {"status", "children", "resyncAfterSeconds", "finalized"},
    "DecoratorController": {
        "labels",
        "annotations",
        "status",
        "attachments",
        "resyncAfterSeconds",
        "finalized",
    },
    "customize": {"relatedResources"},
}
RULE_FIELDS = {"apiVersion", "resource", "labelSelector", "namespaceSelector", "namespace", "names"}
SELECTOR_FIELDS = {"matchLabels", "matchExpressions"}
INT64 = (-(2**63), 2**63 - 1)
ANNOTATIONS_MAX = 256 * 1024

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(rf"{_LABEL}")
DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
NAME_RULES = {"Service": (DNS_1035, 63), "Namespace": (DNS_LABEL, 63)}
"""Kinds whose names are labels; every other kind's name is a DNS subdomain."""


def valid_name(kind: str, name: object) -> bool:
    rule, limit = NAME_RULES.get(kind, (DNS_SUBDOMAIN, 253))
    return isinstance(name, str) and len(name) <= limit and rule.fullmatch(name) is not None


def qualified_key(key: object) -> bool:
    """A label or annotation key: an optional DNS subdomain prefix and a 63-character name."""
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and _NAME_PART.fullmatch(name) is not None


def label_value(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _LABEL_VALUE.fullmatch(value) is not None


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"
    if not re.fullmatch(pattern, value, flags=re.IGNORECASE):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_date_time)
FORMATS.checks("int32")(lambda v: not isinstance(v, int) or -(2**31) <= v < 2**31)
FORMATS.checks("int64")(lambda v: not isinstance(v, int) or INT64[0] <= v <= INT64[1])


def closed(schema: Any) -> Any:
    """A CRD schema as JSON Schema that forbids unknown properties (what pruning drops)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    out.pop("nullable", None)
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    for bound in ("Minimum", "Maximum"):
        if out.get(f"exclusive{bound}") is True:
            out[f"exclusive{bound}"] = out.pop(bound.lower())
    if "properties" in out:
        out["properties"] = {k: closed(v) for k, v in schema["properties"].items()}
        out["additionalProperties"] = False
    if schema.get("x-kubernetes-int-or-string"):
        return {"type": ["integer", "string"]}
    return out


def _numbers(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        yield f"{path or 'value'} = {value} is beyond int64"
    elif isinstance(value, float) and not math.isfinite(value):
        yield f"{path or 'value'} is not finite"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{path}[{index}]")


def check_answer(
    controller: Controller,
    hook: str,
    parent: Mapping[str, Any],
    answer: Any,
    status_schema: dict[str, Any] | None,
) -> list[str]:
    """Problems of a 200 answer to `hook` of `controller` for `parent`."""
    if not isinstance(answer, dict):
        return [f"the answer is {type(answer).__name__}, not an object"]
    allowed = RESPONSE_FIELDS["customize" if hook == "customize" else controller.kind]
    problems = [f"field {key!r} is not in the v2 response" for key in sorted(set(answer) - allowed)]
    problems += list(_numbers(answer))
    if hook == "customize":
        return problems + _rules(answer.get("relatedResources"))
    resync = answer.get("resyncAfterSeconds")
    if resync is not None and not (isinstance(resync, int | float) and 0 <= resync < 2**31):
        problems.append(f"resyncAfterSeconds {resync!r}")
    status = answer.get("status")
    if status is not None:
        if status_schema is None:
            problems.append("a status for a kind without a status schema")
        else:
            problems += [
                f"status{_where(e.absolute_path)}: {e.message[:300]}"
                for e in jsonschema.Draft202012Validator(
                    status_schema, format_checker=FORMATS
                ).iter_errors(status)
            ]
    if controller.kind == "DecoratorController":
        problems += _decorations(answer)
        field = "attachments"
    else:
        field = "children"
    problems += _children(controller, parent, answer.get(field))
    return problems


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _rules(rules: Any) -> list[str]:
    problems = []
    for rule in rules or []:
        problems += [f"related rule field {k!r}" for k in sorted(set(rule) - RULE_FIELDS)]
        for field in ("labelSelector", "namespaceSelector"):
            selector = rule.get(field) or {}
            problems += [f"{field} field {k!r}" for k in sorted(set(selector) - SELECTOR_FIELDS)]
            for key, value in (selector.get("matchLabels") or {}).items():
                if not (qualified_key(key) and label_value(value)):
                    problems.append(f"{field} matchLabels {key!r}={value!r} is not a label")
        if rule.get("names") is not None and rule.get("labelSelector") is not None:
            problems.append("a related rule has both names and a labelSelector")
    return problems


def _decorations(answer: Mapping[str, Any]) -> list[str]:
    problems = []
    for key, value in (answer.get("labels") or {}).items():
        if not qualified_key(key) or not (value is None or label_value(value)):
            problems.append(f"label {key!r}={value!r} is not a valid label")
    for key in answer.get("annotations") or {}:
        if not qualified_key(key):
            problems.append(f"annotation key {key!r} is not a qualified name")
    return problems


def _children(controller: Controller, parent: Mapping[str, Any], children: Any) -> list[str]:
    if not isinstance(children, list):
        return [f"children is {type(children).__name__}"]
    kinds = {(c.api_version, c.kind) for c in controller.children}
    namespace = (parent.get("metadata") or {}).get("namespace")
    problems: list[str] = []
    seen: set[tuple[Any, ...]] = set()
    for child in children:
        problems += _child(child, kinds, namespace)
        meta = child.get("metadata") if isinstance(child, dict) else None
        if isinstance(meta, dict):
            identity = (child.get("kind"), meta.get("namespace"), meta.get("name"))
            if identity in seen:
                problems.append(f"child {identity} appears twice")
            seen.add(identity)
    return problems


def _child(child: Any, kinds: set[tuple[str, str]], namespace: str | None) -> list[str]:
    if not isinstance(child, dict):
        return [f"a child is {type(child).__name__}"]
    kind, api_version, meta = child.get("kind"), child.get("apiVersion"), child.get("metadata")
    if (api_version, kind) not in kinds:
        return [f"child of kind {api_version!r} {kind!r} is not a child kind of the controller"]
    if not isinstance(meta, dict):
        return [f"{kind} has no metadata"]
    name = meta.get("name")
    problems = []
    if not valid_name(str(kind), name):
        problems.append(f"{kind} name {name!r} is not valid for the kind")
    if meta.get("namespace") not in (None, namespace):
        problems.append(f"{kind} {name} is in namespace {meta.get('namespace')!r}")
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    spec = child.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    pod_meta = template.get("metadata") if isinstance(template, dict) else None
    pod_labels = (pod_meta.get("labels") or {}) if isinstance(pod_meta, dict) else {}
    for where, found in (
        ("labels", labels),
        ("pod labels", pod_labels),
        ("annotations", annotations),
    ):
        if not isinstance(found, dict):
            return [*problems, f"{kind} {name}: {where} is not a map"]
    for key, value in [*labels.items(), *pod_labels.items()]:
        if not (qualified_key(key) and label_value(value)):
            problems.append(f"{kind} {name}: label {key!r}={value!r} is not valid")
    for key, value in annotations.items():
        if not qualified_key(key) or not isinstance(value, str):
            problems.append(f"{kind} {name}: annotation {key!r} is not valid")
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX:
        problems.append(f"{kind} {name}: annotations are {size} bytes")
    return problems
