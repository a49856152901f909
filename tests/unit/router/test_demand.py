import asyncio
import logging

import pytest

from hooks.inference import LAST_REQUEST_ANNOTATION
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.demand import DemandRecorder
from hooks.router.metrics import RouterMetrics
from tests.unit.router.factory import Clock, FakeWriter, inference_model, run

KEY = ("ns", "m")
CONFIG = RouterConfig()  # 10m cooldown -> one write a minute at most


class Rig:
    def __init__(self, *models: dict[str, object]) -> None:
        self.clock = Clock()
        self.writer = FakeWriter()
        self.catalog = Catalog()
        self.catalog.replace_models(models or [inference_model(ready=True)])
        self.metrics = RouterMetrics()
        self.recorder = DemandRecorder(
            self.writer, self.catalog, config=CONFIG, metrics=self.metrics, clock=self.clock
        )

    def request(self, model: str = "llama") -> None:
        view = self.catalog.get(model)
        assert view is not None
        self.recorder.record(view)

    async def flush(self) -> None:
        tasks = self.recorder.step()
        if tasks:
            await asyncio.gather(*tasks)

    def values(self) -> list[str]:
        return [w[LAST_REQUEST_ANNOTATION] for _, w in self.writer.writes]

    def written_back(self) -> None:
        """The watch brings the last write back into the catalog."""
        model = inference_model(ready=True, last_request=self.values()[-1])
        self.catalog.put_model(model)


def test_a_busy_ready_model_costs_one_write_per_interval() -> None:
    async def scenario() -> None:
        rig = Rig()
        for _ in range(600):  # ten requests a second for a minute
            rig.request()
            await rig.flush()
            rig.clock.advance(0.1)
        rig.request()
        await rig.flush()
        assert rig.values() == ["2026-01-15T10:30:00Z", "2026-01-15T10:31:00Z"]
        # Requests stop: the trailing write lands the last one, one interval later.
        rig.clock.advance(59)
        await rig.flush()
        assert len(rig.values()) == 2
        rig.clock.advance(1)
        await rig.flush()
        assert rig.values()[-1] == "2026-01-15T10:31:00Z"

    run(scenario())


def test_a_model_at_zero_is_written_at_once() -> None:
    async def scenario() -> None:
        rig = Rig(
            inference_model(ready=False, reason="ScaledToZero", last_request="2026-01-15T09:00:00Z")
        )
        rig.request()
        await rig.flush()
        assert rig.values() == ["2026-01-15T10:30:00Z"]
        # More requests while it wakes: the cluster already knows.
        rig.clock.advance(5)
        rig.request()
        await rig.flush()
        assert len(rig.values()) == 1

    run(scenario())


def test_an_annotation_written_by_another_replica_counts() -> None:
    async def scenario() -> None:
        rig = Rig(inference_model(ready=True, last_request="2026-01-15T10:29:50Z"))
        rig.request()
        await rig.flush()
        assert rig.values() == []
        rig.clock.advance(50)
        await rig.flush()
        assert rig.values() == ["2026-01-15T10:30:00Z"]

    run(scenario())


def test_record_wakes_the_writer_loop_only_when_needed() -> None:
    async def scenario() -> None:
        rig = Rig()
        loop = asyncio.create_task(rig.recorder.run())
        rig.request()
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(rig.values()) == 1
        rig.clock.advance(1)
        rig.request()  # due in 59s: the loop sleeps on
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(rig.values()) == 1
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop

    run(scenario())


def test_failed_writes_are_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        rig = Rig(inference_model(ready=False))
        rig.writer.fail = RuntimeError("apiserver unavailable")
        rig.request()
        with caplog.at_level(logging.WARNING, logger="hooks.router.demand"):
            await rig.flush()
        assert rig.values() == []
        assert any(r.message == "could not record demand; retrying" for r in caplog.records)
        rig.writer.fail = None
        rig.clock.advance(1)
        await rig.flush()
        assert rig.values() == []
        rig.clock.advance(1)
        await rig.flush()
        assert rig.values() == ["2026-01-15T10:30:00Z"]
        samples = {
            s.labels["result"]: s.value
            for s in rig.metrics.demand_writes.collect()[0].samples
            if s.name.endswith("_total")
        }
        assert samples == {"error": 1.0, "ok": 1.0}

    run(scenario())


def test_a_deleted_model_is_forgotten() -> None:
    async def scenario() -> None:
        rig = Rig(inference_model(ready=False))
        rig.writer.gone.add(KEY)
        rig.request()
        await rig.flush()
        assert rig.values() == []
        assert rig.recorder.step() == []
        rig.catalog.delete_model(inference_model())
        assert rig.recorder.step() == []

    run(scenario())


def test_a_model_scaled_to_zero_after_its_cooldown_wakes_with_the_first_request() -> None:
    async def scenario() -> None:
        rig = Rig(inference_model(ready=True, last_request="2026-01-15T10:29:30Z"))
        rig.request()
        await rig.flush()
        assert rig.values() == []  # ready, annotation 30s old: the next write is due in 30s
        rig.catalog.put_model(
            inference_model(ready=False, reason="ScaledToZero", last_request="2026-01-15T10:29:30Z")
        )
        rig.clock.advance(11 * 60)
        rig.request()
        await rig.flush()
        assert rig.values() == ["2026-01-15T10:41:00Z"]

    run(scenario())
