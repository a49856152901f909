"""The InsufficientMemory message round-trips into the router's 429 details."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hooks.inference import REASON_INSUFFICIENT_MEMORY, ShortageDetails, shortage_of
from hooks.inference.budget import Shortage
from hooks.inference.shortage import parse_shortage, shortage_message

GI = 1024**3


def test_message_and_details() -> None:
    shortage = Shortage(48 * GI, 32 * GI, 80 * GI, (("ml/llama", 48 * GI), ("ai/x", GI // 2)))
    message = shortage_message(
        shortage, pool="inference-pool=gpu-a100", name_of=lambda k: k.removeprefix("ml/")
    )
    assert message == (
        "Insufficient memory in pool inference-pool=gpu-a100: requested 48Gi, "
        "available 32Gi of 80Gi; blocking: llama (48Gi), ai/x (512Mi)"
    )
    status = {
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": REASON_INSUFFICIENT_MEMORY,
                "message": message,
            }
        ]
    }
    details = shortage_of(status)
    assert details == ShortageDetails(
        "48Gi", "32Gi", ("llama", "ai/x"), budget="80Gi", pool="inference-pool=gpu-a100"
    )
    assert details.to_json() == {
        "requested": "48Gi",
        "available": "32Gi",
        "blocking": ["llama", "ai/x"],
    }


def test_not_a_shortage() -> None:
    assert shortage_of(None) is None
    assert shortage_of({"conditions": [{"type": "Ready", "reason": "Deployed"}]}) is None
    assert parse_shortage("Deployment is ready and serving traffic") is None
    empty = Shortage(96 * GI, 0, 0, ())
    parsed = parse_shortage(shortage_message(empty, pool="(every node)", name_of=str))
    assert parsed is not None
    assert parsed.blocking == ()
    assert parsed.available == "0"


@given(
    requested=st.integers(0, 2**45),
    available=st.integers(0, 2**45),
    blocking=st.lists(st.from_regex(r"([a-z0-9-]{1,10}/)?[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)),
    pool=st.from_regex(r"[a-z./-]{1,20}=[a-z0-9.-]{0,10}(,[a-z]{1,5}=[a-z]{1,5})?", fullmatch=True),
)
def test_round_trip(requested: int, available: int, blocking: list[str], pool: str) -> None:
    shortage = Shortage(requested, available, 2**46, tuple((b, GI) for b in blocking))
    parsed = parse_shortage(shortage_message(shortage, pool=pool, name_of=str))
    assert parsed is not None
    assert parsed.blocking == tuple(blocking)
    assert parsed.pool == pool
