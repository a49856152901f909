import asyncio
import logging

import pytest

from hooks.router.catalog import Catalog
from tests.unit.router.factory import inference_model, run


def test_lookup_by_model_name_and_listing() -> None:
    catalog = Catalog()
    catalog.replace_models(
        [inference_model("b", model="beta"), inference_model("a", model="alpha")]
    )
    alpha = catalog.get("alpha")
    assert alpha is not None
    assert alpha.key == ("ns", "a")
    assert catalog.get("a") is None
    assert [v.model_name for v in catalog.served()] == ["alpha", "beta"]
    assert [v.name for v in catalog.views()] == ["a", "b"]


def test_the_oldest_claim_on_a_model_name_wins(caplog: pytest.LogCaptureFixture) -> None:
    catalog = Catalog()
    with caplog.at_level(logging.WARNING, logger="hooks.router.catalog"):
        catalog.replace_models(
            [
                inference_model("new", "a", created="2026-01-02T00:00:00Z"),
                inference_model("old", "b", created="2026-01-01T00:00:00Z"),
                inference_model("tie", "a", created="2026-01-01T00:00:00Z"),
            ]
        )
    served = catalog.get("llama")
    assert served is not None
    assert served.key == ("a", "tie")
    assert len([r for r in caplog.records if r.message.startswith("two InferenceModels")]) == 2
    catalog.delete_model(inference_model("tie", "a"))
    assert catalog.get("llama").key == ("b", "old")  # type: ignore[union-attr]


def test_replacing_one_namespace_keeps_the_others() -> None:
    catalog = Catalog()
    catalog.replace_models([inference_model("a", "one", model="x")], namespace="one")
    catalog.replace_models([inference_model("b", "two", model="y")], namespace="two")
    catalog.replace_models([], namespace="one")
    assert catalog.get("x") is None
    assert catalog.get("y") is not None
    catalog.replace_models([inference_model("c", "three", model="z")])
    assert [v.model_name for v in catalog.served()] == ["z"]


def test_renaming_the_model_name_moves_the_entry() -> None:
    catalog = Catalog()
    catalog.put_model(inference_model(model="old-name"))
    catalog.put_model(inference_model(model="new-name"))
    assert catalog.get("old-name") is None
    assert catalog.get("new-name") is not None


def test_changed_fires_on_the_next_change_of_that_model_name_only() -> None:
    async def scenario() -> None:
        catalog = Catalog()
        catalog.put_model(inference_model(ready=False))
        catalog.put_model(inference_model("other", model="other"))
        mine = catalog.changed("llama")
        assert catalog.changed("llama") is mine
        catalog.put_model(inference_model("other", model="other", ready=True))
        assert not mine.is_set()
        catalog.put_model(inference_model(ready=True))
        assert mine.is_set()
        assert not catalog.changed("llama").is_set()
        # A model that appears wakes those waiting for its name.
        unknown = catalog.changed("later")
        catalog.put_model(inference_model("later", model="later"))
        await asyncio.wait_for(unknown.wait(), 1)

    run(scenario())
