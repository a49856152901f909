from datetime import timedelta

from hooks.k8s.conditions import Want, condition_of, merge_conditions, rfc3339
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
