"""The status of a Model, from what is observed and the rollout decided.

`servedRevision` is the revision the Service selects after this sync, and
`readyReplicas` that revision's ready pods: both are the same when a sync is
fed its own answer, so the status never flips between syncs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hooks.k8s.conditions import Want, merge_conditions
from hooks.k8s.objects import generation_of

from .api import (
    ARTIFACT_READY,
    AVAILABLE,
    READY,
    REASON_DOWNLOAD_FAILED,
    REASON_DOWNLOADED,
    REASON_DOWNLOADING,
    REASON_PENDING,
    REASON_READY,
    REASON_REVISION_NOT_READY,
    REASON_ROLLED_OUT,
    REASON_ROLLING_OUT,
    REASON_ROLLOUT_STALLED,
    REASON_SCALED_TO_ZERO,
    REASON_UNAVAILABLE,
    ROLLED_OUT,
    ModelSpec,
    ModelStatus,
    Phase,
)
from .children import monitoring_url
from .observe import ModelWorld, conditions_of, download_of
from .revisions import RevisionView, Rollout


def model_status(
    parent: Mapping[str, Any],
    spec: ModelSpec,
    world: ModelWorld,
    rollout: Rollout,
    *,
    now: datetime,
) -> dict[str, Any]:
    served = world.revision(rollout.serve)
    new = world.revision(rollout.wanted)
    ready_replicas = served.ready_replicas if served is not None else 0
    download = download_of(world.pods, rollout.wanted)
    new_ready = new is not None and new.ready
    wants: list[Want] = []

    if download.failure:
        wants.append(Want(ARTIFACT_READY, False, REASON_DOWNLOAD_FAILED, download.failure))
    elif download.done or (new is not None and new.ready_replicas > 0):
        wants.append(Want(ARTIFACT_READY, True, REASON_DOWNLOADED, f"{spec.artifact} is unpacked"))
    elif download.running:
        wants.append(
            Want(ARTIFACT_READY, False, REASON_DOWNLOADING, f"downloading {spec.artifact}")
        )
    elif spec.replicas == 0:
        wants.append(
            Want(ARTIFACT_READY, False, REASON_SCALED_TO_ZERO, "no pod runs to fetch the artifact")
        )
    else:
        wants.append(Want(ARTIFACT_READY, False, REASON_PENDING, "waiting for a pod to start"))

    if spec.replicas == 0 and not rollout.rolling:
        wants.append(Want(AVAILABLE, False, REASON_SCALED_TO_ZERO, "replicas is 0"))
    elif ready_replicas > 0:
        wants.append(
            Want(
                AVAILABLE,
                True,
                REASON_READY,
                f"revision {rollout.serve} has {ready_replicas} ready replicas behind the Service",
            )
        )
    else:
        wants.append(
            Want(AVAILABLE, False, REASON_UNAVAILABLE, "no ready replica behind the Service")
        )

    if not rollout.rolling and new_ready:
        wants.append(
            Want(ROLLED_OUT, True, REASON_ROLLED_OUT, f"revision {rollout.wanted} is served")
        )
    elif not rollout.rolling:
        wants.append(
            Want(
                ROLLED_OUT,
                False,
                REASON_PENDING,
                f"revision {rollout.wanted} is not ready yet ({_count(new, spec)} ready)",
            )
        )
    else:
        reason = REASON_ROLLING_OUT
        if download.failure:
            reason = REASON_DOWNLOAD_FAILED
        elif new is not None and new.stalled:
            reason = REASON_ROLLOUT_STALLED
        elif new is not None and not new.updated:
            reason = REASON_REVISION_NOT_READY
        wants.append(
            Want(
                ROLLED_OUT,
                False,
                reason,
                f"revision {rollout.wanted} has {_count(new, spec)} ready replicas; "
                f"revision {rollout.serve} keeps serving until it is ready",
            )
        )

    ready = not rollout.rolling and new_ready
    if ready and spec.replicas == 0:
        wants.insert(0, Want(READY, True, REASON_SCALED_TO_ZERO, "replicas is 0: nothing runs"))
    elif ready:
        wants.insert(0, Want(READY, True, REASON_READY, f"revision {rollout.wanted} is served"))
    else:
        first_false = next(w for w in wants if w.status is not True)
        wants.insert(0, Want(READY, False, first_false.reason, first_false.message))

    artifact = (
        spec.artifact if rollout.serve == rollout.wanted else world.artifact_of(rollout.serve)
    )
    status = ModelStatus(
        phase=_phase(ready, rollout, download.failure, download.running),
        ready=f"{ready_replicas}/{spec.replicas}",
        ready_replicas=ready_replicas,
        revision=rollout.wanted,
        served_revision=rollout.serve,
        served_artifact=artifact,
        monitoring_url=monitoring_url(world.name, world.namespace),
        conditions=[],
    )
    body = status.to_json()
    body["conditions"] = merge_conditions(
        conditions_of(parent),
        wants,
        now=now,
        generation=generation_of(parent),
    )
    return body


def _count(revision: RevisionView | None, spec: ModelSpec) -> str:
    ready = revision.ready_replicas if revision is not None else 0
    return f"{ready}/{spec.replicas}"


def _phase(ready: bool, rollout: Rollout, failure: str | None, downloading: bool) -> Phase:
    if failure:
        return "Failed"
    if ready:
        return "Ready"
    if rollout.rolling:
        return "RollingOut"
    if downloading:
        return "Downloading"
    return "Pending"


def failed_status(
    parent: Mapping[str, Any], world: ModelWorld, reason: str, message: str, *, now: datetime
) -> dict[str, Any]:
    """A spec only the hook can judge wrong: Failed, with the reason, children kept."""
    found = parent.get("status")
    previous: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    wants = [Want(READY, False, reason, message)]
    status = ModelStatus(
        phase="Failed",
        ready=previous.get("ready") if isinstance(previous.get("ready"), str) else None,
        served_revision=world.served,
        served_artifact=world.artifact_of(world.served) if world.served else None,
        monitoring_url=monitoring_url(world.name, world.namespace),
    )
    body = status.to_json()
    body["conditions"] = merge_conditions(
        conditions_of(parent), wants, now=now, generation=generation_of(parent)
    )
    return body
