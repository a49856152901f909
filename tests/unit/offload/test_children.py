"""The routing objects per mode: their weights equal the decision, and what exists when."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from hooks.contract import DecoratorRequest
from hooks.offload.api import NamedRemoteBackend
from hooks.offload.children import labels, remote_leg
from hooks.offload.controller import sync
from hooks.offload.gateway import GatewayPlan, LocalLeg, build_gateway_children
from hooks.offload.meshes import sync_gateway_api, sync_istio
from hooks.render import object_map
from hooks.settings import Settings
from tests.conftest import NOW, Golden
from tests.unit.offload.factory import (
    BACKEND,
    NAMESPACE,
    gateway_slice,
    model_deployment,
    request,
    user_service,
    workload,
)

SETTINGS = Settings()
GATEWAY = {
    ("ConfigMap", "php-apache-offload-envoy"),
    ("Deployment", "php-apache-offload"),
    ("Service", "php-apache-offload"),
}
"""The gateway's children (gateway.py), by kind and name."""


def kinds(children: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((c["kind"], c["metadata"]["name"]) for c in children)


def answer(parent: dict[str, Any], ready: int = 2, slices: bool = True) -> dict[str, Any]:
    related = [workload(ready=ready), user_service()]
    if slices:
        related.append(gateway_slice(addresses=("10.244.0.7", "10.244.0.8")))
    return sync(request(parent, related=related), now=NOW, settings=SETTINGS).to_json()


def test_gateway_mode_children() -> None:
    got = answer(model_deployment())
    assert kinds(got["children"]) == [
        ("ConfigMap", "php-apache-offload-envoy"),
        ("Deployment", "php-apache-offload"),
        ("HorizontalPodAutoscaler", "php-apache-metrics"),
        ("Service", "php-apache-local"),
        ("Service", "php-apache-offload"),
    ]
    hpa = next(c for c in got["children"] if c["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "deployment.beamlit.com/v1alpha1",
        "kind": "ModelDeployment",
        "name": "php-apache",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 1)
    local = next(c for c in got["children"] if c["metadata"]["name"] == "php-apache-local")
    assert local["spec"]["selector"] == {"run": "php-apache"}
    assert local["spec"]["ports"][0]["targetPort"] == 8080
    assert got["status"]["selector"] == "run=php-apache"


def test_failover_slice_exists_only_while_the_source_is_down() -> None:
    down = answer(model_deployment(), ready=0)
    assert down["status"]["remotePercentage"] == 100
    (endpoint_slice,) = [c for c in down["children"] if c["kind"] == "EndpointSlice"]
    labels = endpoint_slice["metadata"]["labels"]
    assert labels["kubernetes.io/service-name"] == "php-apache"
    assert labels["endpointslice.kubernetes.io/managed-by"] == "offload.aihooks.dev"
    assert [e["addresses"] for e in endpoint_slice["endpoints"]] == [["10.244.0.7"], ["10.244.0.8"]]
    assert endpoint_slice["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    up = answer(model_deployment(), ready=2)
    assert not [c for c in up["children"] if c["kind"] == "EndpointSlice"]


@pytest.mark.parametrize(("ready", "percentage"), [(0, 50), (2, 50), (2, 0)])
def test_gateway_weights_equal_the_status(ready: int, percentage: int) -> None:
    status = {
        "metricPercentage": 50,
        "conditions": [
            {
                "type": "MetricsOverTarget",
                "status": "True",
                "reason": "OverTarget",
                "message": "",
                "lastTransitionTime": "2026-01-15T10:00:00Z",
            }
        ],
    }
    got = answer(model_deployment(percentage=percentage, status=status), ready=ready)
    share = got["status"]["remotePercentage"]
    assert share == (100 if ready == 0 else percentage)
    # The gateway's children are exactly those of a plan carrying the status' share.
    remote = remote_leg(
        NamedRemoteBackend.model_validate(BACKEND),
        model="php-apache",
        environment="production",
        remote_policies=[],
    )
    plan = GatewayPlan(
        name="php-apache",
        namespace="ml",
        local=LocalLeg("php-apache-local", 80),
        remote=remote,
        remote_percentage=share,
        labels=labels("php-apache", "gateway"),
    )
    expected = build_gateway_children(plan, settings=SETTINGS)
    emitted = [c for c in got["children"] if (c["kind"], c["metadata"]["name"]) in GATEWAY]
    assert sorted(emitted, key=str) == sorted(expected, key=str)
    other = replace(plan, remote_percentage=100 - share if share != 50 else 0)
    assert build_gateway_children(other, settings=SETTINGS) != expected


def decorate(parent: dict[str, Any], status: dict[str, Any]) -> DecoratorRequest:
    return DecoratorRequest.model_validate({"object": {**parent, "status": status}})


@pytest.mark.parametrize("share", [0, 50, 100])
def test_istio_weights_are_the_status_share(share: int) -> None:
    parent = model_deployment(mode="istio")
    got = sync_istio(
        decorate(parent, {"remotePercentage": share, "backend": "remote"}),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    rule, service = got["attachments"]
    assert rule["kind"] == "DestinationRule"
    assert rule["spec"]["trafficPolicy"]["outlierDetection"]
    route = service["spec"]["http"][0]
    assert [d["weight"] for d in route["route"]] == [100 - share, share]
    assert route["route"][1]["destination"]["host"] == "php-apache-offload.ml.svc.cluster.local"
    assert "connect-failure" in route["retries"]["retryOn"]
    assert service["spec"]["hosts"] == ["php-apache.ml.svc.cluster.local"]
    # No credential ever goes into an Istio object.
    assert "secret" not in str(got).lower()


def test_istio_without_a_backend_routes_locally() -> None:
    got = sync_istio(
        decorate(model_deployment(mode="istio"), {"remotePercentage": 0}),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    route = got["attachments"][1]["spec"]["http"][0]["route"]
    assert [d["weight"] for d in route] == [100]


@pytest.mark.parametrize("share", [0, 30, 100])
def test_http_route_weights_are_the_status_share(share: int) -> None:
    parent = model_deployment(mode="gatewayAPI")
    got = sync_gateway_api(
        decorate(parent, {"remotePercentage": share, "backend": "remote"}),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    (route,) = got["attachments"]
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [
        ("php-apache", 100 - share),
        ("php-apache-offload", share),
    ]
    assert route["spec"]["parentRefs"] == [
        {"group": "", "kind": "Service", "name": "php-apache", "port": 80}
    ]


def test_decorators_emit_nothing_for_other_modes() -> None:
    status = {"remotePercentage": 50, "backend": "remote"}
    gateway = model_deployment(mode="gateway")
    assert sync_istio(decorate(gateway, status), now=NOW, settings=SETTINGS).attachments == []
    istio = model_deployment(mode="istio")
    assert sync_gateway_api(decorate(istio, status), now=NOW, settings=SETTINGS).attachments == []


@pytest.mark.parametrize("mode", ["istio", "gatewayAPI"])
def test_mesh_modes_use_the_gateway_for_the_remote_leg_only(mode: str) -> None:
    got = answer(model_deployment(mode=mode), ready=0)
    assert ("Deployment", "php-apache-offload") in kinds(got["children"])
    assert not [c for c in got["children"] if c["kind"] == "EndpointSlice"]
    config = next(c for c in got["children"] if c["kind"] == "ConfigMap")
    assert "php-apache-local" not in "\n".join(config["data"].values())


def own_children(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The children this controller builds itself; the gateway's are tested beside their
    renderer."""
    return [c for c in children if (c["kind"], c["metadata"]["name"]) not in GATEWAY]


@pytest.mark.parametrize(
    ("case", "mode", "ready"),
    [("gateway-source-up", "gateway", 2), ("gateway-source-down", "gateway", 0)],
)
def test_golden_children(golden: Golden, case: str, mode: str, ready: int) -> None:
    got = answer(model_deployment(mode=mode), ready=ready)
    golden.check("modeldeployment", case, own_children(got["children"]))


@pytest.mark.parametrize("mode", ["istio", "gatewayAPI"])
def test_golden_mesh_routes(golden: Golden, mode: str) -> None:
    hook = sync_istio if mode == "istio" else sync_gateway_api
    got = hook(
        decorate(model_deployment(mode=mode), {"remotePercentage": 30, "backend": "remote"}),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    golden.check("modeldeployment", f"{mode}-routes", got["attachments"])


@pytest.mark.parametrize("hook", [sync_istio, sync_gateway_api], ids=["istio", "gatewayAPI"])
def test_a_spec_that_does_not_parse_keeps_the_routing_objects(hook: Any) -> None:
    mode = "istio" if hook is sync_istio else "gatewayAPI"
    status = {"remotePercentage": 30, "backend": "remote"}
    first = hook(decorate(model_deployment(mode=mode), status), now=NOW, settings=SETTINGS)
    attachments = first.to_json()["attachments"]
    observed = object_map(attachments, NAMESPACE)
    broken = {**model_deployment(mode=mode), "spec": {"model": "m"}, "status": status}
    got = hook(
        DecoratorRequest.model_validate({"object": broken, "attachments": observed}),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    assert got["attachments"] == attachments
