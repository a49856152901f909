"""Requests for the MLOps hooks, built as Metacontroller v2 sends them."""

from __future__ import annotations

import copy
from typing import Any

from hooks.contract import CompositeRequest
from hooks.mlops.controller import ENDPOINT, ENDPOINT_CONFIG, MODEL
from hooks.registry import Controller
from hooks.render import object_map

NAMESPACE = "ml"
ARTIFACT = "https://models.example.com/m/v1.tar.gz"


def model(name: str = "m", generation: int = 1, **spec: Any) -> dict[str, Any]:
    body = {"image": "server:1", "artifact": ARTIFACT, **spec}
    return {
        "apiVersion": "mlops.aihooks.dev/v1alpha1",
        "kind": "Model",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": generation, "uid": "u1"},
        "spec": body,
    }


def request(
    controller: Controller,
    parent: dict[str, Any],
    children: list[dict[str, Any]] = (),  # type: ignore[assignment]
    related: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> CompositeRequest:
    observed = copy.deepcopy(list(children))
    for child in observed:
        child["metadata"].setdefault("namespace", NAMESPACE)
    empty: dict[str, dict[str, Any]] = {child.key: {} for child in controller.children}
    return CompositeRequest(
        parent=parent,
        children={**empty, **object_map(observed, NAMESPACE)},
        related=object_map(list(related), NAMESPACE),
    )


def ready(deployment: dict[str, Any], ready_replicas: int | None = None) -> dict[str, Any]:
    """The Deployment as the Deployment controller reports it with its pods ready."""
    done = copy.deepcopy(deployment)
    replicas = done["spec"]["replicas"] if ready_replicas is None else ready_replicas
    done["metadata"]["generation"] = 1
    done["status"] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": done["spec"]["replicas"],
        "readyReplicas": replicas,
    }
    return done


def of_kind(children: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for c in children if c["kind"] == kind]


__all__ = ["ENDPOINT", "ENDPOINT_CONFIG", "MODEL", "model", "of_kind", "ready", "request"]
