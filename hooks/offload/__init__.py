"""Offloading (seeds 000, 001): ModelDeployment and Policy, and the Envoy gateway they configure.

Modules, each one concern: `api` (models, CRDs, names of headers and reasons),
`metricspec` (the autoscaling/v2 MetricSpec schema copied from Kubernetes),
`observe` (the request as views), `metrics` (each metric against its target),
`policy` (which remote backend), `decide` (the split, with its windows),
`children` (HPA, local Service, failover EndpointSlice, Istio and Gateway API
routes), `gateway` and `envoy` (the Envoy gateway), `status`, `meshes` (the
Istio and Gateway API decorators), `policy_controller` (a Policy's status) and
`controller` (the ModelDeployment hooks and the wiring).
"""

from .api import MODEL_DEPLOYMENTS, POLICIES
from .controller import CONTROLLERS

CUSTOM_RESOURCES = (MODEL_DEPLOYMENTS, POLICIES)

__all__ = ["CONTROLLERS", "CUSTOM_RESOURCES"]
