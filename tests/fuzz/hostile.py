"""Values a tenant can write where no schema checks them, and the shapes they arrive in.

Annotations, labels, observed children and related objects are free text or free JSON
to the API server. These strategies produce what a tenant with `kubectl apply` rights
could put there: quantities, times, durations and JSON that parse into huge or
degenerate values, wrong types, long strings, and the ordinary values around them.
Keys are harvested from the systems' own modules, so a new system's annotations are
fuzzed as soon as its constants exist.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

from hooks.contract import LAST_APPLIED
from hooks.registry import Controller

NOW = datetime(2026, 1, 15, 10, 30, 0, tzinfo=UTC)
"""The app's clock in the fuzz: hostile times are placed around it."""

QUALIFIED_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)

QUANTITIES = (
    "1e10000000",
    "1e30000000",
    "1e-10000000",
    "-1e10000000",
    "9" * 4301 + "Gi",
    "9" * 4301,
    "0." + "0" * 5000 + "1",
    "1e30",
    "1e2147483648",
    "9223372036854775808",
    "9223372036854775807Ei",
    "1Ki",
    "0",
    "-1",
    "-16Gi",
    "80Gi",
    "48Gi",
    "500m",
    "0.5",
    ".5",
    "1.",
    "1e3",
    "1E-3",
    "+2",
    " 1Gi ",
    "1 Gi",
    "\u0661\u0662Gi",
    "1iB",
    "NaN",
    "Infinity",
    "",
)
TIMES = (
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "2026-01-15T10:29:59Z",
    "2026-01-15T10:30:00.123456789Z",
    "2026-01-15T10:30:00",
    "2026-01-15",
    "2026-13-45T99:99:99Z",
    "1970-01-01T00:00:00Z",
    "2026-01-15T10:30:00z",
    "not a time",
    "9" * 5000,
)
DURATIONS = (
    "0",
    "1e9h",
    "9999999999999h",
    "2562047h47m16.854775807s",
    "2562048h",
    "9" * 4301 + "s",
    "-1s",
    "1.s",
    ".5m",
    "1h1h1h1h",
    "10m",
    "0s",
    "µs",
)
JSON_TEXTS = (
    '{"apiVersion":"v1"}',
    '{"apiVersion":"apps/v1","kind":"Deployment"}',
    '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"elsewhere"}}',
    '{"apiVersion":"apps/v1","kind":"Deployment","metadata":"x"}',
    "[",
    "[]",
    "null",
    '"text"',
    "{}",
    "1e400",
    "[" * 100000 + "]" * 100000,
    '{"a":' * 5000 + "1" + "}" * 5000,
)
OTHER_TEXTS = (
    "",
    "true",
    "a,b,,c",
    "\x00",
    "x" * 70000,
    "é" * 1000,
    "0" * 64,
    "a" * 64,
)
HOSTILE_TEXT = (*QUANTITIES, *TIMES, *DURATIONS, *JSON_TEXTS, *OTHER_TEXTS)

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
dns_labels = st.from_regex(rf"\A{_DNS_LABEL}\Z").filter(lambda s: len(s) <= 63)
"""Names a namespace (or most other objects) can have."""


def _subdomain(parts: list[str]) -> str:
    return ".".join(parts)[:253].rstrip(".-")


dns_subdomains = st.one_of(
    dns_labels,
    st.lists(dns_labels, min_size=2, max_size=5).map(_subdomain),
    st.builds(lambda n: ("a" * 62 + ".") * n + "b", st.integers(1, 4)),
).filter(lambda s: bool(s) and len(s) <= 253 and re.fullmatch(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*", s))
"""Names a custom resource can have: leading digits and dots included, up to 253."""

label_values = st.one_of(
    st.just(""),
    st.from_regex(r"\A([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]\Z").filter(
        lambda s: len(s) <= 63
    ),
)


def rfc3339(moment: datetime, offset: timedelta) -> str | None:
    """RFC 3339 text of a moment shown at an offset, when the local time is representable."""
    try:
        local = (moment + offset).replace(tzinfo=None)
    except OverflowError:
        return None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    zone = "Z" if minutes == 0 else f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{local.year:04d}-{local:%m-%dT%H:%M:%S}{zone}"


date_times = st.builds(
    rfc3339,
    st.one_of(
        # hypothesis takes naive bounds and attaches the zone itself.
        st.datetimes(
            min_value=datetime(1, 1, 2),  # noqa: DTZ001
            max_value=datetime(9999, 12, 30),  # noqa: DTZ001
            timezones=st.just(UTC),
        ),
        st.sampled_from((NOW, NOW - timedelta(minutes=5), NOW - timedelta(hours=2))),
    ),
    st.sampled_from((timedelta(0), timedelta(hours=14), timedelta(hours=-14), timedelta(hours=5))),
).filter(lambda s: s is not None)
"""RFC 3339 times the API server accepts as `format: date-time`, every year 0001-9999."""


def harvested_keys(controllers: Iterable[Controller]) -> tuple[str, ...]:
    """Every qualified label or annotation key named by a constant of the systems' modules."""
    packages = {c.sync.__module__.split(".")[1] for c in controllers}
    found = {LAST_APPLIED}
    for package in sorted(packages):
        for module in _modules(importlib.import_module(f"hooks.{package}")):
            for value in vars(module).values():
                if isinstance(value, str) and "/" in value and QUALIFIED_KEY.match(value):
                    found.add(value)
    return tuple(sorted(found))


def _modules(package: ModuleType) -> list[ModuleType]:
    modules = [package]
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), package.__name__ + "."):
        modules.append(importlib.import_module(info.name))
    return modules


def texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text: ordinary words, hostile values, or a long run."""
    return st.one_of(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./", max_size=max_size),
        st.sampled_from(HOSTILE_TEXT),
        date_times,
    )


def annotation_maps(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    """Annotations: the systems' own keys and a few others, with hostile values."""
    key = st.one_of(st.sampled_from(keys), st.sampled_from(("example.com/note", "note")))
    return st.dictionaries(key, texts(), max_size=4)


def label_maps(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    """Labels the API server accepts: qualified keys, label values."""
    key = st.one_of(st.sampled_from(keys), st.sampled_from(("app", "example.com/team")))
    return st.dictionaries(key, label_values, max_size=4)


VOCABULARY = (
    "metadata",
    "labels",
    "annotations",
    "name",
    "namespace",
    "spec",
    "status",
    "template",
    "containers",
    "initContainers",
    "image",
    "env",
    "value",
    "ports",
    "containerPort",
    "resources",
    "requests",
    "limits",
    "memory",
    "cpu",
    "nvidia.com/gpu",
    "volumes",
    "nodeSelector",
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
    "matchExpressions",
    "topologySpreadConstraints",
    "replicas",
    "readyReplicas",
    "availableReplicas",
    "conditions",
    "type",
    "reason",
    "message",
    "allocatable",
    "capacity",
    "unschedulable",
    "readinessProbe",
    "startupProbe",
    "livenessProbe",
    "args",
    "command",
)
"""Kubernetes field names, so that random JSON often lands where a hook reads."""

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from((0, 1, 2, -1, 2**31, 2**63 - 1, 10**30)),
    st.floats(allow_nan=False, allow_infinity=False),
    texts(),
)
free_json: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(VOCABULARY), inner, max_size=4),
    ),
    max_leaves=24,
)
"""JSON where the schema preserves unknown fields: anything, shaped like Kubernetes."""


def _shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


_CONTAINER = _shaped(
    {
        "name": st.one_of(st.just("serving"), dns_labels, free_json),
        "image": st.one_of(st.just("img:1"), free_json),
        "env": free_json,
        "ports": st.one_of(
            st.lists(_shaped({"containerPort": free_json, "name": free_json}), max_size=2),
            free_json,
        ),
        "resources": st.one_of(
            _shaped(
                {
                    "requests": st.dictionaries(
                        st.sampled_from(("cpu", "memory")), st.sampled_from(QUANTITIES)
                    ),
                    "limits": free_json,
                }
            ),
            free_json,
        ),
        "readinessProbe": free_json,
    }
)
pod_templates = _shaped(
    {
        "metadata": st.one_of(_shaped({"labels": free_json, "annotations": free_json}), free_json),
        "spec": st.one_of(
            _shaped(
                {
                    "containers": st.one_of(st.lists(_CONTAINER, max_size=2), free_json),
                    "initContainers": free_json,
                    "volumes": free_json,
                    "nodeSelector": free_json,
                    "affinity": free_json,
                    "topologySpreadConstraints": free_json,
                }
            ),
            free_json,
        ),
    }
)
"""A pod template with hostile leaves and wrong types where it is free JSON."""
free_objects = st.one_of(
    pod_templates, st.dictionaries(st.sampled_from(VOCABULARY), free_json, max_size=4)
)
"""An object whose schema preserves unknown fields."""
shaped_spec = _shaped(
    {
        "replicas": st.one_of(st.integers(0, 3), free_json),
        "unschedulable": free_json,
        "selector": free_json,
        "template": st.one_of(pod_templates, free_json),
    }
)
"""A spec shaped like a Deployment's or a pod template's, with hostile leaves."""

_CONDITION = _shaped(
    {
        "type": st.sampled_from(("Progressing", "ReplicaFailure", "Available", "Ready")),
        "status": st.sampled_from(("True", "False", "Unknown")),
        "reason": texts(),
        "message": texts(),
    }
)
shaped_status = _shaped(
    {
        "replicas": st.one_of(st.integers(0, 3), free_json),
        "readyReplicas": st.one_of(st.integers(0, 3), free_json),
        "availableReplicas": st.one_of(st.integers(0, 3), free_json),
        "conditions": st.one_of(st.lists(_CONDITION, max_size=3), free_json),
        "allocatable": st.one_of(
            _shaped({"memory": st.sampled_from(QUANTITIES), "cpu": texts()}), free_json
        ),
        "ready": free_json,
    }
)
"""A status shaped like a Deployment's or a Node's, with hostile leaves."""


def last_applied_texts(obj: dict[str, Any]) -> st.SearchStrategy[str]:
    """What a child's last-applied annotation can hold: itself, or anything else."""
    return st.one_of(st.just(json.dumps(obj)), st.sampled_from(JSON_TEXTS), texts())
