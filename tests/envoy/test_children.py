"""The gateway's children as pure data: names, labels, mounts, what rolls the pods,
and where the credential may appear."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import yaml

from hooks.offload import envoy
from hooks.offload.gateway import (
    GATEWAY_PORT,
    GatewayPlan,
    LocalLeg,
    build_gateway_children,
    gateway_pod_labels,
    plan_problems,
)
from hooks.settings import Settings

from .variants import API_KEY, LOCAL, OAUTH2, VARIANTS, plan, remote

SETTINGS = Settings()


def children(the_plan: GatewayPlan, settings: Settings = SETTINGS) -> dict[str, Any]:
    return {c["kind"]: c for c in build_gateway_children(the_plan, settings=settings)}


def _template_hash(the_plan: GatewayPlan) -> Any:
    return children(the_plan)["Deployment"]["spec"]["template"]


def test_names_order_and_selector() -> None:
    built = build_gateway_children(VARIANTS["api key"], settings=SETTINGS)
    assert [(c["kind"], c["metadata"]["name"]) for c in built] == [
        ("ConfigMap", "llama-offload-envoy"),
        ("Deployment", "llama-offload"),
        ("Service", "llama-offload"),
    ]
    service = built[2]
    assert service["spec"]["selector"] == gateway_pod_labels(VARIANTS["api key"])
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    container = built[1]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"} in container["ports"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "ops"}
    assert all(c["metadata"]["labels"]["app.kubernetes.io/instance"] == "llama" for c in built)


def test_pods_never_carry_the_labels_a_user_service_selects_on() -> None:
    labels = children(VARIANTS["split 37"])["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert not any(key.startswith("app.kubernetes.io/") for key in labels)


def test_image_from_settings() -> None:
    custom = Settings(offload_envoy_image="registry.corp/envoy:distroless-v1.40.0")
    container = children(VARIANTS["local only"], custom)["Deployment"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["image"] == "registry.corp/envoy:distroless-v1.40.0"
    assert SETTINGS.offload_envoy_image == "envoyproxy/envoy:distroless-v1.40.0"
    assert container["command"] == ["/usr/local/bin/envoy"]
    assert container["args"][:2] == ["--config-path", "/etc/envoy/envoy.yaml"]
    assert "--reject-unknown-dynamic-fields" in container["args"]


@pytest.mark.parametrize(
    "change",
    [
        {"remote_percentage": 90},
        {"remote_percentage": 0},
        {"remote": remote(headers=(("x-a", "b"),), path_prefix="/x")},
        {"local": LocalLeg(service="other-local", port=9000)},
        {"request_timeout_seconds": 30},
    ],
)
def test_xds_changes_do_not_roll_the_pods(change: dict[str, Any]) -> None:
    before = VARIANTS["split 37"]
    after = dataclasses.replace(before, **change)
    assert _template_hash(after) == _template_hash(before)
    assert children(after)["ConfigMap"]["data"] != children(before)["ConfigMap"]["data"]


def test_bootstrap_and_secret_changes_roll_the_pods() -> None:
    base = plan(LOCAL, remote(credential=OAUTH2), 50)
    moved = plan(
        LOCAL, remote(credential=dataclasses.replace(OAUTH2, token_url="https://b.example/t")), 50
    )
    other_secret = plan(
        LOCAL, remote(credential=dataclasses.replace(OAUTH2, secret_name="rotated")), 50
    )
    assert _template_hash(moved) != _template_hash(base)
    assert _template_hash(other_secret) != _template_hash(base)


def test_the_secret_is_mounted_and_only_named_in_the_config_map() -> None:
    built = children(plan(LOCAL, remote(credential=API_KEY, ca_secret="remote-ca"), 50))
    pod = built["Deployment"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["credential"]["secret"]["secretName"] == "remote-key"
    assert volumes["credential"]["secret"]["items"] == [{"key": "apiKey", "path": "value"}]
    assert volumes["ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert volumes["config"] == {"name": "config", "configMap": {"name": "llama-offload-envoy"}}
    # A directory mount: a subPath mount would never see the kubelet's updates.
    assert all("subPath" not in m for m in pod["containers"][0]["volumeMounts"])
    sds = yaml.safe_load(built["ConfigMap"]["data"][envoy.CREDENTIAL_SDS_FILE])
    assert sds["resources"][0]["generic_secret"] == {
        "secret": {"filename": "/etc/envoy-secrets/credential/value"}
    }


def _find(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        found = [node[key]] if key in node else []
        return found + [x for v in node.values() for x in _find(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in _find(v, key)]
    return []


@pytest.mark.parametrize("name", ["api key", "oauth2", "everything"])
def test_credential_only_on_the_remote_leg(name: str) -> None:
    files = envoy.render(VARIANTS[name])
    listeners = {
        listener["name"]: listener
        for listener in yaml.safe_load(files[envoy.LDS_FILE])["resources"]
    }
    injectors = "envoy.filters.http.credential_injector"
    assert injectors not in json.dumps(listeners["gateway"])
    assert injectors in json.dumps(listeners[envoy.REMOTE_LEG])
    clusters = yaml.safe_load(files[envoy.CDS_FILE])["resources"]
    # No cluster carries upstream filters: they would reach a cluster's every host.
    assert _find(clusters, "http_filters") == []
    assert {c["name"] for c in clusters} == {
        "local",
        "local-failover",
        "remote-failover",
        "remote-leg",
        "remote",
    }


def test_same_plan_same_bytes_and_a_stable_cluster_set() -> None:
    for the_plan in VARIANTS.values():
        first = json.dumps(build_gateway_children(the_plan, settings=SETTINGS))
        assert json.dumps(build_gateway_children(the_plan, settings=SETTINGS)) == first
    names = {
        tuple(c["name"] for c in yaml.safe_load(envoy.render(p)[envoy.CDS_FILE])["resources"])
        for p in VARIANTS.values()
    }
    assert len(names) == 1


def test_local_side_is_the_projects_own_service() -> None:
    clusters = yaml.safe_load(envoy.render(VARIANTS["split 37"])[envoy.CDS_FILE])["resources"]
    local = next(c for c in clusters if c["name"] == "local")
    address = local["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert address == {"socket_address": {"address": "llama-local.models.svc", "port_value": 8000}}


@pytest.mark.parametrize(
    ("reason", "the_plan", "want"),
    [
        ("valid", VARIANTS["everything"], []),
        ("percentage", plan(LOCAL, remote(), 101), ["remote percentage 101"]),
        ("host", plan(LOCAL, remote(host="a b"), 5), ["host 'a b'"]),
        ("port", plan(LOCAL, remote(host="a.example:70000"), 5), ["host 'a.example:70000'"]),
        ("path", plan(LOCAL, remote(path_prefix="v1"), 5), ["path prefix 'v1'"]),
        ("header name", plan(LOCAL, remote(headers=(("x y", "1"),)), 5), ["'x y' cannot"]),
        ("reserved", plan(LOCAL, remote(headers=(("Host", "1"),)), 5), ["'Host' cannot"]),
        ("header value", plan(LOCAL, remote(headers=(("x", "a\nb"),)), 5), ["control"]),
        (
            "token url",
            plan(LOCAL, remote(credential=dataclasses.replace(OAUTH2, token_url="ftp://x")), 5),
            ["token URL"],
        ),
        ("local port", plan(LocalLeg(service="s", port=0), None, 0), ["local port 0"]),
    ],
)
def test_plan_problems(reason: str, the_plan: GatewayPlan, want: list[str]) -> None:
    problems = plan_problems(the_plan)
    assert len(problems) == len(want), (reason, problems)
    # Hostile or not, the plan renders: the controller decides what to do with it.
    assert len(build_gateway_children(the_plan, settings=SETTINGS)) == 3
    for problem, fragment in zip(problems, want, strict=True):
        assert fragment in problem, (reason, problem)


def test_admin_on_loopback_only() -> None:
    bootstrap = yaml.safe_load(envoy.render(VARIANTS["everything"])[envoy.BOOTSTRAP_FILE])
    assert bootstrap["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    (ops,) = bootstrap["static_resources"]["listeners"]
    assert ops["address"]["socket_address"]["port_value"] == envoy.OPS_PORT


def test_config_map_fits() -> None:
    # A ConfigMap holds at most 1 MiB.
    for the_plan in VARIANTS.values():
        size = sum(len(v) for v in children(the_plan)["ConfigMap"]["data"].values())
        assert size < 64 * 1024
