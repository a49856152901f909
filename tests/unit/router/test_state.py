from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.inference import (
    LAST_OBSERVATION_ANNOTATION,
    PEAK_MEMORY_ANNOTATION,
    ShortageDetails,
)
from hooks.router.state import UNKNOWN_SHORTAGE, view_of
from tests.unit.router.factory import inference_model, insufficient_message

GI = 1024**3


@pytest.mark.parametrize(
    ("reason", "model", "ready"),
    [
        ("status ready", inference_model(ready=True), True),
        ("status not ready", inference_model(ready=False, reason="ScaledToZero"), False),
        ("no status at all", inference_model(), False),
        (
            "external backend (no containerImage) is always forwarded",
            inference_model(image=None, reason="ExternallyManaged"),
            True,
        ),
        ("a model being deleted is never ready", inference_model(ready=True, deleting=True), False),
    ],
)
def test_readiness(reason: str, model: dict[str, Any], ready: bool) -> None:
    assert view_of(model).ready is ready, reason


def test_view_fields() -> None:
    model = inference_model(
        model="llama-2-7b",
        backend="http://vllm:8000/prefix",
        cooldown="1h30m",
        last_request="2026-01-15T10:00:00Z",
        annotations={
            PEAK_MEMORY_ANNOTATION: "12Gi",
            LAST_OBSERVATION_ANNOTATION: "2026-01-15T09:00:00Z",
        },
    )
    view = view_of(model)
    assert view.key == ("ns", "m")
    assert view.model_name == "llama-2-7b"
    assert view.backend_url == "http://vllm:8000/prefix"
    assert view.cooldown == timedelta(hours=1, minutes=30)
    assert view.last_request == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    assert view.peak_memory == 12 * GI
    assert view.last_observation == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert view.created == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert not view.failed
    assert not view.disabled
    assert view.shortage is None


@pytest.mark.parametrize(
    ("reason", "cooldown", "want"),
    [
        ("default when absent", None, timedelta(minutes=10)),
        ("zero is a duration", "0", timedelta(0)),
        ("invalid falls back to the default", "ten minutes", timedelta(minutes=10)),
        ("seconds", "45s", timedelta(seconds=45)),
    ],
)
def test_cooldown(reason: str, cooldown: str | None, want: timedelta) -> None:
    assert view_of(inference_model(cooldown=cooldown)).cooldown == want, reason


def test_user_edited_annotations_are_ignored_when_unreadable() -> None:
    view = view_of(
        inference_model(
            last_request="yesterday",
            annotations={PEAK_MEMORY_ANNOTATION: "lots", LAST_OBSERVATION_ANNOTATION: ""},
        )
    )
    assert view.last_request is None
    assert view.peak_memory is None
    assert view.last_observation is None


def test_insufficient_memory_details_come_from_the_hooks_message() -> None:
    model = inference_model(
        ready=False, reason="InsufficientMemory", message=insufficient_message()
    )
    assert view_of(model).shortage == ShortageDetails(
        requested="80Gi",
        available="40Gi",
        blocking=("big",),
        budget="128Gi",
        pool="inference-pool=gpu",
    )


def test_insufficient_memory_without_details_is_still_a_shortage() -> None:
    model = inference_model(ready=False, reason="InsufficientMemory", message="edited by hand")
    assert view_of(model).shortage == UNKNOWN_SHORTAGE


def test_insufficient_memory_is_ignored_once_ready() -> None:
    model = inference_model(
        ready=False, reason="InsufficientMemory", message=insufficient_message()
    )
    assert view_of({**model, "status": {**model["status"], "ready": True}}).shortage is None


def test_failed_and_disabled() -> None:
    assert view_of(inference_model(ready=False, reason="Failed", message="Invalid spec")).failed
    assert view_of(inference_model(max_replicas=0, reason="ScaledToZero")).disabled
    assert not view_of(inference_model(max_replicas=0, ready=True)).disabled


@pytest.mark.parametrize(
    "obj",
    [
        {"metadata": {"name": "m"}, "spec": {"containerImage": "x"}, "status": {"conditions": 5}},
        {"metadata": {"name": "m"}, "spec": [], "status": []},
        {"metadata": {"name": "m"}, "status": {"conditions": [5, None, {"type": "Ready"}]}},
        {"metadata": None, "spec": None},
    ],
)
def test_malformed_objects_give_a_view(obj: dict[str, Any]) -> None:
    view_of(obj)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    spec=st.dictionaries(
        st.sampled_from(
            ["modelName", "backendUrl", "cooldownPeriod", "containerImage", "maxReplicas"]
        ),
        json_values,
    ),
    status=st.dictionaries(st.sampled_from(["ready", "conditions"]), json_values),
    annotations=st.dictionaries(
        st.sampled_from([PEAK_MEMORY_ANNOTATION, LAST_OBSERVATION_ANNOTATION]), st.text(max_size=12)
    ),
)
def test_any_object_gives_a_view(
    spec: dict[str, Any], status: dict[str, Any], annotations: dict[str, str]
) -> None:
    obj = {"metadata": {"name": "m", "namespace": "ns", "annotations": annotations}, "spec": spec}
    obj["status"] = status
    try:
        view_of(obj)
    except (TypeError, AttributeError) as error:  # pragma: no cover - the property's failure
        raise AssertionError(f"view_of raised on {obj!r}") from error
