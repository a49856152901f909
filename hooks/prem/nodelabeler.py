"""AutoNodeLabeler: labels on the Nodes that match an expression, removed when they no longer apply.

Two controllers share one pure rule (`plan`):
* `autonodelabeler-nodes` (DecoratorController on every Node) relates all
  AutoNodeLabelers and sets the union of the labels of those that match the node.
  The keys it set are recorded in the node annotation `premlabs.io/auto-labels`
  (comma-separated), so a key is removed (null) once no labeler wants it, and a
  label someone else put on the node is never touched.
* `autonodelabeler` (CompositeController on AutoNodeLabelers, no children)
  relates the Nodes it may match and the other labelers, and reports matched
  nodes and conflicts in status.

Expressions are evaluated on the node's labels *without* the ones this controller
set, so a labeler can never un-match itself by its own labels. When two labelers
set one key to different values, the labeler whose name sorts first wins and the
other reports `Conflicting=True`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationError

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    DecoratorRequest,
    DecoratorResponse,
    LabelSelector,
    RelatedResourceRule,
)
from hooks.crdgen import CustomResource, PrinterColumn
from hooks.k8s.conditions import CONDITIONS_SCHEMA_EXTRA, Condition, Want, merge_conditions
from hooks.k8s.model import KubeModel, describe_errors
from hooks.k8s.names import is_qualified_name
from hooks.k8s.objects import (
    JSON,
    annotations_of,
    field_at,
    generation_of,
    is_deleting,
    labels_of,
    name_of,
)
from hooks.k8s.schema import INT32, LABEL_MAX, LIST_MAX
from hooks.prem.api import API_VERSION, GROUP, VERSION
from hooks.prem.gpu_classes import gpu_labels
from hooks.registry import Controller, Resource
from hooks.settings import Settings

OWNED_ANNOTATION = "premlabs.io/auto-labels"
LABELERS_KEY = f"AutoNodeLabeler.{API_VERSION}"
NODES_KEY = "Node.v1"
MAX_LISTED_NODES = 20
_QUALIFIED_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"


class MatchExpression(KubeModel):
    """Which nodes: a label selector requirement on the node's labels."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.operator in ['In', 'NotIn'] ? size(self.values) > 0 "
                    ": size(self.values) == 0",
                    "message": "In and NotIn need values; Exists and DoesNotExist take none",
                }
            ]
        }
    )

    key: str = Field(min_length=1, max_length=316)
    """The node label key the requirement is about."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the key's value is compared: In, NotIn, Exists or DoesNotExist."""
    values: list[Annotated[str, Field(max_length=LABEL_MAX)]] = Field(
        default_factory=list, max_length=LIST_MAX
    )
    """The values for In and NotIn; empty for Exists and DoesNotExist."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return labels.get(self.key) not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


class AutoNodeLabelerSpec(KubeModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.labels.all(k, k.matches('{_QUALIFIED_KEY}'))",
                    "message": "label keys must be qualified names (optional DNS prefix/, "
                    "then at most 63 alphanumerics, '-', '_' or '.')",
                }
            ]
        }
    )

    match_expression: MatchExpression | None = None
    """The nodes to label; when absent, every node."""
    labels: dict[str, str] = Field(
        default_factory=dict,
        max_length=64,
        json_schema_extra={
            "additionalProperties": {
                "type": "string",
                "pattern": _LABEL_VALUE,
                "maxLength": LABEL_MAX,
            }
        },
    )
    """The labels to put on matching nodes."""
    gpu_class_labels: bool = False
    """Also derive normalized GPU labels (premlabs.io/gpu-class, gpu-memory-tier, gpu-count)
    from the NVIDIA GPU feature discovery labels of matching nodes."""


class AutoNodeLabelerStatus(KubeModel):
    matched_nodes: int = Field(default=0, json_schema_extra=INT32)
    """How many nodes match the expression."""
    nodes: list[str] = Field(default_factory=list)
    """The first matching nodes by name (at most 20)."""
    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )


AUTO_NODE_LABELERS = CustomResource(
    group=GROUP,
    version=VERSION,
    kind="AutoNodeLabeler",
    plural="autonodelabelers",
    spec=AutoNodeLabelerSpec,
    status=AutoNodeLabelerStatus,
    scope="Cluster",
    short_names=("anl",),
    categories=("aihooks", "prem"),
    description="Labels the Nodes that match an expression, and removes the labels again.",
    printer_columns=(
        PrinterColumn("Matched", "integer", ".status.matchedNodes"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
    ),
)


@dataclass(frozen=True)
class Labeler:
    name: str
    spec: AutoNodeLabelerSpec

    def wanted(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels this labeler wants on a node with these (own-label-free) labels."""
        expression = self.spec.match_expression
        if expression is not None and not expression.matches(labels):
            return {}
        wanted = dict(self.spec.labels)
        if self.spec.gpu_class_labels:
            wanted = {**gpu_labels(labels), **wanted}
        return wanted


@dataclass
class Plan:
    """What one node should carry, and who lost which key to whom."""

    desired: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)


def owned_keys(node: JSON) -> set[str]:
    """The label keys this controller set, from the node's annotation; anyone with rights
    on Nodes can edit it, so what is not a label key is not a key it set."""
    text = annotations_of(node).get(OWNED_ANNOTATION, "")
    return {key for key in text.split(",") if key and is_qualified_name(key)}


def own_label_free(node: JSON) -> dict[str, str]:
    """The node's labels minus those this controller set."""
    owned = owned_keys(node)
    return {k: v for k, v in labels_of(node).items() if k not in owned}


def plan(labelers: Sequence[Labeler], labels: Mapping[str, str]) -> Plan:
    """The labels for a node; the labeler whose name sorts first wins a contested key."""
    result = Plan()
    for labeler in sorted(labelers, key=lambda item: item.name):
        for key, value in sorted(labeler.wanted(labels).items()):
            if key in labels and labels[key] != value:
                result.conflicts.setdefault(labeler.name, []).append(
                    f"{key} is already {labels[key]!r} on the node (not set by a labeler)"
                )
            elif key in result.desired and result.desired[key] != value:
                result.conflicts.setdefault(labeler.name, []).append(
                    f"{key}={result.desired[key]} is set by {result.owners[key]}"
                )
            elif key not in labels and key not in result.desired:
                result.desired[key], result.owners[key] = value, labeler.name
    return result


def read_labelers(objects: Sequence[JSON]) -> list[Labeler]:
    """Labelers that are live and parse; an invalid one reports itself in its own status."""
    labelers = []
    for obj in objects:
        if is_deleting(obj):
            continue
        try:
            spec = AutoNodeLabelerSpec.model_validate(obj.get("spec") or {})
        except ValidationError:
            continue
        labelers.append(Labeler(name_of(obj), spec))
    return labelers


def sync_node(request: DecoratorRequest, *, now: datetime, settings: Settings) -> DecoratorResponse:
    node = request.object
    result = plan(read_labelers(request.related_of(LABELERS_KEY)), own_label_free(node))
    removed = {key: None for key in owned_keys(node) if key not in result.desired}
    labels: dict[str, str | None] = {**result.desired, **removed}
    owned = ",".join(sorted(result.desired)) or None
    return DecoratorResponse(labels=labels, annotations={OWNED_ANNOTATION: owned})


def customize_node(
    request: CustomizeRequest, *, now: datetime, settings: Settings
) -> CustomizeResponse:
    rule = RelatedResourceRule(api_version=API_VERSION, resource="autonodelabelers")
    return CustomizeResponse(related_resources=[rule])


def sync_labeler(
    request: CompositeRequest, *, now: datetime, settings: Settings
) -> CompositeResponse:
    parent = request.parent
    me = name_of(parent)
    try:
        spec = AutoNodeLabelerSpec.model_validate(parent.get("spec") or {})
    except ValidationError as error:
        return _invalid(parent, describe_errors(error, limit=1), now)
    labelers = [
        *(lab for lab in read_labelers(request.related_of(LABELERS_KEY)) if lab.name != me),
        Labeler(me, spec),
    ]
    matched: list[str] = []
    conflicts: list[str] = []
    for node in request.related_of(NODES_KEY):
        labels = own_label_free(node)
        if spec.match_expression is None or spec.match_expression.matches(labels):
            matched.append(name_of(node))
            conflicts += [
                f"{name_of(node)}: {c}" for c in plan(labelers, labels).conflicts.get(me, [])
            ]
    matched.sort()
    wanted = [
        Want(
            "Ready",
            not conflicts,
            "Conflict" if conflicts else "Applied",
            _ready_message(len(matched), conflicts),
        ),
        Want(
            "Conflicting",
            bool(conflicts),
            "LabelConflict" if conflicts else "NoConflict",
            "; ".join(conflicts[:10]) if conflicts else "no other labeler sets these keys",
        ),
    ]
    status = AutoNodeLabelerStatus(
        matched_nodes=len(matched),
        nodes=matched[:MAX_LISTED_NODES],
        conditions=[
            Condition.model_validate(c)
            for c in merge_conditions(
                field_at(parent, "status", "conditions"),
                wanted,
                now=now,
                generation=generation_of(parent),
            )
        ],
    )
    return CompositeResponse(status=status.to_json(), children=[])


def _invalid(parent: JSON, problem: str, now: datetime) -> CompositeResponse:
    """A spec the hook cannot read labels nothing; `Ready` names the field."""
    wanted = [Want("Ready", False, "InvalidSpec", problem)]
    conditions = merge_conditions(
        field_at(parent, "status", "conditions"), wanted, now=now, generation=generation_of(parent)
    )
    status = AutoNodeLabelerStatus(conditions=[Condition.model_validate(c) for c in conditions])
    return CompositeResponse(status=status.to_json(), children=[])


def _ready_message(count: int, conflicts: list[str]) -> str:
    if conflicts:
        return f"{len(conflicts)} label(s) are held by another labeler or were set by hand"
    return f"labels applied to {count} node(s)" if count else "no node matches"


def customize_labeler(
    request: CustomizeRequest, *, now: datetime, settings: Settings
) -> CustomizeResponse:
    """The Nodes it may match (by selector where that is exact) and the other labelers."""
    try:
        spec = AutoNodeLabelerSpec.model_validate(request.parent.get("spec") or {})
    except ValidationError:
        # sync reports the spec; its nodes cannot be told.
        return CustomizeResponse(related_resources=[])
    expression = spec.match_expression
    selector = None
    # A node this controller labelled may match In/Exists only through those labels,
    # which `own_label_free` then drops; NotIn/DoesNotExist could miss such nodes.
    if expression is not None and expression.operator in ("In", "Exists"):
        requirement: JSON = {"key": expression.key, "operator": expression.operator}
        if expression.values:
            requirement["values"] = list(expression.values)
        selector = LabelSelector(match_expressions=[requirement])
    return CustomizeResponse(
        related_resources=[
            RelatedResourceRule(api_version="v1", resource="nodes", label_selector=selector),
            RelatedResourceRule(api_version=API_VERSION, resource="autonodelabelers"),
        ]
    )


LABELERS = Resource(API_VERSION, "autonodelabelers", "AutoNodeLabeler")
CONTROLLERS = (
    Controller(
        name="autonodelabeler",
        kind="CompositeController",
        parent=LABELERS,
        sync=sync_labeler,
        customize=customize_labeler,
    ),
    Controller(
        name="autonodelabeler-nodes",
        kind="DecoratorController",
        parent=Resource("v1", "nodes", "Node"),
        sync=sync_node,
        customize=customize_node,
    ),
)
CUSTOM_RESOURCES = (AUTO_NODE_LABELERS,)
