"""The router's two ways out to the cluster, as small interfaces.

`kube.py` implements them with lightkube; tests pass in-memory fakes. Keeping
them this narrow is what lets the demand writer and the observer be tested
without an API server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hooks.router.state import Key


class ModelGone(Exception):
    """The InferenceModel to annotate no longer exists."""


class MetricsUnavailable(Exception):
    """No metrics.k8s.io API answers (metrics-server not installed)."""


class AnnotationWriter(Protocol):
    async def annotate(self, key: Key, annotations: Mapping[str, str | None]) -> None:
        """Merge these annotations into the InferenceModel (None removes one); raise
        ModelGone if it is gone."""


class MetricsSource(Protocol):
    async def pod_metrics(self, labels: Mapping[str, str]) -> Sequence[Mapping[str, Any]]:
        """PodMetrics objects of every namespace matching the selector.

        Raise MetricsUnavailable when the API does not exist.
        """
