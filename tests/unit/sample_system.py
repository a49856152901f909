"""A small test-only system: the foundation's tests exercise the app, the CLI and the
generators on it, independent of the real systems."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeRequest,
    CustomizeResponse,
    DecoratorRequest,
    DecoratorResponse,
    RelatedResourceRule,
)
from hooks.crdgen import CustomResource, PrinterColumn, Scale
from hooks.k8s.conditions import CONDITIONS_SCHEMA_EXTRA, Condition, Want, merge_conditions
from hooks.k8s.model import KubeModel
from hooks.k8s.objects import generation_of, name_of, new_object
from hooks.registry import Controller, Resource
from hooks.settings import Settings


class Port(KubeModel):
    port: int = Field(ge=1, le=65535)
    """Port number."""
    protocol: Literal["TCP", "UDP"] = "TCP"


class WidgetSpec(KubeModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self.minReplicas <= self.replicas", "message": "minReplicas > replicas"}
            ]
        }
    )

    image: str = Field(min_length=1)
    """Container image."""
    replicas: int = Field(default=1, ge=0, le=10)
    min_replicas: int = 0
    memory: str = Field(default="1Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)$")
    node_selector: dict[str, str] = Field(default_factory=lambda: {"pool": "default"})
    ports: list[Port] = Field(default_factory=list)
    template: dict[str, Any] | None = None
    target_port: int | str | None = None
    ratio: float = Field(default=0.5, gt=0, lt=1)


class WidgetStatus(KubeModel):
    replicas: int = 0
    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA
    )


WIDGETS = CustomResource(
    group="test.aihooks.dev",
    version="v1alpha1",
    kind="Widget",
    plural="widgets",
    spec=WidgetSpec,
    status=WidgetStatus,
    short_names=("wd",),
    printer_columns=(PrinterColumn("Replicas", "integer", ".status.replicas"),),
    scale=Scale(".spec.replicas", ".status.replicas"),
)

CONFIGMAP = Resource("v1", "configmaps", "ConfigMap", update="InPlace")


def sync(request: CompositeRequest, *, now: datetime, settings: Settings) -> CompositeResponse:
    spec = WidgetSpec.model_validate(request.parent.get("spec", {}))
    if spec.image == "explode":
        raise RuntimeError("boom")
    child = new_object("v1", "ConfigMap", name_of(request.parent), labels={"app": "widget"})
    child["data"] = {"image": spec.image}
    previous = request.parent.get("status", {}).get("conditions")
    status = WidgetStatus(
        replicas=spec.replicas,
        conditions=[
            Condition.model_validate(c)
            for c in merge_conditions(
                previous,
                [Want("Ready", True, "Synced", "ok")],
                now=now,
                generation=generation_of(request.parent),
            )
        ],
    )
    return CompositeResponse(status=status.to_json(), children=[child], resync_after_seconds=30)


def customize(request: CustomizeRequest, *, now: datetime, settings: Settings) -> CustomizeResponse:
    return CustomizeResponse(
        related_resources=[RelatedResourceRule(api_version="v1", resource="nodes", names=["a"])]
    )


def label_nodes(
    request: DecoratorRequest, *, now: datetime, settings: Settings
) -> DecoratorResponse:
    return DecoratorResponse(labels={"widget": "yes", "old": None})


WIDGET_CONTROLLER = Controller(
    name="widget",
    kind="CompositeController",
    parent=Resource("test.aihooks.dev/v1alpha1", "widgets", "Widget"),
    sync=sync,
    customize=customize,
    children=(CONFIGMAP,),
)
NODE_CONTROLLER = Controller(
    name="widget-nodes",
    kind="DecoratorController",
    parent=Resource("v1", "nodes", "Node"),
    sync=label_nodes,
    parent_label_selector={"widget": "wanted"},
)
CONTROLLERS = (WIDGET_CONTROLLER, NODE_CONTROLLER)


def widget(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "test.aihooks.dev/v1alpha1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "ns", "generation": 2, **metadata},
        "spec": spec,
    }
