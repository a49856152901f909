import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.k8s.names import (
    child_name,
    is_dns_label,
    is_qualified_name,
    label_value,
    service_name,
    stable_hash,
)


def test_short_names_are_joined() -> None:
    assert child_name("llama", "model") == "llama-model"
    assert child_name("llama", "") == "llama"


def test_long_names_are_cut_with_a_stable_hash() -> None:
    long = "a" * 80
    name = child_name(long, "storage")
    assert len(name) == 63
    assert name.endswith("-" + stable_hash(f"{long}-storage"))
    assert name == child_name(long, "storage")
    assert name != child_name(long, "service")


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,250}[a-z0-9])?", fullmatch=True))
def test_child_names_are_dns_labels(name: str) -> None:
    assert is_dns_label(child_name(name, "x"))


def test_label_values() -> None:
    assert label_value("llama-2-70b") == "llama-2-70b"
    assert label_value("org/model:v1") == "org-model-v1"
    assert len(label_value("x" * 100)) == 63


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("llama",), "llama"),
        (("llama", "svc"), "llama-svc"),
        (("1llama",), f"svc-1llama-{stable_hash('1llama')}"),
        (("a.b",), f"a-b-{stable_hash('a.b')}"),
    ],
)
def test_service_names_are_rfc_1035_labels(parts: tuple[str, ...], expected: str) -> None:
    assert service_name(*parts) == expected


@given(st.from_regex(r"\A[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z"))
def test_any_resource_name_gives_a_valid_service_name(name: str) -> None:
    result = service_name(name)
    assert len(result) <= 63
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", result)


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("example.com/pool", True),
        ("premlabs.io/gpu-class", True),
        ("9999-12-31T23:59:59-14:00", False),
        ("a b", False),
        ("Example.com/x", False),
        ("/x", False),
        ("x/", False),
        ("a" * 64, False),
    ],
)
def test_qualified_names(key: str, valid: bool) -> None:
    assert is_qualified_name(key) is valid
