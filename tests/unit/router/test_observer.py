import logging

import pytest

from hooks.inference import LAST_OBSERVATION_ANNOTATION, PEAK_MEMORY_ANNOTATION
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.metrics import RouterMetrics
from hooks.router.observer import PeakObserver
from tests.unit.router.factory import (
    Clock,
    FakeMetrics,
    FakeWriter,
    inference_model,
    pod_metrics,
    run,
)


def rig(*models: dict[str, object]) -> tuple[PeakObserver, Catalog, FakeMetrics, FakeWriter, Clock]:
    catalog = Catalog()
    catalog.replace_models(list(models) or [inference_model()])
    catalog.synced = True
    source, writer, clock = FakeMetrics(), FakeWriter(), Clock()
    observer = PeakObserver(
        source, writer, catalog, config=RouterConfig(), metrics=RouterMetrics(), clock=clock
    )
    return observer, catalog, source, writer, clock


def test_writes_the_peak_and_its_time_as_annotations() -> None:
    observer, _, source, writer, _ = rig()
    source.items = [pod_metrics("m-1", inference="12Gi", sidecar="512Mi")]
    run(observer.poll())
    assert source.selectors == [{"inference.eh-ops.io/managed": "true"}]
    assert writer.writes == [
        (
            ("ns", "m"),
            {
                PEAK_MEMORY_ANNOTATION: "12800Mi",
                LAST_OBSERVATION_ANNOTATION: "2026-01-15T10:30:00Z",
            },
        )
    ]


def test_the_peak_only_grows_even_before_the_watch_catches_up() -> None:
    observer, _, source, writer, clock = rig()
    source.items = [pod_metrics("m-1", inference="12Gi")]
    run(observer.poll())
    clock.advance(30)
    source.items = [pod_metrics("m-1", inference="8Gi")]
    run(observer.poll())  # the catalog still has no annotation: the observer remembers
    assert len(writer.writes) == 1
    source.items = [pod_metrics("m-1", inference="13Gi")]
    run(observer.poll())
    assert [w[PEAK_MEMORY_ANNOTATION] for _, w in writer.writes] == ["12Gi", "13Gi"]


def test_a_restarted_observer_continues_from_the_annotation() -> None:
    model = inference_model(
        annotations={
            PEAK_MEMORY_ANNOTATION: "20Gi",
            LAST_OBSERVATION_ANNOTATION: "2026-01-15T10:25:00Z",
        }
    )
    observer, _, source, writer, clock = rig(model)
    source.items = [pod_metrics("m-1", inference="12Gi")]
    run(observer.poll())
    assert writer.writes == []
    clock.advance(10 * 60)  # observation is now 15 minutes old: refresh it, keep the peak
    run(observer.poll())
    assert writer.writes[-1][1][PEAK_MEMORY_ANNOTATION] == "20Gi"
    assert writer.writes[-1][1][LAST_OBSERVATION_ANNOTATION] == "2026-01-15T10:40:00Z"


def test_without_a_metrics_api_it_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    observer, _, source, writer, _ = rig()
    source.unavailable = True
    with caplog.at_level(logging.INFO, logger="hooks.router.observer"):
        for _ in range(3):
            assert run(observer.poll()) == []
        source.unavailable = False
        source.items = [pod_metrics("m-1", inference="1Gi")]
        run(observer.poll())
    messages = [r.message for r in caplog.records]
    assert (
        messages.count("no metrics.k8s.io API: peak memory is not observed until one is installed")
        == 1
    )
    assert "metrics.k8s.io API available: observing peak memory" in messages
    assert len(writer.writes) == 1


def test_errors_are_logged_and_the_next_poll_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    observer, _, source, writer, clock = rig()
    source.items = [pod_metrics("m-1", inference="1Gi")]
    writer.fail = RuntimeError("conflict")
    with caplog.at_level(logging.WARNING, logger="hooks.router.observer"):
        assert run(observer.poll()) == []
    assert "could not write the observed peak" in [r.message for r in caplog.records]
    writer.fail = None
    assert len(run(observer.poll())) == 1
    writer.gone.add(("ns", "m"))
    clock.advance(11 * 60)
    assert run(observer.poll()) == []
    assert len(writer.writes) == 1
