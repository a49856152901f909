"""Every controller of every system, in one list that the app, the CLI and the generators read."""

from __future__ import annotations

from hooks.crdgen import CustomResource
from hooks.registry import Controller

CONTROLLERS: tuple[Controller, ...] = ()
CUSTOM_RESOURCES: tuple[CustomResource, ...] = ()
