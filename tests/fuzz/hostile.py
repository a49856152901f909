"""Values a tenant can write where no schema checks them, and the shapes they arrive in.

Annotations, labels, observed children and related objects are free text or free JSON
to the API server. These generators produce what a tenant with `kubectl apply` rights
could put there: quantities, times, durations and JSON that parse into huge or
degenerate values, wrong types, long strings, and the ordinary values around them.
Keys are harvested from the systems' own modules, so a new system's annotations are
fuzzed as soon as its constants exist. Every generator takes a `random.Random`, so a
case is its seed.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from random import Random
from types import ModuleType
from typing import Any

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
    "\u00b5s",
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
OTHER_TEXTS = ("", "true", "a,b,,c", "\x00", "x" * 70000, "\u00e9" * 1000, "0" * 64, "a" * 64)
HOSTILE_TEXT = (*QUANTITIES, *TIMES, *DURATIONS, *JSON_TEXTS, *OTHER_TEXTS)
_WORD = "abcdefghijklmnopqrstuvwxyz0123456789"


def chance(rng: Random, one_in: int) -> bool:
    return rng.randrange(one_in) == 0


def word(rng: Random, low: int = 1, high: int = 12, alphabet: str = _WORD) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def dns_label(rng: Random, high: int = 20) -> str:
    """A name most objects can have: leading digits included."""
    if chance(rng, 8):
        return "a" * 63
    text = word(rng, 1, high)
    if len(text) > 2 and chance(rng, 3):
        middle = rng.randrange(1, len(text) - 1)
        text = text[:middle] + "-" + text[middle + 1 :]
    return text


def dns_subdomain(rng: Random) -> str:
    """A name a custom resource can have: dots and leading digits included, up to 253."""
    roll = rng.randrange(6)
    if roll == 0:
        return ".".join(dns_label(rng) for _ in range(rng.randint(2, 4)))[:253].rstrip(".-")
    if roll == 1:
        return ("a" * 62 + ".") * rng.randint(1, 3) + "b"
    return dns_label(rng)


def label_value(rng: Random) -> str:
    roll = rng.randrange(6)
    if roll == 0:
        return ""
    if roll == 1:
        return "v" * 63
    if roll == 2:
        return word(rng, 1, 3) + rng.choice("-_.") + word(rng, 1, 3)
    return word(rng)


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


_OFFSETS = (timedelta(0), timedelta(hours=14), timedelta(hours=-14), timedelta(hours=5))
_SPAN = (datetime(9999, 12, 30, tzinfo=UTC) - datetime(1, 1, 2, tzinfo=UTC)).total_seconds()


def date_time(rng: Random) -> str:
    """An RFC 3339 time the API server accepts as `format: date-time`, any year 0001-9999."""
    if chance(rng, 2):
        moment = NOW - timedelta(seconds=rng.choice((0, 1, 300, 7200, 86400 * 400)))
    else:
        moment = datetime(1, 1, 2, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, _SPAN))
    return (
        rfc3339(moment, rng.choice(_OFFSETS))
        or rfc3339(moment, timedelta(0))
        or "2026-01-15T10:30:00Z"
    )


def text(rng: Random) -> str:
    """Any text: ordinary words, hostile values, times."""
    roll = rng.randrange(4)
    if roll == 0:
        return word(rng, 0, 20, _WORD + "-./")
    if roll == 1:
        return date_time(rng)
    return rng.choice(HOSTILE_TEXT)


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


def annotations(rng: Random, keys: tuple[str, ...]) -> dict[str, str]:
    """Annotations: the systems' own keys and a few others, with hostile values."""
    chosen = (rng.choice((*keys, "example.com/note", "note")) for _ in range(rng.randint(0, 4)))
    return {key: text(rng) for key in chosen}


def labels(rng: Random, keys: tuple[str, ...]) -> dict[str, str]:
    """Labels the API server accepts: qualified keys, label values."""
    chosen = (rng.choice((*keys, "app", "example.com/team")) for _ in range(rng.randint(0, 4)))
    return {key: label_value(rng) for key in chosen}


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
_NUMBERS = (0, 1, 2, -1, 2**31, 2**63 - 1, -(2**63))


def scalar(rng: Random) -> Any:
    roll = rng.randrange(7)
    if roll == 0:
        return None
    if roll == 1:
        return rng.random() < 0.5
    if roll == 2:
        return rng.choice(_NUMBERS)
    if roll == 3:
        return rng.randint(-(2**63), 2**63 - 1)
    if roll == 4:
        return rng.uniform(-1e6, 1e6)
    return text(rng)


def free_json(rng: Random, depth: int = 3) -> Any:
    """JSON where the schema preserves unknown fields: anything, shaped like Kubernetes."""
    roll = rng.randrange(4) if depth > 0 else 0
    if roll == 1:
        return [free_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    if roll == 2:
        return free_object(rng, depth - 1)
    return scalar(rng)


def free_object(rng: Random, depth: int = 2) -> dict[str, Any]:
    return {rng.choice(VOCABULARY): free_json(rng, depth) for _ in range(rng.randint(0, 4))}


def _shaped(rng: Random, fields: dict[str, Callable[[Random], Any]]) -> dict[str, Any]:
    """Each field present or not; a present one is its shape, or sometimes anything."""
    out = {}
    for key, make in fields.items():
        if chance(rng, 2):
            out[key] = free_json(rng, 2) if chance(rng, 5) else make(rng)
    return out


def _quantity_map(rng: Random) -> dict[str, Any]:
    return {key: rng.choice(QUANTITIES) for key in rng.sample(("cpu", "memory"), rng.randint(0, 2))}


def container(rng: Random) -> dict[str, Any]:
    return _shaped(
        rng,
        {
            "name": lambda r: r.choice(("serving", "server", dns_label(r))),
            "image": lambda r: "img:1",
            "env": lambda r: [{"name": word(r), "value": text(r)} for _ in range(r.randint(0, 2))],
            "ports": lambda r: [{"containerPort": r.choice((8000, 0, 70000)), "name": "http"}],
            "resources": lambda r: {"requests": _quantity_map(r), "limits": _quantity_map(r)},
            "readinessProbe": lambda r: {"httpGet": {"path": "/", "port": 8000}},
        },
    )


def pod_template(rng: Random, *, checked: bool = False) -> dict[str, Any]:
    """A pod template with hostile leaves; wrong types in its metadata too unless `checked`
    (the API server has validated the templates of observed Deployments)."""
    pod_metadata = {"labels": lambda q: labels(q, ()), "annotations": lambda q: annotations(q, ())}
    spec = {
        "containers": lambda q: [container(q) for _ in range(q.randint(0, 2))],
        "initContainers": lambda q: [container(q)],
        "volumes": lambda q: [{"name": "v", "emptyDir": {}}],
        "nodeSelector": lambda q: labels(q, ()),
        "affinity": free_object,
        "topologySpreadConstraints": lambda q: [free_object(q)],
    }
    template: dict[str, Any] = {"spec": _shaped(rng, spec)} if chance(rng, 2) else {}
    if checked:
        template["metadata"] = {key: make(rng) for key, make in pod_metadata.items()}
        return template
    return {**template, **_shaped(rng, {"metadata": lambda r: _shaped(r, pod_metadata)})}


def free_value_object(rng: Random) -> dict[str, Any]:
    """An object whose schema preserves unknown fields."""
    return pod_template(rng) if chance(rng, 2) else free_object(rng)


def _counts(rng: Random) -> int:
    return rng.choice((0, 1, 2, 3))


def shaped_spec(rng: Random) -> dict[str, Any]:
    """A spec shaped like a Deployment's or a Node's."""
    return _shaped(
        rng,
        {
            "replicas": _counts,
            "unschedulable": lambda r: r.random() < 0.5,
            "selector": lambda r: {"matchLabels": labels(r, ())},
            "template": lambda r: pod_template(r, checked=True),
        },
    )


def _condition(rng: Random) -> dict[str, Any]:
    return {
        "type": rng.choice(("Progressing", "ReplicaFailure", "Available", "Ready")),
        "status": rng.choice(("True", "False", "Unknown")),
        "reason": word(rng),
        "message": text(rng),
    }


def shaped_status(rng: Random) -> dict[str, Any]:
    """A status shaped like a Deployment's or a Node's, with hostile leaves."""
    return _shaped(
        rng,
        {
            "replicas": _counts,
            "readyReplicas": _counts,
            "availableReplicas": _counts,
            "conditions": lambda r: [_condition(r) for _ in range(r.randint(0, 3))],
            "allocatable": lambda r: {"memory": r.choice(QUANTITIES), "cpu": text(r)},
        },
    )


def last_applied(rng: Random, obj: dict[str, Any]) -> str:
    """What a child's last-applied annotation can hold: itself, or anything else."""
    roll = rng.randrange(3)
    if roll == 0:
        return json.dumps(obj)
    return rng.choice(JSON_TEXTS) if roll == 1 else text(rng)
