"""ModelDeployment and Policy on the real control plane.

The seeds' manifests apply unchanged (in `default`, as the walkthrough does) and the
walkthrough works: php-apache scaled to 0 sends 100 % to the remote through the
failover EndpointSlice, scaling back restores it, deleting the ModelDeployment leaves
the user's objects byte-identical. An HPA status over target for longer than the
window moves the split, written as the HPA controller would while a
ValidatingAdmissionPolicy keeps the real one's writes out of that test's namespace.
The routing objects validate against the real Istio and Gateway API CRDs, and the
metrics schema is the one the API server publishes for autoscaling/v2.

The session's hooks server has a default remote backend (fixtures_controllers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hooks.devcluster import LocalCluster, field_schema
from hooks.k8s.conditions import condition_of, rfc3339
from hooks.offload import envoy
from hooks.offload.metricspec import openapi_components
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "offloading"
MD = "deployment.beamlit.com/v1alpha1"
POLICY = "authorization.beamlit.com/v1alpha1"
PLURALS = {
    "Deployment": "deployments",
    "Service": "services",
    "ModelDeployment": "modeldeployments",
    "Policy": "policies",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "EndpointSlice": "endpointslices",
    "ConfigMap": "configmaps",
    "VirtualService": "virtualservices",
    "DestinationRule": "destinationrules",
    "HTTPRoute": "httproutes",
    "Secret": "secrets",
}
API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "ModelDeployment": MD,
    "Policy": POLICY,
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "EndpointSlice": "discovery.k8s.io/v1",
    "ConfigMap": "v1",
    "VirtualService": "networking.istio.io/v1",
    "DestinationRule": "networking.istio.io/v1",
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "Secret": "v1",
}


def path(kind: str, namespace: str, name: str = "") -> str:
    api_version = API_VERSIONS[kind]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    tail = f"/{name}" if name else ""
    return f"{prefix}/namespaces/{namespace}/{PLURALS[kind]}{tail}"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def create(http: httpx.Client, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path(obj["kind"], namespace), json=obj)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def update(http: httpx.Client, namespace: str, obj: dict[str, Any]) -> None:
    current = get(http, obj["kind"], namespace, obj["metadata"]["name"])
    assert current is not None
    body = {
        **obj,
        "metadata": {**obj["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]},
    }
    response = http.put(path(obj["kind"], namespace, obj["metadata"]["name"]), json=body)
    assert response.status_code == 200, response.text


def get(http: httpx.Client, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    response = http.get(path(kind, namespace, name))
    if response.status_code == 404:
        return None
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def listed(
    http: httpx.Client, kind: str, namespace: str, selector: str = ""
) -> list[dict[str, Any]]:
    params = {"labelSelector": selector} if selector else {}
    response = http.get(path(kind, namespace), params=params)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def delete(http: httpx.Client, kind: str, namespace: str, name: str) -> None:
    response = http.delete(path(kind, namespace, name), params={"propagationPolicy": "Foreground"})
    assert response.status_code in (200, 202, 404), response.text


def scale(http: httpx.Client, namespace: str, name: str, replicas: int) -> None:
    response = http.patch(
        path("Deployment", namespace, name) + "/scale",
        json={"spec": {"replicas": replicas}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def model_deployment(http: httpx.Client, namespace: str, name: str) -> dict[str, Any]:
    obj = get(http, "ModelDeployment", namespace, name)
    assert obj is not None
    return obj


def share(http: httpx.Client, namespace: str, name: str) -> int | None:
    status = model_deployment(http, namespace, name).get("status") or {}
    value = status.get("remotePercentage")
    return value if isinstance(value, int) else None


def wait_share(
    http: httpx.Client, namespace: str, name: str, want: int, timeout: float = 30
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = model_deployment(http, namespace, name)
        return obj if (obj.get("status") or {}).get("remotePercentage") == want else None

    return wait_for(probe, what=f"{name} remotePercentage {want}", timeout=timeout)


def reason(obj: dict[str, Any], kind: str = "Offloading") -> str | None:
    condition = condition_of(obj.get("status"), kind)
    return str(condition["reason"]) if condition else None


def ready_deployment(http: httpx.Client, namespace: str, name: str, replicas: int) -> bool:
    obj = get(http, "Deployment", namespace, name) or {}
    status = obj.get("status") or {}
    return bool(
        status.get("observedGeneration") == obj["metadata"].get("generation")
        and (status.get("readyReplicas") or 0) == replicas
        and (status.get("replicas") or 0) == replicas
    )


def user_objects(http: httpx.Client, namespace: str, name: str) -> dict[str, Any]:
    """The user's Service, Deployment and the Service's controller-managed slices, whole."""
    slices = listed(
        http,
        "EndpointSlice",
        namespace,
        f"kubernetes.io/service-name={name},"
        "endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io",
    )
    return {
        "service": get(http, "Service", namespace, name),
        "deployment": get(http, "Deployment", namespace, name),
        "slices": sorted(slices, key=lambda s: s["metadata"]["name"]),
    }


def settled(http: httpx.Client, namespace: str, name: str, quiet: float = 3.0) -> bool:
    """The object keeps its resourceVersion for `quiet` seconds."""
    before = model_deployment(http, namespace, name)["metadata"]["resourceVersion"]
    time.sleep(quiet)
    return bool(model_deployment(http, namespace, name)["metadata"]["resourceVersion"] == before)


def failover_slice(http: httpx.Client, namespace: str, service: str) -> dict[str, Any] | None:
    found = listed(
        http,
        "EndpointSlice",
        namespace,
        f"kubernetes.io/service-name={service},endpointslice.kubernetes.io/managed-by=offload.aihooks.dev",
    )
    return found[0] if found else None


@pytest.fixture
def default_namespace(cluster: LocalCluster) -> Iterator[httpx.Client]:
    """The `default` namespace the seeds' manifests name, emptied of them afterwards."""
    with cluster.http() as http:
        yield http
        for kind, name in (
            ("ModelDeployment", "php-apache"),
            ("ModelDeployment", "my-model"),
            ("Policy", "my-policy"),
            ("Deployment", "php-apache"),
            ("Service", "php-apache"),
        ):
            delete(http, kind, "default", name)


def test_seed_walkthrough(controllers: object, default_namespace: httpx.Client) -> None:
    http = default_namespace
    for doc in documents("php-apache.yaml"):
        create(http, "default", doc)
    wait_for(lambda: ready_deployment(http, "default", "php-apache", 1), what="php-apache ready")
    before = user_objects(http, "default", "php-apache")
    (seed,) = documents("php-apache-modeldeployment.yaml")
    create(http, "default", seed)
    wait_for(
        lambda: ready_deployment(http, "default", "php-apache-offload", 2),
        what="the offload gateway ready",
        timeout=60,
    )
    obj = wait_for(
        lambda: (lambda o: o if (o.get("status") or {}).get("backend") else None)(
            model_deployment(http, "default", "php-apache")
        ),
        what="php-apache with its backend",
    )
    status = obj["status"]
    # Without a metrics pipeline the HPA cannot measure cpu: a condition, 0 % held.
    assert reason(obj) in ("BelowTarget", "MetricsUnavailable")
    # No hot loop: once settled, the ModelDeployment is not written again.
    wait_for(lambda: settled(http, "default", "php-apache"), what="a settled ModelDeployment")

    # The HPA controller reads the ModelDeployment through its scale subresource (once
    # its discovery, refreshed every 30 s, knows the CRD installed at the session's start).
    def able_to_scale() -> dict[str, Any] | None:
        hpa = get(http, "HorizontalPodAutoscaler", "default", "php-apache-metrics") or {}
        able = condition_of(hpa.get("status"), "AbleToScale") or {}
        return dict(able) if able.get("status") == "True" else None

    able = wait_for(able_to_scale, what="the metrics HPA AbleToScale", timeout=90)
    assert able["reason"] == "SucceededGetScale", able
    assert status["remotePercentage"] == 0
    assert status["backend"] == "e2e-remote"
    assert status["selector"] == "run=php-apache"
    assert status["sourceReadyReplicas"] == 1
    assert failover_slice(http, "default", "php-apache") is None
    hpa = get(http, "HorizontalPodAutoscaler", "default", "php-apache-metrics")
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "ModelDeployment"
    scale_view = http.get(path("ModelDeployment", "default", "php-apache") + "/scale").json()
    assert scale_view["spec"]["replicas"] == 1
    assert scale_view["status"]["selector"] == "run=php-apache"

    # Total failure: every request goes to the remote, through the gateway's endpoints
    # added to the user's Service.
    scale(http, "default", "php-apache", 0)
    zero_ready = remote_all = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (zero_ready is None or remote_all is None):
        moment = time.monotonic()
        if zero_ready is None and ready_deployment(http, "default", "php-apache", 0):
            zero_ready = moment
        if remote_all is None and share(http, "default", "php-apache") == 100:
            remote_all = moment
        time.sleep(0.02)
    assert zero_ready is not None, "php-apache never reported 0 ready"
    assert remote_all is not None, "remotePercentage never reached 100"
    delay = remote_all - zero_ready
    log.info("remotePercentage 100 at %+.3fs from the Deployment reporting 0 ready", delay)
    assert delay < 2.0, f"remotePercentage reached 100 {delay:.2f}s after 0 ready"
    obj = model_deployment(http, "default", "php-apache")
    assert reason(obj) == "SourceUnavailable"
    assert obj["status"]["offloadingStatus"] is True
    gateway_pods = {
        pod["status"]["podIP"]
        for pod in http.get(
            "/api/v1/namespaces/default/pods",
            params={"labelSelector": "deployment.beamlit.com/offload-gateway=php-apache"},
        ).json()["items"]
        if pod["status"].get("podIP")
    }

    def failover_lists_the_gateway() -> dict[str, Any] | None:
        found = failover_slice(http, "default", "php-apache")
        addresses = {a for e in (found or {}).get("endpoints") or () for a in e["addresses"]}
        return found if found and addresses == gateway_pods else None

    endpoint_slice = wait_for(failover_lists_the_gateway, what="the failover EndpointSlice")
    assert endpoint_slice["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]

    # Recovery: back to the metric-driven share.
    scale(http, "default", "php-apache", 1)
    wait_share(http, "default", "php-apache", 0)
    wait_for(lambda: failover_slice(http, "default", "php-apache") is None, what="slice removed")
    wait_for(lambda: ready_deployment(http, "default", "php-apache", 1), what="php-apache back")

    # The Service never changed; deleting the ModelDeployment leaves everything as it was.
    recovered = user_objects(http, "default", "php-apache")
    assert recovered["service"] == before["service"]
    delete(http, "ModelDeployment", "default", "php-apache")
    wait_for(
        lambda: get(http, "ModelDeployment", "default", "php-apache") is None,
        what="the ModelDeployment gone",
    )
    for kind, name in (
        ("Deployment", "php-apache-offload"),
        ("Service", "php-apache-offload"),
        ("Service", "php-apache-local"),
        ("HorizontalPodAutoscaler", "php-apache-metrics"),
    ):
        wait_for(lambda k=kind, n=name: get(http, k, "default", n) is None, what=f"{kind} {name}")
    assert user_objects(http, "default", "php-apache") == recovered


def test_seed_000_manifests_apply_unchanged(
    controllers: object, default_namespace: httpx.Client
) -> None:
    http = default_namespace
    (policy,) = documents("my-policy.yaml")
    create(http, "default", policy)
    (plain,) = documents("my-model.yaml")
    create(http, "default", plain)
    # my-model has no Service in this cluster: said so, nothing is created for it.
    obj = wait_for(
        lambda: (lambda o: o if reason(o, "Ready") == "ServiceNotFound" else None)(
            model_deployment(http, "default", "my-model")
        ),
        what="my-model ServiceNotFound",
    )
    assert "my-model" in condition_of(obj["status"], "Ready")["message"]  # type: ignore[index]
    (with_policies,) = documents("my-model-with-policies.yaml")
    update(http, "default", with_policies)

    def used() -> dict[str, Any] | None:
        found = get(http, "Policy", "default", "my-policy") or {}
        status = found.get("status") or {}
        return found if status.get("modelDeployments") == ["my-model"] else None

    used_policy = wait_for(used, what="my-policy used by my-model")
    assert used_policy["status"]["valid"] is True
    assert used_policy["status"]["modelDeploymentCount"] == 1
    table = http.get(
        path("ModelDeployment", "default"),
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    ).json()
    columns = [c["name"].upper() for c in table["columnDefinitions"]]
    assert columns == ["NAME", "MODEL", "SOURCE", "OFFLOADING", "REMOTE%", "AGE"]
    (row,) = [r for r in table["rows"] if r["cells"][0] == "my-model"]
    assert row["cells"][1:3] == ["my-model-on-Beamlit", "my-model"]


HPA_WRITES_BY_TEST_ONLY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {name}
spec:
  failurePolicy: Fail
  matchConstraints:
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: {namespace}
    resourceRules:
      - apiGroups: [autoscaling]
        apiVersions: ["*"]
        operations: [UPDATE]
        resources: [horizontalpodautoscalers/status]
  validations:
    - expression: >-
        has(object.status.conditions) && object.status.conditions.exists(c,
        c.type == 'ScalingActive' && c.message.startsWith('e2e:'))
      message: in this namespace only the test writes HPA status
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {name}
spec:
  policyName: {name}
  validationActions: [Deny]
"""


@pytest.fixture
def hpa_controller_kept_out(cluster: LocalCluster, namespace: str) -> Iterator[httpx.Client]:
    """The HPA controller's status writes refused in the test's namespace: the test
    writes the metrics HPA's status itself, as the HPA controller would."""
    name = f"e2e-hpa-status-{namespace}"
    objects = list(
        yaml.safe_load_all(HPA_WRITES_BY_TEST_ONLY.format(name=name, namespace=namespace))
    )
    with cluster.http() as http:
        base = "/apis/admissionregistration.k8s.io/v1"
        for obj, plural in zip(
            objects,
            ("validatingadmissionpolicies", "validatingadmissionpolicybindings"),
            strict=True,
        ):
            response = http.post(f"{base}/{plural}", json=obj)
            assert response.status_code == 201, response.text
        yield http
        for plural in ("validatingadmissionpolicybindings", "validatingadmissionpolicies"):
            http.delete(f"{base}/{plural}/{name}")


def write_hpa_status(http: httpx.Client, namespace: str, name: str, value: str | None) -> None:
    """A status such as the HPA controller writes for one Pods metric; `value` None: as
    it writes when the metric cannot be read."""
    hpa = get(http, "HorizontalPodAutoscaler", namespace, name)
    assert hpa is not None
    current = {"metric": {"name": "requests_in_flight"}, "current": {"averageValue": value}}
    active = {
        "type": "ScalingActive",
        "status": "True",
        "reason": "ValidMetricFound",
        "message": "e2e: the HPA was able to successfully calculate a replica count",
        "lastTransitionTime": rfc3339(datetime.now(UTC)),
    }
    if value is None:
        active = {
            **active,
            "status": "False",
            "reason": "FailedGetPodsMetric",
            "message": "e2e: unable to get metric requests_in_flight",
        }
    hpa["status"] = {
        "currentReplicas": 1,
        "desiredReplicas": 1,
        "currentMetrics": [{"type": "Pods", "pods": current}] if value else [{"type": ""}],
        "conditions": [active],
    }
    response = http.put(path("HorizontalPodAutoscaler", namespace, name) + "/status", json=hpa)
    assert response.status_code == 200, response.text


def workload(
    http: httpx.Client,
    namespace: str,
    name: str = "model",
    pod_annotations: dict[str, str] | None = None,
) -> None:
    """The walkthrough's php-apache, under another name."""
    for doc in documents("php-apache.yaml"):
        doc["metadata"]["name"] = name
        if doc["kind"] == "Deployment":
            doc["spec"]["selector"]["matchLabels"] = {"run": name}
            template = doc["spec"]["template"]["metadata"]
            template["labels"] = {"run": name}
            if pod_annotations:
                template["annotations"] = pod_annotations
        else:
            doc["spec"]["selector"] = {"run": name}
            doc["metadata"]["labels"] = {"run": name}
        create(http, namespace, doc)


def offloading(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": MD,
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": name,
            "modelSourceRef": {"kind": "Deployment", "name": "model"},
            "serviceRef": {"name": "model", "targetPort": 80},
            **spec,
        },
    }


def test_hpa_status_over_target_for_the_window_moves_the_split(
    controllers: object, namespace: str, hpa_controller_kept_out: httpx.Client
) -> None:
    http = hpa_controller_kept_out
    workload(http, namespace)
    config = {
        "metrics": [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "requests_in_flight"},
                    "target": {"type": "AverageValue", "averageValue": "10"},
                },
            }
        ],
        "behavior": {
            "percentage": 40,
            "scaleUp": {"stabilizationWindowSeconds": 3},
            "scaleDown": {"stabilizationWindowSeconds": 3},
        },
    }
    create(http, namespace, offloading("burst", offloadingConfig=config))
    wait_for(
        lambda: get(http, "HorizontalPodAutoscaler", namespace, "burst-metrics"),
        what="the metrics HPA",
    )
    write_hpa_status(http, namespace, "burst-metrics", "2")
    wait_for(
        lambda: reason(model_deployment(http, namespace, "burst")) == "BelowTarget",
        what="BelowTarget",
    )
    over_at = time.monotonic()
    write_hpa_status(http, namespace, "burst-metrics", "15")
    wait_for(
        lambda: (
            (model_deployment(http, namespace, "burst")["status"]["metrics"][0].get("current"))
            == "15"
        ),
        what="the reading 15",
    )
    assert share(http, namespace, "burst") == 0, "offloaded before the scaleUp window"
    obj = wait_share(http, namespace, "burst", 40, timeout=20)
    took = time.monotonic() - over_at
    log.info("offloaded %.2fs after the HPA reported over target (window 3s)", took)
    assert took >= 3.0
    assert reason(obj) == "MetricOverTarget"
    assert obj["status"]["metrics"] == [
        {"name": "Pods requests_in_flight", "current": "15", "target": "10", "over": True}
    ]
    assert gateway_share(gateway_config(http, namespace, "burst")) == 40

    # A metric that cannot be read holds the share, and says so.
    write_hpa_status(http, namespace, "burst-metrics", None)
    held = wait_for(
        lambda: (lambda o: o if reason(o) == "MetricsUnavailable" else None)(
            model_deployment(http, namespace, "burst")
        ),
        what="MetricsUnavailable",
    )
    assert (
        "unable to get metric requests_in_flight"
        in condition_of(held["status"], "Ready")[  # type: ignore[index]
            "message"
        ]
    )
    time.sleep(4)
    assert share(http, namespace, "burst") == 40
    under_at = time.monotonic()
    write_hpa_status(http, namespace, "burst-metrics", "3")
    wait_share(http, namespace, "burst", 0, timeout=20)
    took = time.monotonic() - under_at
    log.info("back to 0%% %.2fs after the HPA reported under target (window 3s)", took)
    assert took >= 3.0
    assert gateway_share(gateway_config(http, namespace, "burst")) == 0


def gateway_config(http: httpx.Client, namespace: str, name: str) -> dict[str, Any]:
    config = get(http, "ConfigMap", namespace, f"{name}-offload-envoy")
    assert config is not None
    return config


def gateway_share(config_map: dict[str, Any]) -> int:
    """The remote share of the gateway's route: what its local side (the cluster whose
    name starts with `local`) does not get."""
    routes = yaml.safe_load(config_map["data"][envoy.RDS_FILE])["resources"][0]
    action = routes["virtual_hosts"][0]["routes"][-1]["route"]
    if "cluster" in action:
        return 0 if action["cluster"].startswith("local") else 100
    clusters = action["weighted_clusters"]["clusters"]
    return 100 - sum(int(c["weight"]) for c in clusters if c["name"].startswith("local"))


def test_mesh_routing_objects_validate_and_follow_the_split(
    controllers: object, cluster: LocalCluster, namespace: str
) -> None:
    with cluster.http() as http:
        workload(http, namespace)
        create(http, namespace, offloading("mesh", routing={"mode": "istio"}, offloadingConfig={}))
        create(
            http,
            namespace,
            offloading("route", routing={"mode": "gatewayAPI"}, offloadingConfig={}),
        )
        parents = [{"name": "inference-gateway", "sectionName": "http"}]
        create(
            http,
            namespace,
            offloading(
                "gateway-route",
                routing={"mode": "gatewayAPI", "parentRefs": parents},
                offloadingConfig={},
            ),
        )

        def weights() -> tuple[list[int], list[int]] | None:
            service = get(http, "VirtualService", namespace, "mesh")
            route = get(http, "HTTPRoute", namespace, "route")
            if service is None or route is None:
                return None
            istio = [d["weight"] for d in service["spec"]["http"][0]["route"]]
            gateway_api = [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]]
            return istio, gateway_api

        assert wait_for(lambda: weights() == ([100, 0], [100, 0]), what="local weights")
        assert get(http, "DestinationRule", namespace, "mesh") is not None
        on_gateway = wait_for(
            lambda: get(http, "HTTPRoute", namespace, "gateway-route"), what="a Gateway's route"
        )
        assert on_gateway["spec"]["parentRefs"][0]["name"] == "inference-gateway"
        assert on_gateway["spec"]["parentRefs"][0]["kind"] == "Gateway"
        scale(http, namespace, "model", 0)
        wait_share(http, namespace, "mesh", 100)
        wait_share(http, namespace, "route", 100)
        wait_for(lambda: weights() == ([0, 100], [0, 100]), what="remote weights")
        # The meshes split; no EndpointSlice of the project's is added to the Service.
        assert failover_slice(http, namespace, "model") is None
        # The routes go with their ModelDeployment.
        delete(http, "ModelDeployment", namespace, "mesh")
        wait_for(lambda: get(http, "VirtualService", namespace, "mesh") is None, what="VS gone")
        assert get(http, "DestinationRule", namespace, "mesh") is None


@pytest.mark.parametrize(
    ("offloading_config", "says"),
    [
        (
            {
                "remoteBackend": {
                    "host": "api.example.com",
                    "authConfig": {
                        "type": "oauth",
                        "oauthConfig": {
                            "clientId": "id",
                            "clientSecret": "hunter2",
                            "tokenUrl": "https://auth.example.com/token",
                        },
                    },
                }
            },
            "put it in a Secret",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ]
            },
            "pods must be set when, and only when, type is Pods",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Value", "value": "1"}},
                    }
                ]
            },
            "target type must be one of Utilization, AverageValue",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "External",
                        "external": {"metric": {"name": "q"}, "target": {"type": "Value"}},
                    }
                ]
            },
            "a Value target needs value",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "q"},
                            "target": {"type": "AverageValue", "averageValue": "0"},
                        },
                    }
                ]
            },
            "averageValue must be a quantity above 0",
        ),
    ],
)
def test_the_api_server_rejects(
    controllers: object, cluster: LocalCluster, namespace: str, offloading_config: Any, says: str
) -> None:
    with cluster.http() as http:
        response = http.post(
            path("ModelDeployment", namespace),
            json=offloading("bad", offloadingConfig=offloading_config),
        )
    assert response.status_code == 422, response.text
    assert says in response.json()["message"]


def test_metrics_schema_is_the_one_kubernetes_publishes(
    controllers: object, cluster: LocalCluster
) -> None:
    with cluster.http() as http:
        published = http.get("/openapi/v3/apis/autoscaling/v2").json()["components"]["schemas"]
        for name, schema in openapi_components().items():
            assert published[name] == schema, f"{name} differs from the API server's"
        explained = wait_for(
            lambda: field_schema(
                http,
                "deployment.beamlit.com",
                "v1alpha1",
                "ModelDeployment",
                "spec.offloadingConfig.metrics.resource.target.averageUtilization",
            ),
            what="kubectl explain of the metrics field",
        )
    hpa = openapi_components()["io.k8s.api.autoscaling.v2.MetricTarget"]
    assert explained["description"] == hpa["properties"]["averageUtilization"]["description"]


def test_every_example_is_accepted(
    controllers: object, cluster: LocalCluster, namespace: str
) -> None:
    with cluster.http() as http:
        for example in sorted(EXAMPLES.glob("*.yaml")):
            for doc in documents(example.name):
                response = http.post(
                    path(doc["kind"], namespace), json=doc, params={"dryRun": "All"}
                )
                assert response.status_code == 201, f"{example.name}: {response.text}"


USAGE_CPU = "kwok.x-k8s.io/usage-cpu"
"""kwok's emulated cpu usage of a pod, which metrics-server scrapes (every 10 s)."""


def set_cpu_usage(http: httpx.Client, namespace: str, selector: str, usage: str) -> None:
    pods = http.get(f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector})
    pods.raise_for_status()
    for pod in pods.json()["items"]:
        response = http.patch(
            f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}",
            json={"metadata": {"annotations": {USAGE_CPU: usage}}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text


def test_emulated_cpu_through_metrics_server_moves_the_split(
    controllers: object, cluster: LocalCluster, namespace: str
) -> None:
    """kwok's usage -> metrics-server -> the HPA controller -> the ModelDeployment: 20m of a
    200m request is under a 50 % target, 180m is over it, and back."""
    with cluster.http() as http:
        workload(http, namespace, pod_annotations={USAGE_CPU: "20m"})
        config = {
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                }
            ],
            "behavior": {
                "percentage": 60,
                "scaleUp": {"stabilizationWindowSeconds": 5},
                "scaleDown": {"stabilizationWindowSeconds": 5},
            },
        }
        create(http, namespace, offloading("cpu", offloadingConfig=config))

        def measured(low: int, high: int) -> dict[str, Any] | None:
            obj = model_deployment(http, namespace, "cpu")
            metrics = (obj.get("status") or {}).get("metrics") or [{}]
            current = str(metrics[0].get("current") or "").rstrip("%")
            return obj if current.isdigit() and low <= int(current) <= high else None

        obj = wait_for(lambda: measured(0, 20), what="cpu measured under target", timeout=150)
        assert reason(obj) == "BelowTarget"
        assert obj["status"]["remotePercentage"] == 0
        set_cpu_usage(http, namespace, "run=model", "180m")
        started = time.monotonic()
        obj = wait_share(http, namespace, "cpu", 60, timeout=150)
        log.info("emulated cpu over target -> 60%% remote in %.1fs", time.monotonic() - started)
        assert reason(obj) == "MetricOverTarget"
        assert obj["status"]["metrics"][0]["over"] is True
        set_cpu_usage(http, namespace, "run=model", "20m")
        started = time.monotonic()
        wait_share(http, namespace, "cpu", 0, timeout=150)
        log.info("emulated cpu under target -> 0%% remote in %.1fs", time.monotonic() - started)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"type": "location"}, "a location policy needs at least one entry in locations"),
        (
            {"type": "flavor", "locations": [{"type": "country", "name": "us"}]},
            "a flavor policy needs at least one entry in flavors",
        ),
        ({"type": "location", "locations": [{"type": "city", "name": "x"}]}, "Unsupported value"),
    ],
)
def test_the_api_server_rejects_an_empty_policy(
    controllers: object, cluster: LocalCluster, namespace: str, spec: Any, says: str
) -> None:
    body = {"apiVersion": POLICY, "kind": "Policy", "metadata": {"name": "p"}, "spec": spec}
    with cluster.http() as http:
        response = http.post(path("Policy", namespace), json=body)
    assert response.status_code == 422, response.text
    assert says in response.json()["message"]
