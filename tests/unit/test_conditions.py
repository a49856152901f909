from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hooks.crdgen import CustomResource, crd_manifest
from hooks.k8s.conditions import Want, condition_of, merge_conditions, rfc3339
from hooks.systems import CUSTOM_RESOURCES
from tests.conftest import NOW


def test_new_conditions_start_now() -> None:
    result = merge_conditions(None, [Want("Ready", True, "Deployed", "ok")], now=NOW, generation=3)
    assert result == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Deployed",
            "message": "ok",
            "lastTransitionTime": "2026-01-15T10:30:00Z",
            "observedGeneration": 3,
        }
    ]


def test_transition_time_kept_while_status_unchanged() -> None:
    first = merge_conditions(None, [Want("Ready", False, "Deploying", "a")], now=NOW, generation=1)
    later = NOW + timedelta(minutes=5)
    same = merge_conditions(first, [Want("Ready", False, "Pending", "b")], now=later, generation=2)
    assert same[0]["lastTransitionTime"] == rfc3339(NOW)
    assert same[0]["reason"] == "Pending"
    flipped = merge_conditions(
        same, [Want("Ready", True, "Deployed", "c")], now=later, generation=2
    )
    assert flipped[0]["lastTransitionTime"] == rfc3339(later)


def test_unknown_status_and_order() -> None:
    result = merge_conditions(
        [{"type": "Other", "status": "True"}],
        [Want("Ready", None, "Pending", ""), Want("Available", False, "ScaledToZero", "")],
        now=NOW,
        generation=None,
    )
    assert [c["type"] for c in result] == ["Ready", "Available"]
    assert result[0]["status"] == "Unknown"
    assert "observedGeneration" not in result[0]


def test_condition_of() -> None:
    status = {"conditions": [{"type": "Ready", "status": "True"}]}
    assert condition_of(status, "Ready") == {"type": "Ready", "status": "True"}
    assert condition_of(status, "Available") is None
    assert condition_of(None, "Ready") is None


METAV1_CONDITION = {
    "type": "object",
    "required": ["lastTransitionTime", "message", "reason", "status", "type"],
    "properties": {
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "message": {"type": "string", "maxLength": 32768},
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
        "reason": {
            "type": "string",
            "maxLength": 1024,
            "minLength": 1,
            "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        },
        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "type": {
            "type": "string",
            "maxLength": 316,
            "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
            r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        },
    },
}
"""metav1.Condition as controller-gen writes it into a CRD, descriptions left out."""


def _without_descriptions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_descriptions(v) for k, v in schema.items() if k != "description"}
    return schema


@pytest.mark.parametrize("resource", CUSTOM_RESOURCES, ids=lambda r: r.kind)
def test_every_crd_condition_is_metav1_condition(resource: CustomResource) -> None:
    root = crd_manifest(resource)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    conditions = root["properties"]["status"]["properties"]["conditions"]
    item = _without_descriptions(conditions["items"])
    assert {**item, "required": sorted(item["required"])} == METAV1_CONDITION
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]


@pytest.mark.parametrize(
    ("kept", "expected"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("yesterday", "2026-01-15T10:30:00Z"),
        ("2026-13-45T99:99:99Z", "2026-01-15T10:30:00Z"),
        (17, "2026-01-15T10:30:00Z"),
    ],
)
def test_a_previous_time_that_is_not_rfc3339_is_replaced(kept: object, expected: str) -> None:
    previous = [{"type": "Ready", "status": "True", "lastTransitionTime": kept}]
    wanted = [Want("Ready", True, "Deployed", "ok")]
    (condition,) = merge_conditions(previous, wanted, now=NOW, generation=1)
    assert condition["lastTransitionTime"] == expected


def test_long_messages_are_cut_to_the_limit() -> None:
    (condition,) = merge_conditions(
        None, [Want("Ready", False, "Bad", "x" * 40000)], now=NOW, generation=1
    )
    assert len(condition["message"]) == 32768


def test_years_before_1000_keep_four_digits() -> None:
    assert rfc3339(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
