"""Every field a tenant writes is bounded in its CRD, and the hooks' parsers agree with it.

A new system's CRD is held to the same rule as soon as it is listed in
`hooks.systems`: every string has a maxLength (or an enum), every list a maxItems,
every map a maxProperties, so no single object can make a hook do unbounded work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.crdgen import CustomResource, crd_manifest
from hooks.inference.api import DURATION_PATTERN, INFERENCE_MODELS
from hooks.inference.demand import parse_duration
from hooks.k8s.schema import QUALIFIED_NAME
from hooks.systems import CUSTOM_RESOURCES


def unbounded(schema: dict[str, Any], path: str) -> Iterator[str]:
    if "enum" in schema:
        return
    kind = schema.get("type")
    if (kind == "string" or schema.get("x-kubernetes-int-or-string")) and "maxLength" not in schema:
        yield f"{path}: a string without maxLength"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{path}: a list without maxItems"
        yield from unbounded(schema["items"], f"{path}[]")
    for name, sub in (schema.get("properties") or {}).items():
        yield from unbounded(sub, f"{path}.{name}")
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        if "maxProperties" not in schema:
            yield f"{path}: a map without maxProperties"
        yield from unbounded(values, f"{path}{{}}")


def _spec(resource: CustomResource) -> dict[str, Any]:
    root = crd_manifest(resource)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec: dict[str, Any] = root["properties"]["spec"]
    return spec


@pytest.mark.parametrize("resource", CUSTOM_RESOURCES, ids=lambda r: r.kind)
def test_every_spec_field_is_bounded(resource: CustomResource) -> None:
    assert list(unbounded(_spec(resource), "spec")) == []


def _node_selectors(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, sub in (schema.get("properties") or {}).items():
        if name == "nodeSelector":
            yield f"{path}.{name}", sub
        yield from _node_selectors(sub, f"{path}.{name}")
    if "items" in schema:
        yield from _node_selectors(schema["items"], f"{path}[]")


@pytest.mark.parametrize("resource", CUSTOM_RESOURCES, ids=lambda r: r.kind)
def test_node_selector_keys_and_values_are_labels(resource: CustomResource) -> None:
    for path, schema in _node_selectors(_spec(resource), "spec"):
        rules = [v["rule"] for v in schema.get("x-kubernetes-validations", [])]
        assert any("matches(" in rule for rule in rules), f"{path}: keys are not checked"
        assert schema["additionalProperties"]["maxLength"] == 63, path
        assert "pattern" in schema["additionalProperties"], path


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("inference-pool", True),
        ("example.com/pool", True),
        ("kubernetes.io/os", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("-pool", False),
        ("Example.com/pool", False),
        ("example.com/", False),
        ("a/b/c", False),
        ("", False),
    ],
)
def test_the_label_key_rule(key: str, valid: bool) -> None:
    assert bool(re.match(QUALIFIED_NAME, key)) is valid


def _cooldown() -> dict[str, Any]:
    schema: dict[str, Any] = _spec(INFERENCE_MODELS)["properties"]["cooldownPeriod"]
    return schema


def test_the_duration_schema_bounds_length_and_range() -> None:
    schema = _cooldown()
    assert schema["pattern"] == DURATION_PATTERN
    assert schema["maxLength"] == 64
    assert schema["x-kubernetes-validations"][0]["rule"] == "duration(self) >= duration('0s')"


@given(st.from_regex(DURATION_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 64))
def test_what_the_pattern_accepts_the_parser_reads(text: str) -> None:
    # The range past int64 nanoseconds is the CEL rule's, as it is Go's.
    if parse_duration(text) is None:
        assert _total_seconds(text) > (2**63 - 1) / 10**9


@given(st.text(alphabet="0123456789.nsuµμmh+-e ", max_size=20))
def test_what_the_parser_reads_the_pattern_accepts(text: str) -> None:
    if parse_duration(text) is not None:
        assert re.fullmatch(DURATION_PATTERN, text)


@pytest.mark.parametrize(
    "text", ["1.s", ".5m", "1h1h", "0", "1µs", "1μs", "2562047h47m16.854775807s"]
)
def test_go_durations_are_accepted_by_both(text: str) -> None:
    assert re.fullmatch(DURATION_PATTERN, text)
    assert parse_duration(text) is not None


@pytest.mark.parametrize("text", ["-1s", "+1s", "1", "00", "1e3s", "1 s", "", "1d"])
def test_what_go_refuses_both_refuse(text: str) -> None:
    assert not re.fullmatch(DURATION_PATTERN, text)
    assert parse_duration(text) is None


_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def _total_seconds(text: str) -> float:
    terms = re.findall(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)", text)
    return sum(float(number) * _UNIT[unit] for number, unit in terms)
