"""The fuzz campaign: requests through the real app, answers checked, figures kept.

One `Campaign` serves every controller of `hooks.systems` with `create_app`
(the app `aihooks serve` runs) on a fixed clock. Each case is sent twice (the
answers must be byte-identical), its answer checked, then fed back as
Metacontroller would apply it until it settles, at most three rounds. The
figures (requests by route and code, 500s by route and exception, problems) are
written as JSON to `FUZZ_REPORT` when it is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from hooks.app import create_app
from hooks.registry import Controller
from hooks.settings import Settings
from tests.fuzz.checks import check_answer, closed
from tests.fuzz.hostile import NOW
from tests.fuzz.requests import Target, fed_back

FIXPOINT_ROUNDS = 3


class _Exceptions(logging.Handler):
    """The exception of the last failed hook, as `Type at file:function`."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info or record.exc_info[1] is None:
            return
        error = record.exc_info[1]
        frames = [f for f in traceback.extract_tb(error.__traceback__) if "/hooks/" in f.filename]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].name}" if frames else "?"
        self.last = f"{type(error).__name__} at {where}"


class Campaign:
    def __init__(self, controllers: tuple[Controller, ...]) -> None:
        # One event loop for the whole campaign: the app serves it as uvicorn would,
        # without a thread hop per request (TestClient costs milliseconds each).
        self.loop = asyncio.Runner()
        app = create_app(controllers, Settings(), clock=lambda: NOW)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hooks"
        )
        self.exceptions = _Exceptions()
        logging.getLogger("hooks.app").addHandler(self.exceptions)
        self.codes: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.problems: Counter[str] = Counter()
        self.cases = 0
        self.slowest: tuple[float, str] = (0.0, "")
        self.started = time.perf_counter()
        self._status_schemas: dict[str, dict[str, Any] | None] = {}

    def close(self) -> None:
        logging.getLogger("hooks.app").removeHandler(self.exceptions)
        self.loop.run(self.client.aclose())
        self.loop.close()

    def post(self, route: str, body: Any) -> tuple[int, bytes]:
        self.exceptions.last = None
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        started = time.perf_counter()
        response = self.loop.run(
            self.client.post(route, content=content, headers={"content-type": "application/json"})
        )
        took = time.perf_counter() - started
        if took > self.slowest[0]:
            self.slowest = (took, route)
        self.codes[f"{route} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.failures[f"{route} {self.exceptions.last or response.status_code}"] += 1
        return response.status_code, response.content

    def run(self, target: Target, route: str, body: dict[str, Any]) -> list[str]:
        """Problems of one case (empty when every answer is right)."""
        self.cases += 1
        problems = self._run(target, route, body)
        for problem in problems:
            self.problems[f"{route}: {problem[:160]}"] += 1
        return problems

    def _run(self, target: Target, route: str, body: dict[str, Any]) -> list[str]:
        hook = route.rsplit("/", 1)[1]
        code, raw = self.post(route, body)
        if code != 200:
            return [f"answered {code} ({self.exceptions.last})"]
        answer = json.loads(raw)
        problems = self._check(target, hook, body, answer)
        if problems:
            return problems
        if self.post(route, body)[1] != raw:
            return ["the same request gave a different answer"]
        if hook == "customize":
            return []
        decorator = target.controller.kind == "DecoratorController"
        for _ in range(FIXPOINT_ROUNDS):
            body = fed_back(body, answer, decorator)
            code, raw = self.post(route, body)
            if code != 200:
                return [f"answered {code} once its answer was applied ({self.exceptions.last})"]
            following = json.loads(raw)
            problems = self._check(target, hook, body, following)
            if problems:
                return [f"once its answer was applied: {p}" for p in problems]
            if following == answer:
                return []
            answer = following
        return [f"no fixpoint within {FIXPOINT_ROUNDS} rounds"]

    def _check(self, target: Target, hook: str, body: dict[str, Any], answer: Any) -> list[str]:
        parent = body.get("parent") or body.get("object") or {}
        name = target.controller.name
        if name not in self._status_schemas:
            crd = target.crd
            status = crd.status if crd is not None else None
            self._status_schemas[name] = closed(status) if status is not None else None
        return check_answer(target.controller, hook, parent, answer, self._status_schemas[name])

    def figures(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "requests": sum(self.codes.values()),
            "seconds": round(time.perf_counter() - self.started, 1),
            "slowest_request_seconds": round(self.slowest[0], 4),
            "slowest_route": self.slowest[1],
            "codes": dict(sorted(self.codes.items())),
            "500s": dict(self.failures.most_common()),
            "problems": dict(self.problems.most_common(60)),
        }
