"""MLOps (seed 002): Model, EndpointConfig and Endpoint, group mlops.aihooks.dev/v1alpha1.

Modules, each one concern: `api` (models, CRDs, names of labels, ports and
reasons), `configs` (the pod's nginx, fluent-bit and download-script files from
`templates/`, and goreplay's flags), `children` (a Model's volume, revisions and
Service), `revisions` (blue/green), `observe` (a Model's request as views),
`status`, `routing` (derived Models, VirtualService, Gateway, weights),
`endpoints` (the EndpointConfig and Endpoint hooks) and `controller` (the Model
hooks and the wiring of all three).
"""

from .api import CUSTOM_RESOURCES
from .controller import CONTROLLERS

__all__ = ["CONTROLLERS", "CUSTOM_RESOURCES"]
