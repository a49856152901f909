import json
from typing import Any

import pytest

from hooks.router import errors
from hooks.router.config import RouterConfig
from hooks.router.decide import Decision, Forward, Hold, decide, timed_out
from hooks.router.errors import Rejection
from hooks.router.state import view_of
from tests.unit.router.factory import inference_model, insufficient_message

CONFIG = RouterConfig(
    max_queue=2, retry_after_seconds=7, insufficient_memory_retry_after_seconds=45
)


def _reason(decision: Decision) -> str:
    if isinstance(decision, Rejection):
        return f"{decision.status} {decision.reason}"
    return type(decision).__name__


@pytest.mark.parametrize(
    ("reason", "model", "waiting", "queued", "want"),
    [
        ("unknown model", None, 0, False, "404 model_not_found"),
        ("model being deleted", inference_model(deleting=True), 0, False, "404 model_not_found"),
        ("ready model", inference_model(ready=True), 0, False, "Forward"),
        ("ready even with a full queue", inference_model(ready=True), 9, False, "Forward"),
        ("at zero", inference_model(ready=False, reason="ScaledToZero"), 0, False, "Hold"),
        ("deploying", inference_model(ready=False, reason="Deploying"), 1, False, "Hold"),
        ("waiting on dependencies", inference_model(reason="Pending"), 0, False, "Hold"),
        (
            "queue full",
            inference_model(ready=False, reason="Deploying"),
            2,
            False,
            "429 queue_full",
        ),
        ("already queued", inference_model(ready=False, reason="Deploying"), 2, True, "Hold"),
        (
            "insufficient memory",
            inference_model(reason="InsufficientMemory", message=insufficient_message()),
            0,
            False,
            "429 insufficient_memory",
        ),
        (
            "failed",
            inference_model(reason="Failed", message="Dependency cycle"),
            0,
            False,
            "503 model_failed",
        ),
        (
            "maxReplicas 0",
            inference_model(max_replicas=0, reason="ScaledToZero"),
            0,
            False,
            "503 model_disabled",
        ),
    ],
)
def test_decide(
    reason: str, model: dict[str, Any] | None, waiting: int, queued: bool, want: str
) -> None:
    view = view_of(model) if model is not None else None
    decision = decide(view, "llama", waiting=waiting, queued=queued, config=CONFIG)
    assert _reason(decision) == want, reason


def test_forward_goes_to_the_backend_url() -> None:
    view = view_of(inference_model(backend="http://vllm:8000", ready=True))
    # A bare Service name is sent fully qualified, so DNS search lists cannot widen it.
    assert decide(view, "llama", waiting=0, queued=False, config=CONFIG) == Forward(
        "http://vllm.ns.svc:8000"
    )
    assert isinstance(
        decide(view_of(inference_model()), "llama", waiting=0, queued=False, config=CONFIG), Hold
    )


def test_insufficient_memory_answer_keeps_the_original_proxys_shape() -> None:
    view = view_of(inference_model(reason="InsufficientMemory", message=insufficient_message()))
    decision = decide(view, "llama", waiting=0, queued=False, config=CONFIG)
    assert isinstance(decision, Rejection)
    assert decision.retry_after == 45
    assert (b"retry-after", b"45") in decision.headers()
    error = json.loads(decision.body())["error"]
    assert error["type"] == error["code"] == "insufficient_memory"
    assert error["details"] == {"requested": "80Gi", "available": "40Gi", "blocking": ["big"]}
    assert "80Gi" in error["message"]
    assert "40Gi" in error["message"]


def test_rejections_that_can_be_retried_say_when() -> None:
    full = decide(view_of(inference_model()), "llama", waiting=2, queued=False, config=CONFIG)
    assert isinstance(full, Rejection)
    assert full.retry_after == 7
    late = timed_out(
        view_of(inference_model(reason="Deploying", message="1/0")),
        "llama",
        waited=30,
        config=CONFIG,
    )
    assert (late.status, late.reason, late.retry_after) == (503, errors.WAKE_TIMEOUT, 7)
    assert "30s" in late.message
    assert "Deploying" in late.message


def test_unknown_model_is_an_openai_error() -> None:
    decision = decide(None, "gpt-5", waiting=0, queued=False, config=CONFIG)
    assert isinstance(decision, Rejection)
    assert json.loads(decision.body()) == {
        "error": {
            "message": "The model 'gpt-5' does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert decision.retry_after is None
    assert decision.headers() == [(b"content-type", b"application/json")]
