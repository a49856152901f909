"""Tenant-written values the prem hooks cannot use: a condition naming the field, never a 500."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from hooks.contract import CompositeRequest, CustomizeRequest
from hooks.prem import nodelabeler
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.prem.factory import ai_deployment, child, condition, label_maps, sync

GENERIC = {"engine": {"name": "generic"}}
CONTAINER = {"name": "server", "image": "img:1"}


def generic(template: Any) -> dict[str, Any]:
    return ai_deployment({**GENERIC, "deployment": {"template": template}})


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ({"metadata": "x", "spec": {"containers": [CONTAINER]}}, "template.metadata must be"),
        ({"metadata": {"labels": ["a"]}, "spec": {"containers": [CONTAINER]}}, "metadata.labels"),
        (
            {"metadata": {"labels": {"a": 1}}, "spec": {"containers": [CONTAINER]}},
            "metadata.labels",
        ),
        ({"spec": "x"}, "template.spec must be"),
        ({"spec": {"containers": "x"}}, "spec.containers must be"),
        ({"spec": {"containers": [CONTAINER, 5]}}, "spec.containers must be"),
        ({"spec": {"containers": [{**CONTAINER, "env": 5}]}}, "containers[0].env"),
        ({"spec": {"containers": [{**CONTAINER, "env": [{"name": []}]}]}}, "env[0].name"),
        ({"spec": {"containers": [{**CONTAINER, "ports": [{"containerPort": {}}]}]}}, "ports[0]"),
        ({"spec": {"containers": [{**CONTAINER, "resources": []}]}}, "containers[0].resources"),
        ({"spec": {"containers": [CONTAINER], "nodeSelector": {"a": {}}}}, "spec.nodeSelector"),
        (
            {"spec": {"containers": [CONTAINER], "affinity": {"nodeAffinity": []}}},
            "nodeAffinity must be",
        ),
    ],
)
def test_a_template_of_the_wrong_shape_is_a_condition(template: Any, field: str) -> None:
    answer = sync(generic(template))
    ready = condition(answer, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert field in ready["message"]
    assert answer["children"] == []


def test_a_resource_of_the_wrong_type_is_a_condition() -> None:
    container = {**CONTAINER, "resources": {"requests": {"cpu": {"a": 1}}}}
    answer = sync(generic({"spec": {"containers": [container]}}))
    assert condition(answer, "Ready")["reason"] == "InvalidSpec"


@pytest.mark.parametrize("cpu", ["1e10000000", "1e30000000", "9" * 1000])
def test_a_huge_quantity_answers_fast(cpu: str) -> None:
    spec = {
        "engine": {"name": "vllm"},
        "models": [{"uri": "m"}],
        "deployment": {"resources": {"requests": {"cpu": cpu}}},
    }
    started = time.perf_counter()
    answer = sync(ai_deployment(spec))
    assert time.perf_counter() - started < 0.5
    requests = child(answer, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert requests["resources"]["requests"]["cpu"] == str(2**63 - 1)


@pytest.mark.parametrize("name", ["1demo", "demo.v2", "a" * 62 + ".b"])
def test_service_names_are_valid_whatever_the_parent_name(name: str) -> None:
    answer = sync(
        ai_deployment(
            {
                **GENERIC,
                "deployment": {"template": {"spec": {"containers": [CONTAINER]}}},
                "endpoint": [{"domain": "a.example.com"}],
            },
            name=name,
        )
    )
    service = child(answer, "Service")["metadata"]["name"]
    assert re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", service)
    backend = child(answer, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == service


@pytest.mark.parametrize("spec", ["text", [1], {"models": "x"}])
def test_the_maps_label_of_a_spec_of_the_wrong_shape(spec: Any) -> None:
    assert label_maps(ai_deployment(spec)) == {"labels": {}, "attachments": []}


def test_an_observed_deployment_of_the_wrong_shape_is_read_leniently() -> None:
    observed = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {"replicas": "x", "template": {"spec": {"containers": "x"}}},
        "status": {"readyReplicas": "many", "availableReplicas": {}},
    }
    answer = sync(ai_deployment({"engine": {"name": "nope"}}), children=(observed,))
    assert answer["status"]["status"] == "Failed"


def test_a_labeler_spec_that_does_not_parse_is_a_condition() -> None:
    parent = {
        "apiVersion": "premlabs.io/v1alpha1",
        "kind": "AutoNodeLabeler",
        "metadata": {"name": "l", "generation": 1},
        "spec": {"labels": "x"},
    }
    answer = nodelabeler.sync_labeler(
        CompositeRequest(parent=parent), now=NOW, settings=Settings()
    ).to_json()
    ready = answer["status"]["conditions"][0]
    assert (ready["reason"], ready["message"][:11]) == ("InvalidSpec", "spec.labels")
    related = nodelabeler.customize_labeler(
        CustomizeRequest.model_validate({"parent": parent}), now=NOW, settings=Settings()
    )
    assert related.related_resources == []


@pytest.mark.parametrize(
    "template",
    [
        {"metadata": {"labels": {"bad key": "v"}}, "spec": {"containers": [CONTAINER]}},
        {"metadata": {"labels": {"k": "not a value"}}, "spec": {"containers": [CONTAINER]}},
        {"spec": {"containers": [CONTAINER], "nodeSelector": {"k": "v" * 64}}},
    ],
)
def test_template_labels_are_labels(template: Any) -> None:
    ready = condition(sync(generic(template)), "Ready")
    assert ready["reason"] == "InvalidSpec"
    assert "must be labels" in ready["message"]
