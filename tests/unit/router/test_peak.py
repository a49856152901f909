from datetime import timedelta

import pytest

from hooks.inference import LAST_OBSERVATION_ANNOTATION, PEAK_MEMORY_ANNOTATION
from hooks.k8s.names import label_value
from hooks.router.peak import Observation, observations, pod_memory, samples
from hooks.router.state import view_of
from tests.conftest import NOW
from tests.unit.router.factory import inference_model, pod_metrics

GI = 1024**3
MI = 1024**2
REFRESH = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("reason", "memory", "want"),
    [
        ("one container", {"inference": "12Gi"}, 12 * GI),
        ("containers add up", {"inference": "12Gi", "sidecar": "512Mi"}, 12 * GI + 512 * MI),
        ("kilobytes as metrics-server reports them", {"inference": "1048576Ki"}, GI),
        ("unreadable usage is skipped", {"inference": "12Gi", "sidecar": "a lot"}, 12 * GI),
        ("no memory at all", {}, None),
    ],
)
def test_pod_memory(reason: str, memory: dict[str, str], want: int | None) -> None:
    assert pod_memory(pod_metrics("p", **memory)) == want, reason


def test_long_names_match_their_label_values() -> None:
    name = "a-model-with-a-name-far-longer-than-any-label-value-may-be-in-kubernetes"
    view = view_of(inference_model(name, model=name + "-served"))
    pod = pod_metrics("p", name=label_value(name), model="other", inference="1Gi")
    assert samples([pod], [view]) == {("ns", name): GI}
    pod = pod_metrics("p", name="other", model=label_value(name + "-served"), inference="2Gi")
    assert samples([pod], [view]) == {("ns", name): 2 * GI}


def test_samples_take_each_models_largest_pod() -> None:
    views = [
        view_of(inference_model("m", model="llama")),
        view_of(inference_model("other", model="mistral")),
    ]
    items = [
        pod_metrics("m-1", name="m", inference="10Gi"),
        pod_metrics("m-2", name="m", inference="14Gi"),
        # Found by its model label when the name label is not an InferenceModel's.
        pod_metrics("x-1", name="renamed", model="mistral", inference="3Gi"),
        # Another namespace's pod never counts for these models.
        pod_metrics("m-3", "elsewhere", name="m", inference="50Gi"),
        pod_metrics("stray", name="nobody", model="nothing", inference="1Gi"),
    ]
    assert samples(items, views) == {("ns", "m"): 14 * GI, ("ns", "other"): 3 * GI}


@pytest.mark.parametrize(
    ("reason", "annotations", "sample", "want"),
    [
        ("first observation", {}, 10 * GI, 10 * GI),
        (
            "the peak grew",
            {PEAK_MEMORY_ANNOTATION: "8Gi", LAST_OBSERVATION_ANNOTATION: "2026-01-15T10:29:00Z"},
            10 * GI,
            10 * GI,
        ),
        (
            "lower sample, fresh observation: nothing to write",
            {PEAK_MEMORY_ANNOTATION: "12Gi", LAST_OBSERVATION_ANNOTATION: "2026-01-15T10:29:00Z"},
            10 * GI,
            None,
        ),
        (
            "lower sample, stale observation: the peak is kept, the time refreshed",
            {PEAK_MEMORY_ANNOTATION: "12Gi", LAST_OBSERVATION_ANNOTATION: "2026-01-15T10:00:00Z"},
            10 * GI,
            12 * GI,
        ),
        (
            "no observation time yet",
            {PEAK_MEMORY_ANNOTATION: "12Gi"},
            10 * GI,
            12 * GI,
        ),
    ],
)
def test_observations(
    reason: str, annotations: dict[str, str], sample: int, want: int | None
) -> None:
    view = view_of(inference_model(annotations=annotations))
    got = observations({view.key: sample}, [view], now=NOW, refresh=REFRESH)
    assert got == ([Observation(view.key, want, NOW)] if want is not None else []), reason


def test_models_without_a_sample_are_left_alone() -> None:
    view = view_of(inference_model())
    assert observations({}, [view], now=NOW, refresh=REFRESH) == []
