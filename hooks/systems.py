"""Every controller of every system, in one list that the app, the CLI and the generators read."""

from __future__ import annotations

from hooks import inference, mlops, offload, prem
from hooks.crdgen import CustomResource
from hooks.registry import Controller

CONTROLLERS: tuple[Controller, ...] = (
    *inference.CONTROLLERS,
    *prem.CONTROLLERS,
    *mlops.CONTROLLERS,
    *offload.CONTROLLERS,
)
CUSTOM_RESOURCES: tuple[CustomResource, ...] = (
    *inference.CUSTOM_RESOURCES,
    *prem.CUSTOM_RESOURCES,
    *mlops.CUSTOM_RESOURCES,
    *offload.CUSTOM_RESOURCES,
)
