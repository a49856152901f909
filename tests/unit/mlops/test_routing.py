"""EndpointConfig and Endpoint hooks: weights, derived Models, VirtualService, Gateway."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.contract import CustomizeRequest
from hooks.mlops.endpoints import customize_config, customize_endpoint, sync_config, sync_endpoint
from hooks.mlops.routing import normalise_weights
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.mlops.factory import ENDPOINT, ENDPOINT_CONFIG, NAMESPACE, model, of_kind, request


@pytest.mark.parametrize(
    ("weights", "want"),
    [
        ([3, 1], [75, 25]),
        ([1], [100]),
        ([1, 1, 1], [34, 33, 33]),
        ([2, 1, 1], [50, 25, 25]),
        ([0, 5], [0, 100]),
        ([0.1, 0.2, 0.7], [10, 20, 70]),
        ([1, 1, 1, 1, 1, 1], [17, 17, 17, 17, 16, 16]),
        ([1e-9, 1], [0, 100]),
        ([0, 0], [0, 0]),
    ],
)
def test_normalise_weights(weights: list[float], want: list[int]) -> None:
    assert normalise_weights(weights) == want


@given(st.lists(st.floats(0, 1_000_000, allow_nan=False), min_size=1, max_size=16))
def test_normalised_weights_sum_to_100(weights: list[float]) -> None:
    percents = normalise_weights(weights)
    if any(w > 0 for w in weights):
        assert sum(percents) == 100
        assert all(0 <= p <= 100 for p in percents)
        # No entry is more than one percent away from its exact share.
        total = sum(weights)
        assert all(
            abs(p - 100 * w / total) < 1 + 1e-6 for p, w in zip(percents, weights, strict=True)
        )
    assert normalise_weights(weights) == percents


def config(
    name: str = "ep", generation: int = 1, models: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "mlops.aihooks.dev/v1alpha1",
        "kind": "EndpointConfig",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": generation, "uid": "u2"},
        "spec": {
            "models": models
            or [
                {"model": "a", "weight": 3, "instances": 2, "cpus": "2", "memory": "4Gi"},
                {"model": "b", "weight": 1, "size": "20Gi", "path": "/data"},
            ]
        },
    }


def endpoint(name: str = "public", config_name: str = "ep", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlops.aihooks.dev/v1alpha1",
        "kind": "Endpoint",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1, "uid": "u3"},
        "spec": {"config": config_name, "host": "models.example.com", **spec},
    }


def sync_c(
    parent: dict[str, Any], children: list[dict[str, Any]] = (), related=()
) -> dict[str, Any]:  # type: ignore[assignment,no-untyped-def]
    return sync_config(
        request(ENDPOINT_CONFIG, parent, children, related), now=NOW, settings=Settings()
    ).to_json()


def sync_e(parent: dict[str, Any], related=()) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return sync_endpoint(
        request(ENDPOINT, parent, [], related), now=NOW, settings=Settings()
    ).to_json()


TEMPLATES = [model("a", replicas=0), model("b", replicas=0, image="server:2")]


def test_weights_3_and_1_route_75_and_25_in_one_route() -> None:
    answer = sync_c(config(), related=[*TEMPLATES, endpoint()])
    vs = of_kind(answer["children"], "VirtualService")[0]
    assert len(vs["spec"]["http"]) == 1
    route = vs["spec"]["http"][0]["route"]
    assert [(r["destination"]["host"], r["weight"]) for r in route] == [
        (f"ep-a.{NAMESPACE}.svc.cluster.local", 75),
        (f"ep-b.{NAMESPACE}.svc.cluster.local", 25),
    ]
    assert vs["spec"]["gateways"] == [f"{NAMESPACE}/public", "mesh"]
    assert vs["spec"]["hosts"] == ["ep.ml.svc.cluster.local", "models.example.com"]
    assert [m["weight"] for m in answer["status"]["models"]] == [75, 25]


def test_derived_models_take_the_template_with_the_entry_overrides() -> None:
    answer = sync_c(config(), related=TEMPLATES)
    derived = {m["metadata"]["name"]: m for m in of_kind(answer["children"], "Model")}
    assert set(derived) == {"ep-a", "ep-b"}
    a, b = derived["ep-a"]["spec"], derived["ep-b"]["spec"]
    assert a["replicas"] == 2
    assert a["resources"] == {
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "2", "memory": "4Gi"},
    }
    assert b["replicas"] == 0
    assert b["size"] == "20Gi"
    assert b["path"] == "/data"
    assert b["image"] == "server:2"
    assert derived["ep-a"]["metadata"]["labels"]["mlops.aihooks.dev/endpoint-config"] == "ep"


def test_a_missing_model_keeps_the_children_that_exist() -> None:
    before = sync_c(config(), related=TEMPLATES)
    answer = sync_c(config(generation=2), before["children"], related=TEMPLATES[:1])
    ready = answer["status"]["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "ModelNotFound")
    assert "b" in ready["message"]
    names = sorted(c["metadata"]["name"] for c in answer["children"])
    assert names == sorted(c["metadata"]["name"] for c in before["children"])


def test_a_model_that_never_existed_gets_no_traffic() -> None:
    answer = sync_c(config(), related=TEMPLATES[:1])
    vs = of_kind(answer["children"], "VirtualService")[0]
    assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [100]
    assert [m["weight"] for m in answer["status"]["models"]] == [100, 0]


def test_config_ready_follows_the_derived_models() -> None:
    first = sync_c(config(), related=TEMPLATES)
    observed = []
    for child in first["children"]:
        if child["kind"] == "Model":
            child = {**child, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        observed.append(child)
    answer = sync_c(config(), observed, related=TEMPLATES)
    assert answer["status"]["conditions"][0]["status"] == "True"
    assert all(m["ready"] for m in answer["status"]["models"])


def test_endpoint_gateway_urls_and_missing_config() -> None:
    cfg = {**config(), "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    answer = sync_e(endpoint(), related=[cfg])
    gateway = answer["children"][0]
    assert gateway["kind"] == "Gateway"
    assert gateway["metadata"]["name"] == "public"
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    assert gateway["spec"]["servers"] == [
        {
            "port": {"number": 80, "name": "http", "protocol": "HTTP"},
            "hosts": ["models.example.com"],
        }
    ]
    status = answer["status"]
    assert status["url"] == "http://models.example.com"
    assert status["monitoringUrl"] == "http://ep-a.ml.svc.cluster.local:9090/metrics"
    assert status["monitoringUrls"][1] == "http://ep-b.ml.svc.cluster.local:9090/metrics"
    assert status["conditions"][0]["status"] == "True"

    missing = sync_e(endpoint())
    assert missing["status"]["conditions"][0]["reason"] == "ConfigNotFound"
    assert len(missing["children"]) == 1


def test_endpoint_tls_and_port() -> None:
    answer = sync_e(endpoint(tls={"credentialName": "models-cert"}, port=8080))
    servers = answer["children"][0]["spec"]["servers"]
    assert servers[1] == {
        "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
        "hosts": ["models.example.com"],
        "tls": {"mode": "SIMPLE", "credentialName": "models-cert"},
    }
    assert answer["status"]["url"] == "https://models.example.com"
    assert sync_e(endpoint(port=8080))["status"]["url"] == "http://models.example.com:8080"


def test_a_derived_name_that_is_a_template_is_refused() -> None:
    models = [{"model": "b"}, {"model": "ep-b"}]
    answer = sync_c(config(models=models), related=[model("b"), model("ep-b")])
    ready = answer["status"]["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "DerivedNameConflict")
    derived = [m["metadata"]["name"] for m in of_kind(answer["children"], "Model")]
    assert derived == ["ep-ep-b"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "spec: must be an object"),
        ({"models": []}, "spec.models"),
        ({"models": [{"model": "a"}, {"model": "a"}]}, "spec.models[].model must be unique: a"),
        ({"models": [{"model": "a", "weight": 0}]}, "spec.models[].weight must not all be zero"),
    ],
)
def test_a_config_the_hook_cannot_use_is_invalid_and_keeps_the_children(
    spec: object, message: str
) -> None:
    good = sync_c(config(), related=TEMPLATES)
    answer = sync_c({**config(generation=2), "spec": spec}, good["children"], TEMPLATES)
    ready = answer["status"]["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "InvalidSpec")
    assert ready["message"].startswith(message)
    assert answer["children"] == good["children"]
    customize = customize_config(
        CustomizeRequest(parent={**config(), "spec": spec}), now=NOW, settings=Settings()
    )
    if spec is None:
        assert customize.related_resources == []


def test_an_endpoint_without_a_spec_is_invalid_and_keeps_its_gateway() -> None:
    good = sync_e(endpoint())
    bad = {**endpoint(), "spec": {"host": "models.example.com"}}
    answer = sync_endpoint(
        request(ENDPOINT, bad, good["children"]), now=NOW, settings=Settings()
    ).to_json()
    ready = answer["status"]["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["message"].startswith("spec.config")
    assert answer["children"] == good["children"]
    customize = customize_endpoint(CustomizeRequest(parent=bad), now=NOW, settings=Settings())
    assert customize.related_resources == []


def test_names_the_api_server_refuses_for_services_are_cleaned() -> None:
    answer = sync_c(config(name="1.ep"), related=TEMPLATES)
    names = {c["kind"]: c["metadata"]["name"] for c in answer["children"]}
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", names["Service"])
    assert answer["status"]["host"] == f"{names['Service']}.ml.svc.cluster.local"
    for derived in of_kind(answer["children"], "Model"):
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", derived["metadata"]["name"])
