from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.contract import CompositeRequest, CustomizeRequest, DecoratorRequest
from hooks.prem.gpu_classes import family, gpu_labels, marketed_gb, tier
from hooks.prem.nodelabeler import (
    LABELERS_KEY,
    NODES_KEY,
    OWNED_ANNOTATION,
    AutoNodeLabelerSpec,
    Labeler,
    customize_labeler,
    plan,
    sync_labeler,
    sync_node,
)
from hooks.settings import Settings
from tests.conftest import NOW

SETTINGS = Settings()


def labeler(name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "premlabs.io/v1alpha1",
        "kind": "AutoNodeLabeler",
        "metadata": {"name": name, "generation": 1, **metadata},
        "spec": spec,
    }


def node(name: str, labels: dict[str, str], owned: str | None = None) -> dict[str, Any]:
    annotations = {OWNED_ANNOTATION: owned} if owned is not None else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
    }


ARCH = {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
SEED = labeler("auto-node-labeler", {"labels": {"foo/bar.com": "baz"}, "matchExpression": ARCH})


def decorate(obj: dict[str, Any], *labelers: dict[str, Any]) -> dict[str, Any]:
    related = {LABELERS_KEY: {lab["metadata"]["name"]: lab for lab in labelers}}
    request = DecoratorRequest.model_validate({"object": obj, "related": related})
    return sync_node(request, now=NOW, settings=SETTINGS).to_json()


@pytest.mark.parametrize(
    ("reason", "expression", "labels", "matches"),
    [
        ("In matches a listed value", ARCH, {"kubernetes.io/arch": "amd64"}, True),
        ("In misses another value", ARCH, {"kubernetes.io/arch": "arm64"}, False),
        ("In misses a missing key", ARCH, {}, False),
        (
            "NotIn matches another value",
            {**ARCH, "operator": "NotIn"},
            {"kubernetes.io/arch": "arm64"},
            True,
        ),
        ("NotIn matches a missing key", {**ARCH, "operator": "NotIn"}, {}, True),
        (
            "NotIn misses a listed value",
            {**ARCH, "operator": "NotIn"},
            {"kubernetes.io/arch": "amd64"},
            False,
        ),
        ("Exists", {"key": "gpu", "operator": "Exists"}, {"gpu": ""}, True),
        ("Exists misses", {"key": "gpu", "operator": "Exists"}, {}, False),
        ("DoesNotExist", {"key": "gpu", "operator": "DoesNotExist"}, {}, True),
        ("DoesNotExist misses", {"key": "gpu", "operator": "DoesNotExist"}, {"gpu": "a"}, False),
    ],
)
def test_all_four_operators(
    reason: str, expression: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    answer = decorate(
        node("n", labels), labeler("l", {"labels": {"x": "y"}, "matchExpression": expression})
    )
    assert (answer["labels"].get("x") == "y") is matches, reason


def test_seed_example_labels_and_records_ownership() -> None:
    answer = decorate(node("n", {"kubernetes.io/arch": "amd64"}), SEED)
    assert answer["labels"] == {"foo/bar.com": "baz"}
    assert answer["annotations"] == {OWNED_ANNOTATION: "foo/bar.com"}


def test_labels_are_removed_when_the_node_stops_matching() -> None:
    labelled = node("n", {"kubernetes.io/arch": "arm64", "foo/bar.com": "baz"}, owned="foo/bar.com")
    answer = decorate(labelled, SEED)
    assert answer["labels"] == {"foo/bar.com": None}
    assert answer["annotations"] == {OWNED_ANNOTATION: None}


def test_labels_are_removed_when_the_labeler_is_deleted_or_changed() -> None:
    labelled = node("n", {"kubernetes.io/arch": "amd64", "foo/bar.com": "baz"}, owned="foo/bar.com")
    assert decorate(labelled)["labels"] == {"foo/bar.com": None}
    deleting = labeler("auto-node-labeler", SEED["spec"], deletionTimestamp="2026-01-01T00:00:00Z")
    assert decorate(labelled, deleting)["labels"] == {"foo/bar.com": None}
    changed = labeler("auto-node-labeler", {**SEED["spec"], "labels": {"other": "v"}})
    assert decorate(labelled, changed)["labels"] == {"other": "v", "foo/bar.com": None}


def test_labels_set_by_others_are_never_touched() -> None:
    by_hand = node("n", {"kubernetes.io/arch": "amd64", "foo/bar.com": "mine"})
    answer = decorate(by_hand, SEED)
    assert answer["labels"] == {}
    assert answer["annotations"] == {OWNED_ANNOTATION: None}


def test_a_labeler_cannot_unmatch_itself_with_its_own_labels() -> None:
    spec = {
        "labels": {"gpu": "none"},
        "matchExpression": {"key": "gpu", "operator": "DoesNotExist"},
    }
    fresh = decorate(node("n", {}), labeler("l", spec))
    assert fresh["labels"] == {"gpu": "none"}
    again = decorate(node("n", {"gpu": "none"}, owned="gpu"), labeler("l", spec))
    assert again["labels"] == {"gpu": "none"}


def test_conflicts_have_a_deterministic_winner_and_a_condition_on_the_loser() -> None:
    a = labeler("a-labeler", {"labels": {"tier": "gold"}})
    b = labeler("b-labeler", {"labels": {"tier": "silver", "zone": "z1"}})
    for order in ((a, b), (b, a)):
        assert decorate(node("n", {}), *order)["labels"] == {"tier": "gold", "zone": "z1"}
    related = {LABELERS_KEY: {"a-labeler": a, "b-labeler": b}, NODES_KEY: {"n": node("n", {})}}
    loser = sync_labeler(
        CompositeRequest(parent=b, related=related), now=NOW, settings=SETTINGS
    ).to_json()
    conditions = {c["type"]: c for c in loser["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Conflicting"]["status"] == "True"
    assert conditions["Conflicting"]["message"] == "n: tier=gold is set by a-labeler"
    winner = sync_labeler(
        CompositeRequest(parent=a, related=related), now=NOW, settings=SETTINGS
    ).to_json()
    assert {c["type"]: c["status"] for c in winner["status"]["conditions"]} == {
        "Ready": "True",
        "Conflicting": "False",
    }


def test_labeler_status_counts_and_bounds_matched_nodes() -> None:
    nodes = {f"n{i:02}": node(f"n{i:02}", {"kubernetes.io/arch": "amd64"}) for i in range(25)}
    nodes["arm"] = node("arm", {"kubernetes.io/arch": "arm64"})
    answer = sync_labeler(
        CompositeRequest(parent=SEED, related={NODES_KEY: nodes}), now=NOW, settings=SETTINGS
    ).to_json()
    assert answer["children"] == []
    assert answer["status"]["matchedNodes"] == 25
    assert answer["status"]["nodes"] == [f"n{i:02}" for i in range(20)]
    assert answer["status"]["conditions"][0]["message"] == "labels applied to 25 node(s)"


def test_customize_selects_nodes_by_the_expression_where_exact() -> None:
    rules = customize_labeler(CustomizeRequest(parent=SEED), now=NOW, settings=SETTINGS).to_json()
    nodes, labelers = rules["relatedResources"]
    assert nodes["labelSelector"] == {"matchExpressions": [ARCH]}
    assert labelers == {"apiVersion": "premlabs.io/v1alpha1", "resource": "autonodelabelers"}
    negative = labeler("l", {"labels": {}, "matchExpression": {**ARCH, "operator": "NotIn"}})
    rules = customize_labeler(
        CustomizeRequest(parent=negative), now=NOW, settings=SETTINGS
    ).to_json()
    assert "labelSelector" not in rules["relatedResources"][0]


def test_gpu_class_labels_are_opt_in() -> None:
    gfd = {
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
        "nvidia.com/gpu.memory": "81920",
        "nvidia.com/gpu.count": "8",
    }
    plain = decorate(node("n", gfd), labeler("l", {"labels": {"x": "y"}}))
    assert plain["labels"] == {"x": "y"}
    classes = decorate(node("n", gfd), labeler("l", {"gpuClassLabels": True}))
    assert classes["labels"] == {
        "premlabs.io/gpu-class": "a100-80gb",
        "premlabs.io/gpu-count": "8",
        "premlabs.io/gpu-memory-tier": "xlarge",
    }


@pytest.mark.parametrize(
    ("product", "mib", "cls", "tier_name"),
    [
        ("NVIDIA-A100-SXM4-80GB", 81920, "a100-80gb", "xlarge"),
        ("NVIDIA-A100-SXM4-40GB", 40960, "a100-40gb", "medium"),
        ("NVIDIA-H100-80GB-HBM3", 81559, "h100-80gb", "xlarge"),
        ("Tesla-T4", 15360, "t4-16gb", "small"),
        ("NVIDIA-L4", 23034, "l4-24gb", "medium"),
        ("NVIDIA-A10G", 23028, "a10g-24gb", "medium"),
        ("NVIDIA-L40S", 46068, "l40s-48gb", "large"),
        ("NVIDIA-GeForce-RTX-4090", 24564, "rtx4090-24gb", "medium"),
        ("NVIDIA-H200", 143771, "h200-141gb", "xlarge"),
    ],
)
def test_gpu_class_table(product: str, mib: int, cls: str, tier_name: str) -> None:
    labels = gpu_labels({"nvidia.com/gpu.product": product, "nvidia.com/gpu.memory": str(mib)})
    assert labels == {"premlabs.io/gpu-class": cls, "premlabs.io/gpu-memory-tier": tier_name}


def test_unknown_gpus_get_no_class() -> None:
    assert family("Quadro-Something") is None
    assert gpu_labels({"nvidia.com/gpu.product": "NVIDIA-A100"}) == {}
    assert marketed_gb(15360) == 16
    assert tier(24) == "medium"


_KEYS = st.sampled_from(["a", "b", "c/d", "e"])
_SPECS = st.fixed_dictionaries(
    {"labels": st.dictionaries(_KEYS, st.sampled_from(["1", "2"]), max_size=3)},
    optional={
        "matchExpression": st.fixed_dictionaries(
            {"key": _KEYS, "operator": st.sampled_from(["Exists", "DoesNotExist"])}
        )
    },
)


@given(
    st.lists(_SPECS, max_size=4),
    st.dictionaries(_KEYS, st.sampled_from(["1", "2", "3"]), max_size=3),
)
def test_plan_is_order_independent_and_converges(
    specs: list[dict[str, Any]], labels: dict[str, str]
) -> None:
    labelers = [
        Labeler(f"l{i}", AutoNodeLabelerSpec.model_validate(s)) for i, s in enumerate(specs)
    ]
    first = plan(labelers, labels)
    assert plan(list(reversed(labelers)), labels).desired == first.desired
    assert not set(first.desired) & set(labels), "never overwrites a label it does not own"
    # Applying the plan and syncing again gives the same labels (no flip-flop).
    applied = node("n", {**labels, **first.desired}, owned=",".join(sorted(first.desired)))
    related = {f"l{i}": labeler(f"l{i}", s) for i, s in enumerate(specs)}
    answer = sync_node(
        DecoratorRequest.model_validate({"object": applied, "related": {LABELERS_KEY: related}}),
        now=NOW,
        settings=SETTINGS,
    ).to_json()
    assert {k: v for k, v in answer["labels"].items() if v is not None} == first.desired
