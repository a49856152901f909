"""The ModelDeployment and Policy hooks end to end on requests: conditions, references,
backends from settings, policies, and answers that do not change when fed back."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from hooks.cli import REPO_ROOT
from hooks.contract import CompositeRequest, CustomizeRequest
from hooks.k8s.conditions import condition_of
from hooks.offload import controller
from hooks.offload.controller import customize, sync
from hooks.offload.policy_controller import sync_policy
from hooks.render import object_map
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.offload.factory import (
    NAMESPACE,
    gateway_slice,
    model_deployment,
    request,
    user_service,
    workload,
)

SETTINGS = Settings()
DEFAULT = Settings(
    offload_default_remote_backend=json.dumps(
        {
            "name": "hosted",
            "host": "api.example.com",
            "openAICompatible": True,
            "location": {"country": "us", "continent": "na"},
            "authConfig": {
                "type": "apiKey",
                "apiKeyConfig": {"secretRef": {"name": "hosted-key", "key": "token"}},
            },
        }
    )
)


def run(req: CompositeRequest, settings: Settings = SETTINGS) -> dict[str, Any]:
    return sync(req, now=NOW, settings=settings).to_json()


def condition(answer: dict[str, Any], kind: str) -> dict[str, Any]:
    found = condition_of(answer["status"], kind)
    assert found is not None, answer["status"]
    return dict(found)


def test_disabled_has_no_routing_objects() -> None:
    parent = model_deployment(enabled=False)
    got = run(request(parent))
    assert got["children"] == []
    assert condition(got, "Offloading")["reason"] == "Disabled"
    assert condition(got, "Ready")["reason"] == "Disabled"
    no_config = model_deployment()
    del no_config["spec"]["offloadingConfig"]
    got = run(request(no_config))
    assert got["children"] == []
    assert got["status"]["remotePercentage"] == 0


def test_service_not_found_keeps_what_is_there() -> None:
    first = run(request(model_deployment()))
    observed = [
        {**c, "metadata": {**c["metadata"], "namespace": NAMESPACE}} for c in first["children"]
    ]
    got = run(request(model_deployment(), related=[workload()], children=observed))
    assert condition(got, "Ready")["reason"] == "ServiceNotFound"
    assert len(got["children"]) == len(first["children"])


def test_a_port_the_service_does_not_have() -> None:
    parent = model_deployment()
    parent["spec"]["serviceRef"]["targetPort"] = 9999
    got = run(request(parent))
    assert condition(got, "Ready")["reason"] == "ServiceNotFound"
    assert "9999" in condition(got, "Ready")["message"]


def test_references_to_another_namespace_are_refused() -> None:
    parent = model_deployment()
    parent["spec"]["serviceRef"]["namespace"] = "elsewhere"
    got = run(request(parent))
    assert condition(got, "Ready")["reason"] == "InvalidReference"


def test_the_default_backend_from_settings() -> None:
    parent = model_deployment(backends=[])
    assert run(request(parent))["status"].get("backend") is None
    assert condition(run(request(parent)), "Ready")["reason"] == "NoEligibleBackend"
    got = run(request(parent, related=[workload(ready=0), user_service()]), DEFAULT)
    assert got["status"]["backend"] == "hosted"
    assert got["status"]["remotePercentage"] == 100
    config = next(c for c in got["children"] if c["kind"] == "ConfigMap")
    text = "\n".join(config["data"].values())
    assert "api.example.com" in text
    deployment = next(c for c in got["children"] if c["kind"] == "Deployment")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert any(v.get("secret", {}).get("secretName") == "hosted-key" for v in volumes)


def test_an_invalid_default_backend_is_a_condition() -> None:
    parent = model_deployment(backends=[])
    bad = Settings(offload_default_remote_backend='{"host": 5}')
    got = run(request(parent), bad)
    ready = condition(got, "Ready")
    assert ready["reason"] == "NoEligibleBackend"
    assert "default remote backend setting is invalid" in ready["message"]


def test_the_overlay_default_backend_is_valid_and_inline_secrets_are_not() -> None:
    text = REPO_ROOT / "deploy/overlays/offload-default-backend/default-remote-backend.json"
    backend = controller.default_backend(text.read_text())
    assert not isinstance(backend, str)
    assert backend is not None
    assert backend.name == "hosted"
    inline = json.loads(text.read_text())
    inline["authConfig"]["oauthConfig"]["clientSecret"] = "hunter2"
    refused = controller.default_backend(json.dumps(inline))
    assert isinstance(refused, str)
    assert "Secret" in refused


def test_policies() -> None:
    policies = [
        {"refType": "localPolicy", "name": "my-policy"},
        {"refType": "remotePolicy", "name": "my-policy-on-beamlit"},
    ]
    parent = model_deployment(backends=[], policies=policies)
    missing = run(request(parent, related=[workload(ready=0), user_service()]), DEFAULT)
    assert condition(missing, "Ready")["reason"] == "PolicyNotFound"
    assert missing["status"]["remotePercentage"] == 0
    policy = {
        "apiVersion": "authorization.beamlit.com/v1alpha1",
        "kind": "Policy",
        "metadata": {"name": "my-policy", "namespace": NAMESPACE},
        "spec": {"type": "location", "locations": [{"type": "continent", "name": "na"}]},
    }
    related = [workload(ready=0), user_service(), policy]
    got = run(request(parent, related=related), DEFAULT)
    assert got["status"]["backend"] == "hosted"
    assert got["status"]["remotePercentage"] == 100
    passed = condition(got, "RemotePoliciesPassedOn")
    assert passed["status"] == "True"
    assert "my-policy-on-beamlit" in passed["message"]
    config = next(c for c in got["children"] if c["kind"] == "ConfigMap")
    text = "\n".join(config["data"].values())
    # Header names are case-insensitive; Envoy's configuration holds them in lower case.
    assert "x-offload-remote-policies" in text.lower()
    assert "my-policy-on-beamlit" in text
    assert "x-offload-environment" in text.lower()


def test_customize_names_only_what_the_spec_references() -> None:
    parent = model_deployment(policies=[{"refType": "localPolicy", "name": "p"}])
    rules = customize(
        CustomizeRequest.model_validate({"parent": parent}), now=NOW, settings=SETTINGS
    ).to_json()["relatedResources"]
    by_resource = {r["resource"]: r for r in rules}
    assert by_resource["deployments"]["names"] == ["php-apache"]
    assert by_resource["services"]["names"] == ["php-apache"]
    assert by_resource["policies"]["names"] == ["p"]
    assert by_resource["endpointslices"]["labelSelector"]["matchLabels"] == {
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        "kubernetes.io/service-name": "php-apache-offload",
    }
    assert all(r["namespace"] == NAMESPACE for r in rules)


@pytest.mark.parametrize("kind", ["StatefulSet", "ReplicaSet", "DaemonSet"])
def test_other_workload_kinds(kind: str) -> None:
    parent = model_deployment()
    parent["spec"]["modelSourceRef"]["kind"] = kind
    source = workload(ready=0)
    source["kind"] = kind
    if kind == "DaemonSet":
        source["status"] = {"numberReady": 3}
    got = sync(
        CompositeRequest(
            parent=parent,
            children={c.key: {} for c in controller.MODEL_DEPLOYMENT.children},
            related=object_map([source, user_service()], NAMESPACE),
        ),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    assert got["status"]["remotePercentage"] == (0 if kind == "DaemonSet" else 100)


def _feed_back(first: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**c, "metadata": {**c["metadata"], "namespace": NAMESPACE}} for c in first["children"]]


@pytest.mark.parametrize("ready", [0, 2])
def test_fed_its_own_answer_it_answers_the_same(ready: int) -> None:
    related = [workload(ready=ready), user_service(), gateway_slice()]
    first = run(request(model_deployment(), related=related))
    parent = model_deployment(status=first["status"])
    again = run(request(parent, related=related, children=_feed_back(first)))
    assert again == first


def test_policy_status_counts_its_users() -> None:
    def md(name: str, ref: str) -> dict[str, Any]:
        obj = model_deployment(name, policies=[{"refType": ref, "name": "my-policy"}])
        return obj

    policy = {
        "apiVersion": "authorization.beamlit.com/v1alpha1",
        "kind": "Policy",
        "metadata": {"name": "my-policy", "namespace": NAMESPACE, "generation": 2},
        "spec": {"type": "location", "locations": [{"type": "country", "name": "us"}]},
    }
    users = [md("b", "localPolicy"), md("a", "localPolicy"), md("c", "remotePolicy")]
    got = sync_policy(
        CompositeRequest(parent=policy, related=object_map(users, NAMESPACE)),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    assert got["status"]["valid"] is True
    assert got["status"]["modelDeployments"] == ["a", "b"]
    assert got["status"]["modelDeploymentCount"] == 2
    assert got["children"] == []
    empty = {**policy, "spec": {"type": "flavor"}}
    got = sync_policy(CompositeRequest(parent=empty), now=NOW, settings=SETTINGS).to_json()
    assert got["status"]["valid"] is False
    assert got["status"]["conditions"][0]["reason"] == "Invalid"


def test_a_backend_envoy_would_refuse_keeps_the_running_gateway() -> None:
    first = run(request(model_deployment()))
    bad = model_deployment(
        backends=[
            {"name": "remote", "host": "remote.example.com", "headersToAdd": {"bad name": "x"}}
        ],
        status=first["status"],
    )
    got = run(request(bad, children=_feed_back(first)))
    ready = condition(got, "Ready")
    assert ready["reason"] == "InvalidRemoteBackend"
    assert "bad name" in ready["message"]
    assert kinds_of(got) == kinds_of(first)
    before = {(c["kind"], c["metadata"]["name"]): c.get("data") for c in first["children"]}
    after = {(c["kind"], c["metadata"]["name"]): c.get("data") for c in got["children"]}
    assert after == before


def kinds_of(answer: dict[str, Any]) -> list[str]:
    return sorted(c["kind"] for c in answer["children"])


def test_a_problem_keeps_the_children_and_the_split_they_carry() -> None:
    related = [workload(ready=0), user_service(), gateway_slice()]
    first = run(request(model_deployment(), related=related))
    assert first["status"]["remotePercentage"] == 100
    bad_metric = {
        "type": "Pods",
        "pods": {"target": {"type": "AverageValue", "averageValue": "lots"}},
    }
    parent = model_deployment(metrics=[bad_metric], status=first["status"])
    got = run(request(parent, related=related, children=_feed_back(first)))
    assert condition(got, "Ready")["reason"] == "InvalidMetrics"
    assert condition(got, "Offloading")["status"] == "True"
    assert got["status"]["remotePercentage"] == 100
    assert kinds_of(got) == kinds_of(first)
    again = run(
        request(
            model_deployment(metrics=[bad_metric], status=got["status"]),
            related=related,
            children=_feed_back(first),
        )
    )
    assert again["status"] == got["status"]


def test_the_overlay_sets_the_setting_the_hooks_read() -> None:
    overlay = REPO_ROOT / "deploy/overlays/offload-default-backend"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    (patch,) = yaml.safe_load(kustomization["patches"][0]["patch"])
    name = patch["value"]["name"]
    text = (overlay / "default-remote-backend.json").read_text()
    settings = Settings.from_env({name: text})
    assert settings.offload_default_remote_backend == text


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (None, "spec: must be an object"),
        ([], "spec: must be an object"),
        ({"model": "m"}, "spec.modelSourceRef"),
    ],
)
def test_a_spec_that_does_not_parse_keeps_the_children(spec: Any, field: str) -> None:
    related = [workload(ready=0), user_service(), gateway_slice()]
    first = run(request(model_deployment(), related=related))
    parent = model_deployment(status=first["status"])
    parent["spec"] = spec
    got = run(request(parent, related=related, children=_feed_back(first)))
    ready = condition(got, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["message"].startswith(field)
    assert kinds_of(got) == kinds_of(first)
    # The scale subresource keeps the selector the metrics HPA measures with.
    assert got["status"]["selector"] == first["status"]["selector"]
    assert got["status"]["remotePercentage"] == first["status"]["remotePercentage"]
    assert customize(CustomizeRequest(parent=parent), now=NOW, settings=SETTINGS).to_json() == {
        "relatedResources": []
    }
