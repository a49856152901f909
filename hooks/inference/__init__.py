"""InferenceModel (seed 003): models that scale to zero and share a node pool's memory budget.

Modules, each one concern: `api` (models, CRD, names of labels, annotations and
reasons), `demand` (cooldown and dependencies), `budget` (admission to a pool),
`observe` (the request as views), `decide` (replicas and why), `rightsizing`,
`children` (the Deployment), `status`, `shortage` (the InsufficientMemory
message, shared with the router) and `controller` (hooks and wiring).

What other processes (the request router, the metrics observer) reuse is
re-exported here.
"""

from .api import (
    BACKEND_REFUSED_ANNOTATION,
    INFERENCE_MODELS,
    LAST_OBSERVATION_ANNOTATION,
    LAST_REQUEST_ANNOTATION,
    PEAK_MEMORY_ANNOTATION,
    REASON_FAILED,
    REASON_INSUFFICIENT_MEMORY,
)
from .controller import CONTROLLERS
from .demand import DEFAULT_COOLDOWN, parse_cooldown, parse_time
from .shortage import ShortageDetails, shortage_of

CUSTOM_RESOURCES = (INFERENCE_MODELS,)

__all__ = [
    "BACKEND_REFUSED_ANNOTATION",
    "CONTROLLERS",
    "CUSTOM_RESOURCES",
    "DEFAULT_COOLDOWN",
    "LAST_OBSERVATION_ANNOTATION",
    "LAST_REQUEST_ANNOTATION",
    "PEAK_MEMORY_ANNOTATION",
    "REASON_FAILED",
    "REASON_INSUFFICIENT_MEMORY",
    "ShortageDetails",
    "parse_cooldown",
    "parse_time",
    "shortage_of",
]
