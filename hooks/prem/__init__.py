"""Prem (seed 004): AIDeployment, AIModelMap and AutoNodeLabeler, group premlabs.io/v1alpha1."""

from hooks.prem import aideployment, modelmap, nodelabeler
from hooks.prem.api import AI_DEPLOYMENTS, AI_MODEL_MAPS

CONTROLLERS = (*aideployment.CONTROLLERS, *modelmap.CONTROLLERS, *nodelabeler.CONTROLLERS)
CUSTOM_RESOURCES = (AI_DEPLOYMENTS, AI_MODEL_MAPS, *nodelabeler.CUSTOM_RESOURCES)
