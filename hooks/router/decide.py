"""What to do with one request, from what the router knows of its model.

Pure: the caller passes the model's current view (or None), how many
requests already wait for it and the configuration; the answer is forward,
hold, or a rejection with its reason. The hold loop calls `decide` again each
time the model's view changes, and `timed_out` when its wait runs out.
"""

from __future__ import annotations

from dataclasses import dataclass

from hooks.router import errors
from hooks.router.access import Refused, route
from hooks.router.config import RouterConfig
from hooks.router.errors import Rejection
from hooks.router.state import ModelView


@dataclass(frozen=True, slots=True)
class Forward:
    """Send the request to this backend now."""

    backend_url: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Wait for the model's next change (it is waking, or waiting on dependencies)."""


Decision = Forward | Hold | Rejection


def decide(
    view: ModelView | None,
    model: str,
    *,
    waiting: int,
    queued: bool,
    config: RouterConfig,
) -> Decision:
    """Forward, hold or reject a request for `model`.

    `waiting` is the number of requests held for this model, `queued` whether
    this request is one of them already (then the queue limit does not apply).
    """
    if view is None or view.deleting:
        return unknown_model(model)
    target = route(view.backend_url, view.namespace, config.allowed_backends)
    if isinstance(target, Refused):
        return not_allowed(model, target)
    if view.ready:
        return Forward(target)
    if view.shortage is not None:
        shortage = view.shortage
        blocking = ", ".join(shortage.blocking) or "none"
        return Rejection(
            429,
            errors.INSUFFICIENT_MEMORY,
            f"Model '{model}' needs {shortage.requested} but only {shortage.available} is free"
            f" in its node pool (blocking: {blocking}); retry later.",
            retry_after=config.insufficient_memory_retry_after_seconds,
            details=shortage.to_json(),
        )
    if view.failed:
        return Rejection(
            503,
            errors.MODEL_FAILED,
            f"Model '{model}' failed to deploy: {view.message or 'see its status'}",
            retry_after=config.retry_after_seconds,
        )
    if view.disabled:
        return Rejection(
            503,
            errors.MODEL_DISABLED,
            f"Model '{model}' is switched off (maxReplicas is 0).",
            retry_after=config.retry_after_seconds,
        )
    if not queued and waiting >= config.max_queue:
        return Rejection(
            429,
            errors.QUEUE_FULL,
            f"Model '{model}' is starting and {waiting} requests already wait for it; retry later.",
            retry_after=config.retry_after_seconds,
        )
    return Hold()


def not_allowed(model: str, refused: Refused) -> Rejection:
    """A backend the router does not forward to: never woken, never held."""
    return Rejection(
        403,
        errors.BACKEND_NOT_ALLOWED,
        f"The router does not forward requests for model '{model}': {refused.message}.",
    )


def unknown_model(model: str) -> Rejection:
    return Rejection(
        404,
        errors.MODEL_NOT_FOUND,
        f"The model '{model}' does not exist or you do not have access to it.",
        param="model",
    )


def timed_out(
    view: ModelView | None, model: str, *, waited: float, config: RouterConfig
) -> Rejection:
    """The answer to a held request whose wait ran out."""
    state = f" ({view.phase}: {view.message})" if view is not None and view.phase else ""
    return Rejection(
        503,
        errors.WAKE_TIMEOUT,
        f"Model '{model}' did not become ready within {waited:.0f}s{state}; retry later.",
        retry_after=config.retry_after_seconds,
    )


def shutting_down(model: str, *, config: RouterConfig) -> Rejection:
    """The answer to a held request when the router stops: retry on another replica."""
    return Rejection(
        503,
        errors.SHUTTING_DOWN,
        f"The router is shutting down while '{model}' is not ready yet; retry.",
        retry_after=config.retry_after_seconds,
    )
