"""What a controller is made of: its hooks, the resources it owns, the CRDs it serves.

Every system describes its controllers with these types; `hooks.systems` lists
them; the app, the CLI and the generators of `crds/` and `metacontroller/` all
read that one list, so a route, a CRD and a controller object cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from hooks.contract import (
    CompositeRequest,
    CompositeResponse,
    CustomizeResponse,
    DecoratorRequest,
    DecoratorResponse,
)
from hooks.settings import Settings

UpdateMethod = Literal["OnDelete", "Recreate", "InPlace", "RollingRecreate", "RollingInPlace"]
HookName = Literal["sync", "finalize", "customize"]


@dataclass(frozen=True)
class Resource:
    """A kind a controller watches: parent, child, attachment or related."""

    api_version: str
    resource: str
    kind: str
    update: UpdateMethod | None = None

    @property
    def key(self) -> str:
        """The v2 object-map key (`Deployment.apps/v1`)."""
        return f"{self.kind}.{self.api_version}"


@dataclass(frozen=True)
class Controller:
    """One Metacontroller controller and its pure hooks.

    Every hook is `hook(request, *, now, settings) -> response`.
    """

    name: str
    kind: Literal["CompositeController", "DecoratorController"]
    parent: Resource
    sync: Callable[..., Any]
    children: tuple[Resource, ...] = ()
    finalize: Callable[..., Any] | None = None
    customize: Callable[..., Any] | None = None
    resync_period_seconds: int | None = None
    generate_selector: bool = True
    parent_label_selector: dict[str, str] | None = None

    @property
    def request_type(self) -> type[CompositeRequest] | type[DecoratorRequest]:
        return CompositeRequest if self.kind == "CompositeController" else DecoratorRequest

    def hooks(self) -> dict[HookName, Callable[..., Any]]:
        found: dict[HookName, Callable[..., Any] | None] = {
            "sync": self.sync,
            "finalize": self.finalize,
            "customize": self.customize,
        }
        return {name: hook for name, hook in found.items() if hook is not None}


def call_hook(
    hook: Callable[..., Any], request: Any, *, now: datetime, settings: Settings
) -> CompositeResponse | DecoratorResponse | CustomizeResponse:
    """Call a pure hook; the one place the calling convention is written down."""
    response = hook(request, now=now, settings=settings)
    if not isinstance(response, CompositeResponse | DecoratorResponse | CustomizeResponse):
        raise TypeError(f"hook {hook.__qualname__} returned {type(response).__name__}")
    return response
