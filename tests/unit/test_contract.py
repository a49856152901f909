import json

import pytest
from pydantic import ValidationError

from hooks.contract import (
    LAST_APPLIED,
    CompositeRequest,
    CompositeResponse,
    CustomizeResponse,
    DecoratorRequest,
    DecoratorResponse,
    KeptChildError,
    LabelSelector,
    RelatedResourceRule,
    resource_key,
)

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "m",
        "namespace": "ns",
        "uid": "123",
        "resourceVersion": "7",
        "labels": {"a": "b"},
    },
    "spec": {"replicas": 1},
    "status": {"readyReplicas": 1},
}


def test_keys() -> None:
    assert resource_key("apps/v1", "Deployment") == "Deployment.apps/v1"
    assert resource_key("v1", "Service") == "Service.v1"


def test_composite_request_is_lenient_and_sorted() -> None:
    other = {**DEPLOYMENT, "metadata": {**DEPLOYMENT["metadata"], "name": "a"}}
    request = CompositeRequest.model_validate(
        {
            "controller": {"kind": "CompositeController"},
            "parent": {"kind": "X"},
            "children": {"Deployment.apps/v1": {"ns/m": DEPLOYMENT, "ns/a": other}},
            "related": {},
            "finalizing": False,
            "somethingNew": 1,
        }
    )
    assert [c["metadata"]["name"] for c in request.children_of("Deployment.apps/v1")] == ["a", "m"]
    assert request.children_of("Service.v1") == []


def test_kept_children_prefer_last_applied() -> None:
    desired = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m"}}
    annotated = {
        **DEPLOYMENT,
        "metadata": {**DEPLOYMENT["metadata"], "annotations": {LAST_APPLIED: json.dumps(desired)}},
    }
    request = CompositeRequest(parent={}, children={"Deployment.apps/v1": {"ns/m": annotated}})
    assert request.kept_children() == [desired]


def test_kept_children_without_last_applied_drop_server_fields() -> None:
    request = CompositeRequest(parent={}, children={"Deployment.apps/v1": {"ns/m": DEPLOYMENT}})
    assert request.kept_children() == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "m", "namespace": "ns", "labels": {"a": "b"}},
            "spec": {"replicas": 1},
        }
    ]


def test_composite_response_always_has_children() -> None:
    assert CompositeResponse().to_json() == {"children": []}
    body = CompositeResponse(status={"ready": True}, resync_after_seconds=5.0).to_json()
    assert body == {"status": {"ready": True}, "children": [], "resyncAfterSeconds": 5.0}


def test_responses_are_strict() -> None:
    with pytest.raises(ValidationError):
        CompositeResponse(unknown=1)  # type: ignore[call-arg]


def test_decorator_request_accepts_both_spellings() -> None:
    documented = DecoratorRequest.model_validate({"object": {"kind": "Node"}, "attachments": {}})
    newer = DecoratorRequest.model_validate({"parent": {"kind": "Node"}, "children": {}})
    assert documented.object == newer.object == {"kind": "Node"}


def test_decorator_response_keeps_nulls_that_delete() -> None:
    body = DecoratorResponse(labels={"b": "1", "a": None}).to_json()
    assert body == {"labels": {"a": None, "b": "1"}, "attachments": []}
    assert list(body["labels"]) == ["a", "b"]


def test_customize_response_fields() -> None:
    rule = RelatedResourceRule(
        api_version="v1",
        resource="nodes",
        label_selector=LabelSelector(match_labels={"pool": "gpu"}),
    )
    assert CustomizeResponse(related_resources=[rule]).to_json() == {
        "relatedResources": [
            {
                "apiVersion": "v1",
                "resource": "nodes",
                "labelSelector": {"matchLabels": {"pool": "gpu"}},
            }
        ]
    }


def test_bytes_are_deterministic() -> None:
    a = CompositeResponse(status={"b": 1, "a": 2}).to_bytes()
    b = CompositeResponse(status={"a": 2, "b": 1}).to_bytes()
    assert a == b


@pytest.mark.parametrize(
    "last_applied",
    [
        "{not json",
        "[" * 100000,
        '{"apiVersion": "v1"}',
        '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "other"}}',
        '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": "m"}',
        "[]",
    ],
)
def test_kept_children_ignore_a_last_applied_that_is_not_the_object(last_applied: str) -> None:
    annotated = {
        **DEPLOYMENT,
        "metadata": {**DEPLOYMENT["metadata"], "annotations": {LAST_APPLIED: last_applied}},
    }
    request = CompositeRequest(parent={}, children={"Deployment.apps/v1": {"ns/m": annotated}})
    assert request.kept_children() == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "m", "namespace": "ns", "labels": {"a": "b"}},
            "spec": {"replicas": 1},
        }
    ]


@pytest.mark.parametrize(
    "child", [{"kind": "Deployment"}, {**DEPLOYMENT, "metadata": {"namespace": "ns"}}]
)
def test_kept_children_that_are_not_whole_objects_fail_the_hook(child: dict[str, object]) -> None:
    request = CompositeRequest(parent={}, children={"Deployment.apps/v1": {"ns/m": child}})
    with pytest.raises(KeptChildError):
        request.kept_children()


def test_resync_is_bounded() -> None:
    assert CompositeResponse(resync_after_seconds=1e12).resync_after_seconds == 86400.0
    assert DecoratorResponse(resync_after_seconds=-5).resync_after_seconds == 0.0
