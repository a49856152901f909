"""Prem (seed 004): AIDeployment, AIModelMap and AutoNodeLabeler, group premlabs.io/v1alpha1."""

from hooks.prem.nodelabeler import CONTROLLERS as _LABELER_CONTROLLERS
from hooks.prem.nodelabeler import CUSTOM_RESOURCES as _LABELER_RESOURCES

CONTROLLERS = (*_LABELER_CONTROLLERS,)
CUSTOM_RESOURCES = (*_LABELER_RESOURCES,)
