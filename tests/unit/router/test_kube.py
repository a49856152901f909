"""The watch feed's list-then-watch loop, against a fake lightkube client."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hooks.router import kube
from hooks.router.catalog import Catalog
from tests.unit.router.factory import inference_model, run


class Obj(dict[str, Any]):
    def to_dict(self) -> dict[str, Any]:
        return dict(self)


class Listing:
    def __init__(self, items: list[dict[str, Any]], version: str) -> None:
        self.items = items
        self.resourceVersion = version

    def __aiter__(self) -> AsyncIterator[Obj]:
        async def items() -> AsyncIterator[Obj]:
            for item in self.items:
                yield Obj(item)

        return items()


class FakeClient:
    """Lists return `lists` in turn; each watch replays one script of events, then fails
    (as a dropped connection or a 410 Gone would)."""

    def __init__(
        self, lists: list[list[dict[str, Any]]], watches: list[list[tuple[str, dict[str, Any]]]]
    ) -> None:
        self.lists = lists
        self.watches = watches
        self.calls: list[tuple[str, str | None, dict[str, str] | None, str | None]] = []
        self.done = asyncio.Event()

    def list(self, resource: Any, *, namespace: str, labels: dict[str, str] | None) -> Listing:
        self.calls.append(("list", namespace, labels, None))
        version = str(len(self.calls))
        return Listing(self.lists.pop(0) if self.lists else [], version)

    def watch(
        self, resource: Any, *, namespace: str, labels: dict[str, str] | None, resource_version: str
    ) -> AsyncIterator[tuple[str, Obj]]:
        self.calls.append(("watch", namespace, labels, resource_version))

        async def events() -> AsyncIterator[tuple[str, Obj]]:
            if not self.watches:
                self.done.set()
                await asyncio.sleep(3600)
            for kind, obj in self.watches.pop(0):
                yield kind, Obj(obj)
            raise ConnectionError("watch dropped")

        return events()


def test_feed_lists_watches_and_lists_again_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube, "_MAX_BACKOFF", 0.0)

    async def scenario() -> None:
        catalog = Catalog()
        client = FakeClient(
            lists=[[inference_model("a", model="alpha")], [inference_model("c", model="gamma")]],
            watches=[
                [
                    ("ADDED", inference_model("b", model="beta")),
                    ("MODIFIED", inference_model("a", model="alpha", ready=True)),
                    ("DELETED", inference_model("b", model="beta")),
                ],
            ],
        )
        synced = []
        task = asyncio.create_task(
            kube.feed(
                client,  # type: ignore[arg-type]
                kube.InferenceModel,
                namespace=None,
                labels=None,
                replace=catalog.replace_models,
                put=catalog.put_model,
                delete=catalog.delete_model,
                ready=lambda: synced.append(True),
            )
        )
        await asyncio.wait_for(client.done.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The second list forgot "alpha", which vanished while the watch was down.
        assert [v.model_name for v in catalog.served()] == ["gamma"]
        assert synced == [True, True]
        assert client.calls == [
            ("list", "*", None, None),
            ("watch", "*", None, "1"),
            ("list", "*", None, None),
            ("watch", "*", None, "3"),
        ]

    run(scenario())


def test_catalog_feeds_mark_the_catalog_synced_once_every_list_arrived() -> None:
    async def scenario() -> None:
        catalog = Catalog()
        client = FakeClient(lists=[[inference_model(ready=True)]], watches=[])
        loops = kube.catalog_feeds(client, catalog, ["ns"])  # type: ignore[arg-type]
        assert len(loops) == 1, "InferenceModels only: the router reads no Deployments"
        tasks = [asyncio.create_task(loop()) for loop in loops]
        for _ in range(50):
            await asyncio.sleep(0)
        assert catalog.synced
        assert catalog.get("llama").ready  # type: ignore[union-attr]
        assert [call[0] for call in client.calls].count("list") == 1
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    run(scenario())


class _Refusing:
    def __init__(self, code: int) -> None:
        self.code = code

    def list(self, resource: Any, *, namespace: str, labels: dict[str, str]) -> Any:
        error = RuntimeError(f"{self.code}")
        error.response = type("R", (), {"status_code": self.code})()  # type: ignore[attr-defined]
        raise error


@pytest.mark.parametrize(("code", "unavailable"), [(404, True), (503, True), (403, False)])
def test_a_missing_metrics_api_is_reported_as_such(code: int, unavailable: bool) -> None:
    source = kube.KubePodMetrics(_Refusing(code))  # type: ignore[arg-type]
    expected = kube.MetricsUnavailable if unavailable else RuntimeError
    with pytest.raises(expected):
        run(source.pod_metrics({"inference.eh-ops.io/managed": "true"}))
