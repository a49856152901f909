"""Shared test fixtures: golden files and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

GOLDEN_ROOT = Path(__file__).parent / "golden"
NOW = datetime(2026, 1, 15, 10, 30, 0, tzinfo=UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from what the hooks answer now (review the diff)",
    )


class Golden:
    """Compares rendered objects with `tests/golden/<controller>/<case>.yaml`."""

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, controller: str, case: str, value: Any) -> None:
        path = GOLDEN_ROOT / controller / f"{case}.yaml"
        text = yaml.safe_dump(value, sort_keys=False, width=100)
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        assert path.exists(), f"{path} is missing: run pytest --update-golden and review it"
        assert yaml.safe_load(path.read_text()) == value, (
            f"{path} differs from what the hook answers; run pytest --update-golden and review"
        )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--update-golden")))


@pytest.fixture
def now() -> datetime:
    return NOW
