"""Blue/green for a Model: which revisions run and which one the Service selects.

A revision is a stable hash of what changes the served bytes (artifact, its
checksum, image, command, args); each has a Deployment of its own. The decision
is a pure function of the revision the spec asks for, the one the observed
Service selects and the observed Deployments' readiness:

* nothing served yet (or the served revision's Deployment is gone): serve the
  wanted revision at once;
* the wanted revision is served: run only it;
* otherwise run both, keep serving the old one until the new one has all its
  replicas ready, then switch the Service; the old revision is dropped only on
  a later sync, once the Service is observed to select the new one, so the
  switch is applied before anything is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hooks.k8s.names import stable_hash
from hooks.k8s.objects import count_at, field_at, labels_of

from .api import REVISION_LABEL, ModelSpec


def revision_of(spec: ModelSpec) -> str:
    """The revision the spec asks for: a stable hash of the fields that change what is served."""
    fields = {
        "args": spec.args,
        "artifact": spec.artifact,
        "artifactChecksum": spec.artifact_checksum,
        "command": spec.command,
        "image": spec.image,
    }
    return stable_hash(json.dumps(fields, sort_keys=True, separators=(",", ":")), 10)


@dataclass(frozen=True)
class RevisionView:
    """One observed revision Deployment."""

    revision: str
    wanted_replicas: int
    ready_replicas: int
    updated: bool
    """The Deployment controller has seen its latest spec and every pod runs it."""
    stalled: bool
    """Its Progressing condition says the progress deadline passed."""

    @property
    def ready(self) -> bool:
        return self.updated and self.ready_replicas >= self.wanted_replicas


def read_revision(deployment: Mapping[str, Any]) -> RevisionView | None:
    """The view of a revision Deployment, or None when it carries no revision label."""
    revision = labels_of(deployment).get(REVISION_LABEL)
    if not revision:
        return None
    wanted = count_at(deployment, "spec", "replicas", default=1)
    generation = count_at(deployment, "metadata", "generation", default=0)
    observed_generation = count_at(deployment, "status", "observedGeneration", default=0)
    updated = observed_generation >= generation and (
        count_at(deployment, "status", "updatedReplicas") >= wanted
    )
    conditions = field_at(deployment, "status", "conditions")
    stalled = any(
        isinstance(c, Mapping)
        and c.get("type") == "Progressing"
        and c.get("reason") == "ProgressDeadlineExceeded"
        for c in (conditions if isinstance(conditions, list) else ())
    )
    return RevisionView(
        revision=revision,
        wanted_replicas=wanted,
        ready_replicas=count_at(deployment, "status", "readyReplicas"),
        updated=updated,
        stalled=stalled,
    )


@dataclass(frozen=True)
class Rollout:
    """What runs: the revision the Service selects, and the one kept beside it, if any."""

    wanted: str
    serve: str
    keep: str | None
    """The previously served revision, kept running (frozen) while `wanted` gets ready."""

    @property
    def rolling(self) -> bool:
        return self.serve != self.wanted


def decide_rollout(wanted: str, served: str | None, revisions: Sequence[RevisionView]) -> Rollout:
    """The blue/green step for this sync (see the module docstring)."""
    by_revision = {r.revision: r for r in revisions}
    if served is None or served == wanted or served not in by_revision:
        return Rollout(wanted=wanted, serve=wanted, keep=None)
    new = by_revision.get(wanted)
    if new is not None and new.ready:
        # Switch now, keep the old one until the switch is observed.
        return Rollout(wanted=wanted, serve=wanted, keep=served)
    return Rollout(wanted=wanted, serve=served, keep=served)
