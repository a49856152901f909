"""The sync, finalize, customize and pool-label hooks, case by case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hooks.contract import CompositeRequest, CustomizeRequest, DecoratorRequest
from hooks.inference import controller
from hooks.inference.api import POOL_LABEL
from hooks.inference.observe import pool_id
from hooks.k8s.conditions import condition_of
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.inference.factory import (
    A100,
    DEFAULT,
    a100_nodes,
    deployment,
    model,
    node,
    request,
)

SETTINGS = Settings()
RECENT = NOW - timedelta(minutes=2)
OLD = NOW - timedelta(hours=3)


def sync(req: CompositeRequest) -> dict[str, Any]:
    return controller.sync(req, now=NOW, settings=SETTINGS).to_json()


def ready(answer: dict[str, Any]) -> tuple[str, str, str]:
    condition = condition_of(answer["status"], "Ready")
    assert condition is not None
    return condition["status"], condition["reason"], condition["message"]


def replicas(answer: dict[str, Any]) -> int | None:
    children = answer["children"]
    return children[0]["spec"]["replicas"] if children else None


def case(
    reason: str, req: CompositeRequest, status: str, why: str, count: int | None, says: str = ""
) -> Any:
    return pytest.param(req, status, why, count, says, id=reason)


llama = model("llama", memory="48Gi", last_request=RECENT)
mixtral = model("mixtral", memory="48Gi", last_request=NOW - timedelta(minutes=1))
idle_mixtral = model("mixtral", memory="48Gi", last_request=OLD)
app = model("app", memory="8Gi", selector=DEFAULT, last_request=RECENT, dependencies=["tok"])
tok = model("tok", memory="2Gi", selector=DEFAULT, last_request=OLD)
default_nodes = [node("d0", memory="64Gi", labels=DEFAULT)]

CASES = [
    case(
        "new model starts once",
        request(model("fresh", created=NOW - timedelta(minutes=1)), nodes=a100_nodes()),
        "False",
        "Deploying",
        1,
        "(0/1 ready)",
    ),
    case(
        "new model that never had a request cools down",
        request(model("fresh")),
        "False",
        "ScaledToZero",
        0,
        "no request since 2026-01-15T09:30:00Z; the cooldown of 10m ended at 2026-01-15T09:40:00Z",
    ),
    case(
        "running with demand and ready",
        request(llama, own=deployment(llama), nodes=a100_nodes()),
        "True",
        "Deployed",
        1,
        "Deployment is ready and serving traffic",
    ),
    case(
        "running, last request exactly one cooldown ago",
        request(
            model("llama", last_request=NOW - timedelta(minutes=10)),
            own=deployment(llama),
            nodes=a100_nodes(),
        ),
        "False",
        "ScaledToZero",
        0,
    ),
    case(
        "a running peer with demand blocks",
        request(llama, peers=[mixtral], deployments=[deployment(mixtral)], nodes=a100_nodes()),
        "False",
        "InsufficientMemory",
        0,
        "Insufficient memory in pool inference-pool=gpu-a100: requested 48Gi, available 32Gi "
        "of 80Gi; blocking: mixtral (48Gi)",
    ),
    case(
        "an idle peer still running is reclaimed first",
        request(
            llama,
            peers=[idle_mixtral],
            deployments=[deployment(idle_mixtral)],
            nodes=a100_nodes(),
        ),
        "False",
        "Pending",
        0,
        "Waiting for idle models to scale to zero: mixtral (48Gi)",
    ),
    case(
        "two waiting: the newest request wins",
        request(llama, peers=[mixtral], nodes=a100_nodes()),
        "False",
        "InsufficientMemory",
        0,
        "blocking: mixtral (48Gi)",
    ),
    case(
        "the other of the two starts",
        request(mixtral, peers=[llama], nodes=a100_nodes()),
        "False",
        "Deploying",
        1,
    ),
    case(
        "a peer that is not labelled yet is not in the queue",
        request(llama, peers=[model("mixtral", memory="48Gi", labelled=False)], nodes=a100_nodes()),
        "False",
        "Deploying",
        1,
    ),
    case(
        "unlabelled models wait for their pool label",
        request(model("llama", last_request=RECENT, labelled=False), nodes=a100_nodes()),
        "False",
        "Pending",
        0,
        f"Waiting for the label {POOL_LABEL}={pool_id(A100)}",
    ),
    case(
        "a missing dependency",
        request(app, nodes=default_nodes),
        "False",
        "Pending",
        0,
        "Waiting for dependencies: tok (no InferenceModel has this modelName)",
    ),
    case(
        "a dependency not ready yet",
        request(app, peers=[tok], nodes=default_nodes),
        "False",
        "Pending",
        0,
        "Waiting for dependencies: tok (not ready)",
    ),
    case(
        "a ready dependency",
        request(app, peers=[model("tok", selector=DEFAULT, ready=True)], nodes=default_nodes),
        "False",
        "Deploying",
        1,
    ),
    case(
        "a dependent's demand wakes the dependency",
        request(tok, peers=[app], nodes=default_nodes),
        "False",
        "Deploying",
        1,
    ),
    case(
        "a dependency cycle",
        request(
            model("a", last_request=RECENT, dependencies=["b"]),
            peers=[model("b", dependencies=["a"])],
            nodes=a100_nodes(),
        ),
        "False",
        "Failed",
        0,
        "Dependency cycle: a -> b -> a",
    ),
    case(
        "maxReplicas 0",
        request(model("llama", last_request=RECENT, maxReplicas=0), nodes=a100_nodes()),
        "False",
        "ScaledToZero",
        0,
        "maxReplicas is 0",
    ),
    case(
        "bigger than the pool",
        request(model("huge", memory="96Gi", last_request=RECENT), nodes=a100_nodes()),
        "False",
        "InsufficientMemory",
        0,
        "requested 96Gi, available 80Gi of 80Gi; blocking: none",
    ),
    case(
        "a pool without nodes",
        request(llama),
        "False",
        "InsufficientMemory",
        0,
        "available 0 of 0",
    ),
    case(
        "the Deployment cannot progress",
        request(
            llama,
            own={
                **deployment(llama, ready=0),
                "status": {
                    "replicas": 1,
                    "conditions": [
                        {
                            "type": "Progressing",
                            "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet llama-1 has timed out progressing.",
                        }
                    ],
                },
            },
            nodes=a100_nodes(),
        ),
        "False",
        "Failed",
        1,
        "Deployment ProgressDeadlineExceeded: ReplicaSet llama-1 has timed out progressing.",
    ),
    case(
        "growing a running model beyond the free memory",
        request(
            model("llama", memory="64Gi", last_request=RECENT),
            own=deployment(llama),
            peers=[model("small", memory="24Gi", last_request=RECENT)],
            deployments=[deployment(model("small", memory="24Gi"))],
            nodes=a100_nodes(),
        ),
        "False",
        "InsufficientMemory",
        0,
        "requested 64Gi, available 56Gi of 80Gi; blocking: small (24Gi)",
    ),
    case(
        "a request while the old pod still stops",
        request(llama, own=deployment(llama, replicas=0, pods=1), nodes=a100_nodes()),
        "False",
        "Pending",
        0,
        "Waiting for the previous pods to stop (1 left) before starting again",
    ),
    case(
        "growing a running model into free memory",
        request(
            model("llama", memory="64Gi", last_request=RECENT),
            own=deployment(llama),
            nodes=a100_nodes(),
        ),
        "True",
        "Deployed",
        1,
    ),
    case(
        "moving to another pool waits for the pods in the old one",
        request(
            model("llama", memory="48Gi", last_request=RECENT, selector=DEFAULT),
            own=deployment(llama),
            nodes=[node("d0", memory="32Gi", labels=DEFAULT)],
        ),
        "False",
        "Pending",
        0,
        "Moving to pool inference-pool=default: waiting for the pods in its previous pool",
    ),
    case(
        "then it is a new admission",
        request(
            model("llama", memory="48Gi", last_request=RECENT, selector=DEFAULT),
            own=deployment(llama, replicas=1, pods=0),
            nodes=[node("d0", memory="32Gi", labels=DEFAULT)],
        ),
        "False",
        "InsufficientMemory",
        0,
        "in pool inference-pool=default",
    ),
]


@pytest.mark.parametrize(("req", "status", "why", "count", "says"), CASES)
def test_sync(req: CompositeRequest, status: str, why: str, count: int | None, says: str) -> None:
    answer = sync(req)
    got_status, got_reason, message = ready(answer)
    assert (got_status, got_reason, replicas(answer)) == (status, why, count), message
    assert says in message
    available = condition_of(answer["status"], "Available")
    assert available is not None
    assert (available["status"] == "True") == (status == "True")
    assert answer["status"]["ready"] is (status == "True")


def test_resync_lands_at_the_end_of_the_cooldown() -> None:
    answer = sync(request(llama, own=deployment(llama), nodes=a100_nodes()))
    assert answer["resyncAfterSeconds"] == 8 * 60
    waiting = sync(request(llama, peers=[mixtral], deployments=[deployment(mixtral)]))
    assert waiting["resyncAfterSeconds"] == 8 * 60
    idle = sync(request(model("llama"), own=deployment(llama, replicas=0, pods=0)))
    assert "resyncAfterSeconds" not in idle


def test_status_is_honest_about_a_draining_model() -> None:
    cold = model("llama", last_request=OLD)
    answer = sync(request(cold, own=deployment(cold, replicas=1), nodes=a100_nodes()))
    assert replicas(answer) == 0
    assert answer["status"]["replicas"] == 1
    assert answer["status"]["ready"] is False


def test_external_backend() -> None:
    external = model("hosted", image="", last_request=RECENT)
    answer = sync(request(external, nodes=a100_nodes()))
    assert answer["children"] == []
    assert "ready" not in answer["status"]
    assert "replicas" not in answer["status"]
    assert ready(answer)[:2] == ("Unknown", "ExternallyManaged")
    dependent = model("app", last_request=RECENT, dependencies=["hosted"])
    started = sync(request(dependent, peers=[external], nodes=a100_nodes()))
    assert replicas(started) == 1, "an external dependency does not hold a model back"


def test_invalid_resources_keep_the_children() -> None:
    bad = model("llama", last_request=RECENT, resources={"limits": {"memory": "1Gi"}})
    own = deployment(llama)
    answer = sync(request(bad, own=own, nodes=a100_nodes()))
    assert ready(answer)[1] == "Failed"
    assert "memory request 16Gi is above its limit 1Gi" in ready(answer)[2]
    assert [c["metadata"]["name"] for c in answer["children"]] == ["llama"]
    assert "status" not in answer["children"][0]


def test_claims_follow_the_pods() -> None:
    smaller = model("llama", memory="16Gi", last_request=RECENT)
    answer = sync(request(smaller, own=deployment(llama), nodes=a100_nodes()))
    annotations = answer["children"][0]["metadata"]["annotations"]
    assert annotations["inference.eh-ops.io/memory"] == "48Gi", "its 48Gi pod still runs"
    fresh = sync(request(smaller, own=deployment(llama, replicas=0, pods=0), nodes=a100_nodes()))
    assert fresh["children"][0]["metadata"]["annotations"]["inference.eh-ops.io/memory"] == "16Gi"
    moved = model("llama", memory="48Gi", last_request=RECENT, selector=DEFAULT)
    moving = sync(request(moved, own=deployment(llama)))
    labels = moving["children"][0]["metadata"]["labels"]
    assert labels[POOL_LABEL] == pool_id(A100), "its pod is still in the old pool"


def test_invalid_cooldown_is_reported() -> None:
    bad = model("llama", last_request=RECENT, cooldown="9999999h")
    answer = sync(request(bad, nodes=a100_nodes()))
    assert ready(answer)[1] == "Failed"
    assert "cooldownPeriod '9999999h'" in ready(answer)[2]


def test_right_sizing_in_status() -> None:
    sized = model(
        "llama",
        memory="80Gi",
        last_request=RECENT,
        annotations={"inference.eh-ops.io/observed-peak-memory": "70Gi"},
    )
    answer = sync(request(sized, nodes=[*a100_nodes(), node("a100-2")]))
    assert answer["status"]["utilizationPercent"] == 87
    assert answer["status"]["recommendation"].startswith("Consider reducing memory from 80Gi")


def test_last_request_is_copied_to_the_deployment() -> None:
    answer = sync(request(llama, nodes=a100_nodes()))
    annotations = answer["children"][0]["metadata"]["annotations"]
    assert annotations["inference.eh-ops.io/last-request-time"] == "2026-01-15T10:28:00Z"
    garbled = model("llama", last_request="soon", created=NOW)
    answer = sync(request(garbled, nodes=a100_nodes()))
    assert (
        "inference.eh-ops.io/last-request-time"
        not in answer["children"][0]["metadata"]["annotations"]
    )


def test_transition_times_are_kept() -> None:
    first = sync(request(llama, own=deployment(llama), nodes=a100_nodes()))
    earlier = "2026-01-15T08:00:00Z"
    for condition in first["status"]["conditions"]:
        condition["lastTransitionTime"] = earlier
    again = sync(
        request({**llama, "status": first["status"]}, own=deployment(llama), nodes=a100_nodes())
    )
    assert {c["lastTransitionTime"] for c in again["status"]["conditions"]} == {earlier}


def finalize(req: CompositeRequest) -> dict[str, Any]:
    return controller.finalize(req, now=NOW, settings=SETTINGS).to_json()


def test_finalize_scales_down_then_deletes_then_lets_go() -> None:
    going = model("llama", memory="48Gi", last_request=RECENT, deleting=True)
    running = finalize(request(going, own=deployment(going)))
    assert replicas(running) == 0
    assert running["finalized"] is False
    assert ready(running)[1] == "Terminating"
    assert "scaling its Deployment to zero (1 pods left)" in ready(running)[2]
    drained = finalize(request(going, own=deployment(going, replicas=0, pods=0)))
    assert drained["children"] == []
    assert drained["finalized"] is False
    gone = finalize(request(going))
    assert gone == {**gone, "children": [], "finalized": True}
    assert "resyncAfterSeconds" not in gone
    assert sync(request(going)) == gone, "sync of a deleted model finalizes"


def test_customize_relates_the_pool_and_the_namespace() -> None:
    parent = model("llama", selector={"inference-pool": "gpu-a100", "accelerator": "a100"})
    rules = controller.customize(
        CustomizeRequest(parent=parent), now=NOW, settings=SETTINGS
    ).to_json()["relatedResources"]
    pool = pool_id({"accelerator": "a100", "inference-pool": "gpu-a100"})
    assert rules == [
        {
            "apiVersion": "v1",
            "resource": "nodes",
            "labelSelector": {"matchLabels": {"accelerator": "a100", "inference-pool": "gpu-a100"}},
        },
        {
            "apiVersion": "apps/v1",
            "resource": "deployments",
            "labelSelector": {
                "matchLabels": {"inference.eh-ops.io/managed": "true", POOL_LABEL: pool}
            },
        },
        {
            "apiVersion": "inference.eh-ops.io/v1alpha1",
            "resource": "inferencemodels",
            "labelSelector": {"matchLabels": {POOL_LABEL: pool}},
        },
        {
            "apiVersion": "inference.eh-ops.io/v1alpha1",
            "resource": "inferencemodels",
            "namespace": "ml",
        },
        {"apiVersion": "v1", "resource": "services", "namespace": "ml", "names": ["llama"]},
    ]


def test_pool_label_ignores_selector_order() -> None:
    def label(selector: dict[str, str]) -> dict[str, Any]:
        req = DecoratorRequest.model_validate({"object": model("m", selector=selector)})
        answer = controller.label_pool(req, now=NOW, settings=SETTINGS)
        return dict(answer.labels or {})

    one = label({"a": "1", "b": "2"})
    assert one == label({"b": "2", "a": "1"}) == {POOL_LABEL: pool_id({"a": "1", "b": "2"})}
    assert one != label({"a": "1"})


def test_a_namesake_in_another_namespace_holds_its_memory() -> None:
    """team-b/llama runs 48Gi in a 2 x 40Gi pool: team-a/llama (48Gi) must not start."""
    mine = model("llama", memory="48Gi", last_request=RECENT, namespace="team-a")
    theirs = model("llama", memory="48Gi", last_request=RECENT, namespace="team-b")
    answer = sync(
        request(mine, peers=[theirs], deployments=[deployment(theirs)], nodes=a100_nodes())
    )
    assert replicas(answer) == 0
    status, reason, message = ready(answer)
    assert (status, reason) == ("False", "InsufficientMemory")
    assert "blocking: team-b/llama (48Gi)" in message


def test_the_original_controllers_finalizer_is_reported_with_its_removal() -> None:
    finalizers = [
        "metacontroller.io/compositecontroller-inferencemodel",
        "inference.eh-ops.io/finalizer",
    ]
    legacy = model("llama", last_request=RECENT)
    legacy["metadata"]["finalizers"] = finalizers
    for answer in (
        sync(request(legacy, nodes=a100_nodes())),
        finalize(request({**legacy, "metadata": {**legacy["metadata"], "deletionTimestamp": "x"}})),
    ):
        condition = condition_of(answer["status"], "LegacyFinalizer")
        assert condition is not None
        assert (condition["status"], condition["reason"]) == ("True", "OriginalControllerFinalizer")
        assert condition["message"].endswith(
            "remove it with: kubectl patch inferencemodel llama -n ml --type json -p "
            '\'[{"op":"test","path":"/metadata/finalizers/1","value":"inference.eh-ops.io/finalizer"},'
            '{"op":"remove","path":"/metadata/finalizers/1"}]\''
        )
    assert (
        condition_of(sync(request(llama, nodes=a100_nodes()))["status"], "LegacyFinalizer") is None
    )


SERVICE_KEY = "Service.v1"


def _service(name: str, namespace: str = "ml", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"selector": {"app": "theirs"}, "ports": [{"port": 8000}]},
    }


def test_the_service_backend_url_names_is_a_child() -> None:
    answer = sync(request(llama, nodes=a100_nodes()))
    kinds = [(c["kind"], c["metadata"]["name"]) for c in answer["children"]]
    assert kinds == [("Deployment", "llama"), ("Service", "llama")]
    condition = condition_of(answer["status"], "BackendService")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("True", "ServiceManaged")
    assert condition["message"] == "Service llama sends port 8000 to this model's pods"
    elsewhere = model("far", last_request=RECENT, backendUrl="https://api.example.com")
    far = sync(request(elsewhere, nodes=a100_nodes()))
    assert [c["kind"] for c in far["children"]] == ["Deployment"]
    assert condition_of(far["status"], "BackendService") is None


def test_a_service_of_that_name_that_is_not_ours_is_left_alone() -> None:
    req = request(llama, nodes=a100_nodes())
    req.related.setdefault(SERVICE_KEY, {})["ml/llama"] = _service("llama")
    answer = sync(req)
    assert [c["kind"] for c in answer["children"]] == ["Deployment"]
    condition = condition_of(answer["status"], "BackendService")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "ServiceNotOwned")
    assert (
        "Service llama, which backendUrl names, exists and is not this model's"
        in (condition["message"])
    )
    assert ready(answer)[1] == "Deploying", "the model still runs"
    ours = request(llama, nodes=a100_nodes())
    first = sync(ours)
    service = next(c for c in first["children"] if c["kind"] == "Service")
    ours.children.setdefault(SERVICE_KEY, {})["ml/llama"] = service
    ours.related.setdefault(SERVICE_KEY, {})["ml/llama"] = service
    assert [c["kind"] for c in sync(ours)["children"]] == ["Deployment", "Service"]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"backendUrl": "http://llama:99999"}, "backendUrl 'http://llama:99999' has no usable"),
        ({"backendUrl": "http://[fd00::1:80"}, "backendUrl 'http://[fd00::1:80' has no usable"),
        ({"env": [{"name": "A"}]}, "env A: give exactly one of value and valueFrom"),
        (
            {"env": [{"name": "A", "valueFrom": {}}]},
            "env A: valueFrom takes exactly one of secretKeyRef and configMapKeyRef",
        ),
    ],
)
def test_what_only_the_hook_can_judge_fails_the_spec(fields: dict[str, Any], says: str) -> None:
    bad = model("llama", last_request=RECENT, **fields)
    answer = sync(request(bad, own=deployment(llama), nodes=a100_nodes()))
    assert ready(answer)[1] == "Failed"
    assert says in ready(answer)[2]
    assert [c["metadata"]["name"] for c in answer["children"]] == ["llama"], "children kept"


def test_a_backend_the_router_refuses_is_not_routable() -> None:
    refused = model(
        "far",
        last_request=RECENT,
        annotations={"inference.eh-ops.io/backend-refused": "backendUrl 'https://x' is not ..."},
    )
    answer = sync(request(refused, nodes=a100_nodes()))
    condition = condition_of(answer["status"], "Routable")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "BackendNotAllowed")
    assert condition["message"] == (
        "The request router refuses to forward to this backend: backendUrl 'https://x' is not ..."
    )
    assert condition_of(sync(request(llama, nodes=a100_nodes()))["status"], "Routable") is None
