"""Reading observed objects leniently: selectors, workloads, Services, HPAs, slices."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.offload.observe import (
    gateway_endpoints,
    read_hpa,
    read_service,
    read_source,
    selector_text,
)


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        ({"matchLabels": {"run": "php-apache"}}, "run=php-apache"),
        ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
        (
            {
                "matchLabels": {"app": "m"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["gpu", "cpu"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "NotIn", "values": ["b"]},
                    {"key": "model", "operator": "Exists"},
                ],
            },
            "app=m,!canary,model,tier in (cpu,gpu),zone notin (b)",
        ),
        ({"matchExpressions": [{"key": "x", "operator": "Weird"}]}, None),
        ({"matchExpressions": ["nope"]}, None),
        ({}, None),
        ("run=x", None),
    ],
)
def test_selector_text(selector: Any, text: str | None) -> None:
    assert selector_text(selector) == text


def test_sources_read_leniently() -> None:
    assert read_source(None).down
    assert read_source({"kind": "Deployment", "spec": {"replicas": 0}, "status": {}}).down
    up = read_source(
        {"kind": "Deployment", "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}
    )
    assert not up.down
    assert up.ready == 1
    weird = read_source({"kind": "Deployment", "spec": "x", "status": {"readyReplicas": "3"}})
    assert weird.down
    daemons = read_source({"kind": "DaemonSet", "spec": {}, "status": {"numberReady": 2}})
    assert (daemons.down, daemons.desired) == (False, None)


def test_service_port_by_service_port_number() -> None:
    service = {
        "spec": {
            "selector": {"run": "m"},
            "ports": [
                {"name": "metrics", "port": 9090},
                {"name": "http", "port": 80, "targetPort": "web"},
            ],
        }
    }
    found = read_service(service, 80)
    assert found.port is not None
    assert (found.port.name, found.port.target_port) == ("http", "web")
    assert read_service(service, 81).port is None
    assert read_service({"spec": {"ports": "x"}}, 80).selector is None


def test_hpa_and_slices_read_leniently() -> None:
    assert read_hpa(None) is None
    hpa = read_hpa({"metadata": {"generation": 2}, "status": {"observedGeneration": 1}})
    assert hpa is not None
    assert not hpa.current
    assert hpa.scaling_active is None
    slices = [
        {
            "metadata": {
                "labels": {
                    "kubernetes.io/service-name": "m-offload",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                }
            },
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.0.0.2"], "conditions": {"ready": True}},
                {"addresses": ["10.0.0.3"], "conditions": {"ready": False}},
                "junk",
            ],
        },
        # Another manager's slice for the same Service is not the gateway's.
        {"metadata": {"labels": {"kubernetes.io/service-name": "m-offload"}}, "endpoints": []},
    ]
    assert gateway_endpoints(slices, "m-offload") == ["10.0.0.2"]
