"""Tenant-written values the InferenceModel hooks cannot use: a condition or a warning, never a 500.

A bad value in the parent is reported on the parent (`Ready=False`, the field named,
the Deployment kept); one in another object (a peer's Deployment, a Node, an
annotation written by hand) is ignored with a logged warning, so that it cannot
break the syncs of the other models of its pool.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest

from hooks.contract import CustomizeRequest, DecoratorRequest
from hooks.inference import controller
from hooks.inference.api import (
    LAST_OBSERVATION_ANNOTATION,
    MEMORY_ANNOTATION,
    PEAK_MEMORY_ANNOTATION,
)
from hooks.k8s.conditions import condition_of
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.inference.factory import a100_nodes, deployment, model, node, request

SETTINGS = Settings()
RECENT = NOW - timedelta(minutes=2)
HUGE = "9" * 4301


def sync(req: Any) -> dict[str, Any]:
    return controller.sync(req, now=NOW, settings=SETTINGS).to_json()


def ready(answer: dict[str, Any]) -> tuple[str, str, str]:
    condition = condition_of(answer["status"], "Ready")
    assert condition is not None
    return condition["status"], condition["reason"], condition["message"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (None, "spec: must be an object"),
        ("text", "spec: must be an object"),
        ({"memory": "48Gi"}, "spec.modelName"),
        ({"modelName": "m", "memory": "lots", "backendUrl": "http://m"}, "spec.memory"),
    ],
)
def test_a_spec_that_does_not_parse_is_a_condition_and_keeps_the_children(
    spec: Any, field: str
) -> None:
    good = model("llama", memory="48Gi", last_request=RECENT)
    bad = {**good, "spec": spec}
    answer = sync(request(bad, own=deployment(good), nodes=a100_nodes()))
    status, reason, message = ready(answer)
    assert (status, reason) == ("False", "InvalidSpec")
    assert message.startswith(field)
    assert [c["metadata"]["name"] for c in answer["children"]] == ["llama"]


def test_customize_and_pool_label_of_a_spec_that_does_not_parse() -> None:
    bad = {**model("llama"), "spec": "text"}
    related = controller.customize(
        CustomizeRequest.model_validate({"parent": bad}), now=NOW, settings=SETTINGS
    )
    assert related.related_resources == []
    labels = controller.label_pool(
        DecoratorRequest.model_validate({"object": bad}), now=NOW, settings=SETTINGS
    )
    assert labels.labels == {}


@pytest.mark.parametrize(
    "annotations",
    [
        {PEAK_MEMORY_ANNOTATION: "1e10000000"},
        {PEAK_MEMORY_ANNOTATION: "1e30000000"},
        {PEAK_MEMORY_ANNOTATION: HUGE + "Gi"},
        {"inference.eh-ops.io/last-request-time": "0001-01-01T00:00:00+14:00"},
        {"inference.eh-ops.io/last-request-time": "9999-12-31T23:59:59Z"},
        {LAST_OBSERVATION_ANNOTATION: "0001-01-01T00:00:00+14:00"},
    ],
)
def test_hostile_annotations_answer_fast(annotations: dict[str, str]) -> None:
    parent = model("llama", memory="48Gi", annotations=annotations)
    started = time.perf_counter()
    answer = sync(request(parent, nodes=a100_nodes()))
    assert time.perf_counter() - started < 0.5
    assert ready(answer)[0] in ("True", "False")


def test_an_extreme_peak_gives_a_bounded_utilization() -> None:
    parent = model("llama", memory="1Ki", annotations={PEAK_MEMORY_ANNOTATION: "1e30"})
    status = sync(request(parent, nodes=a100_nodes()))["status"]
    assert status["utilizationPercent"] < 2**63


def test_a_peer_or_node_with_an_unreadable_quantity_is_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    peer = model("mixtral", memory="16Gi", last_request=RECENT)
    claim = deployment(peer)
    claim["metadata"]["annotations"][MEMORY_ANNOTATION] = HUGE + "Gi"
    nodes = [*a100_nodes(), node("odd", budget=HUGE)]
    parent = model("llama", memory="16Gi", last_request=RECENT)
    with caplog.at_level(logging.WARNING):
        answer = sync(request(parent, peers=[peer], nodes=nodes, deployments=[claim]))
    assert answer["children"][0]["spec"]["replicas"] == 1
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "memory" in messages
