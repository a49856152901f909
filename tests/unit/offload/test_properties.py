"""Any schema-valid ModelDeployment, with its workload and Service present and any HPA
reading, gives no exception, a status the CRD keeps, and the same answer when fed back."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.crdgen import crd_manifest
from hooks.offload.api import MODEL_DEPLOYMENTS
from hooks.offload.controller import sync
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.offload.factory import NAMESPACE, gateway_slice, request, user_service, workload
from tests.unit.test_properties import closed, objects_of

ROOT = crd_manifest(MODEL_DEPLOYMENTS)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
SPEC, STATUS = ROOT["properties"]["spec"], closed(ROOT["properties"]["status"])
HOOK_SETTINGS = Settings(offload_default_remote_backend='{"host": "remote.example.com"}')


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], Any, int]:
    spec = draw(objects_of(SPEC))
    # The references point at the objects present, as most real ones do.
    spec["modelSourceRef"] = {**spec["modelSourceRef"], "name": "php-apache", "kind": "Deployment"}
    spec["modelSourceRef"].pop("namespace", None)
    spec["serviceRef"] = {"name": "php-apache", "targetPort": 80}
    ready = draw(st.integers(0, 3))
    current = draw(
        st.lists(
            st.one_of(
                st.just({"type": ""}),
                st.builds(
                    lambda v: {
                        "type": "Resource",
                        "resource": {"name": "cpu", "current": {"averageUtilization": v}},
                    },
                    st.integers(0, 300),
                ),
            ),
            max_size=3,
        )
    )
    seconds = draw(st.integers(0, 1000))
    return spec, [workload(ready=ready), user_service(), gateway_slice()], current, seconds


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases())
def test_any_model_deployment(case: tuple[dict[str, Any], list[dict[str, Any]], Any, int]) -> None:
    spec, related, current, seconds = case
    parent: dict[str, Any] = {
        "apiVersion": "deployment.beamlit.com/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "php-apache", "namespace": NAMESPACE, "generation": 1},
        "spec": spec,
    }
    first_response = sync(request(parent, related=related), now=NOW, settings=HOOK_SETTINGS)
    repeated = sync(request(parent, related=related), now=NOW, settings=HOOK_SETTINGS)
    assert repeated.to_bytes() == first_response.to_bytes(), "not deterministic"
    first = first_response.to_json()
    jsonschema.validate(first["status"], STATUS)
    children = [
        {**copy.deepcopy(c), "metadata": {**c["metadata"], "namespace": NAMESPACE}}
        for c in first["children"]
    ]
    for child in children:
        if child["kind"] == "HorizontalPodAutoscaler":
            child["status"] = {
                "currentMetrics": current,
                "conditions": [{"type": "ScalingActive", "status": "True"}],
            }
    later = NOW + timedelta(seconds=seconds)
    second = sync(
        request({**parent, "status": first["status"]}, related=related, children=children),
        now=later,
        settings=HOOK_SETTINGS,
    ).to_json()
    jsonschema.validate(second["status"], STATUS)
    assert 0 <= second["status"]["remotePercentage"] <= 100
    again = sync(
        request({**parent, "status": second["status"]}, related=related, children=children),
        now=later,
        settings=HOOK_SETTINGS,
    ).to_json()
    assert again == second, "not idempotent"
