"""Two teams, one model name, one pool: a namesake in another namespace holds its memory.

`team-a/llama` and `team-b/llama` (48Gi each) on the session's A100 pool
(2 x 40Gi): their Deployments have the same name, and the second must wait
for the first rather than admit 96Gi into 80Gi.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, ServiceAccount

from hooks.k8s.conditions import condition_of
from tests.e2e.conftest import _namespace_name
from tests.e2e.test_inference import A100, create, manifest, replicas, wait_ready, wait_reason
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def other_namespace(request: pytest.FixtureRequest, kube: Client) -> Iterator[str]:
    name = _namespace_name(f"other-{request.node.name}")
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    wait_for(
        lambda: kube.get(ServiceAccount, "default", namespace=name),
        what=f"the default ServiceAccount in {name}",
    )
    yield name
    kube.delete(Namespace, name)


def test_a_namesake_in_another_namespace_is_not_overcommitted(
    controllers: object, kube: Client, namespace: str, other_namespace: str
) -> None:
    create(kube, namespace, manifest("llama", memory="48Gi", selector=A100))
    wait_ready(kube, namespace, "llama")
    create(kube, other_namespace, manifest("llama", memory="48Gi", selector=A100))
    waiting = wait_reason(kube, other_namespace, "llama", "InsufficientMemory")
    message = condition_of(waiting["status"], "Ready")["message"]  # type: ignore[index]
    assert f"blocking: {namespace}/llama (48Gi)" in message
    assert replicas(kube, other_namespace, "llama") == 0
    assert replicas(kube, namespace, "llama") == 1
