"""Values for a structural CRD schema: what the API server accepts, pushed to its edges.

Written from the schema rather than with hypothesis-jsonschema (which does not run
with the pinned hypothesis), and on a plain `random.Random` so that a case costs
microseconds: every keyword the CRDs use is honoured (types, `nullable`, `enum`,
`pattern`, `minLength`/`maxLength`, `minimum`/`maximum`, `minItems`/`maxItems`,
`maxProperties`, `format: date-time`, int-or-string, preserved unknown fields).
CEL rules are not evaluated: the hooks must also survive what only a CEL rule
refuses. Next to ordinary values, a string is also drawn at its longest, with a
digit run thousands of digits long, or from the hostile texts when no pattern
constrains it; numbers at their bounds.
"""

from __future__ import annotations

import re
import re._parser as sre
from functools import lru_cache
from random import Random
from typing import Any

from tests.fuzz.hostile import (
    HOSTILE_TEXT,
    QUANTITIES,
    chance,
    date_time,
    free_value_object,
    label_value,
    word,
)

INT64 = (-(2**63), 2**63 - 1)
UNBOUNDED_TEXT = 70000
"""A string without maxLength is drawn up to this long (the API server takes ~3 MB)."""
_KEYS = ("inference-pool", "pool", "app", "example.com/team", "kubernetes.io/os", "a" * 63)
_TRIES = 8


def value_of(rng: Random, schema: dict[str, Any]) -> Any:
    """A value of a structural schema (CEL rules aside)."""
    if schema.get("nullable") and chance(rng, 6):
        return None
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return integer(rng, {}) if chance(rng, 2) else rng.choice(QUANTITIES)
    kind = schema.get("type")
    if kind == "string":
        return string(rng, schema)
    if kind == "integer":
        return integer(rng, schema)
    if kind == "number":
        return rng.uniform(schema.get("minimum", -1e9), schema.get("maximum", 1e9))
    if kind == "boolean":
        return chance(rng, 2)
    if kind == "array":
        low = schema.get("minItems", 0)
        objects = schema["items"].get("type") == "object"
        high = min(schema.get("maxItems", 64), 12 if objects else 64)
        size = rng.randint(low, max(low, high if chance(rng, 4) else 3))
        return [value_of(rng, schema["items"]) for _ in range(size)]
    if "properties" in schema:
        required = set(schema.get("required", ()))
        return {
            name: value_of(rng, sub)
            for name, sub in schema["properties"].items()
            if name in required or chance(rng, 2)
        }
    if isinstance(schema.get("additionalProperties"), dict):
        high = min(schema.get("maxProperties", 8), 8)
        return {
            map_key(rng): value_of(rng, schema["additionalProperties"])
            for _ in range(rng.randint(0, high))
        }
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return free_value_object(rng)
    return {}


def map_key(rng: Random) -> str:
    """A map key as a label key (a qualified name), which the key CEL rules allow."""
    roll = rng.randrange(3)
    if roll == 0:
        return rng.choice(_KEYS)
    name = word(rng, 1, 20)
    return f"{word(rng, 1, 10)}.example.com/{name}" if roll == 1 else name


def integer(rng: Random, schema: dict[str, Any]) -> int:
    low = schema.get("minimum", INT64[0])
    high = schema.get("maximum", INT64[1])
    if schema.get("format") == "int32":
        low, high = max(low, -(2**31)), min(high, 2**31 - 1)
    low += 1 if schema.get("exclusiveMinimum") else 0
    high -= 1 if schema.get("exclusiveMaximum") else 0
    if chance(rng, 2):
        return rng.choice((low, high, min(max(0, low), high), min(max(1, low), high)))
    return rng.randint(low, min(high, low + 1000) if low > -1000 else min(high, 1000))


def string(rng: Random, schema: dict[str, Any]) -> str:
    low = schema.get("minLength", 0)
    high = schema.get("maxLength", UNBOUNDED_TEXT)
    pattern = schema.get("pattern")
    for _ in range(_TRIES):
        candidate = _candidate(rng, schema, pattern, low, high)
        if low <= len(candidate) <= high and (
            pattern is None or _compiled(pattern).fullmatch(candidate)
        ):
            return candidate
    return _fallback(rng, pattern, low, high)


def _candidate(
    rng: Random, schema: dict[str, Any], pattern: str | None, low: int, high: int
) -> str:
    if schema.get("format") == "date-time":
        return date_time(rng)
    if pattern is not None:
        text = from_regex(rng, pattern)
        return _inflate(text) if chance(rng, 6) else text
    roll = rng.randrange(5)
    if roll == 0:
        return rng.choice(HOSTILE_TEXT)
    if roll == 1:
        return "x" * rng.choice((low, high, min(high, 64), min(high, 253)))
    if roll == 2:
        return label_value(rng)
    return word(rng, max(low, 1), max(low, 16), "abcdefghijklmnopqrstuvwxyz0123456789-")


def _fallback(rng: Random, pattern: str | None, low: int, high: int) -> str:
    for _ in range(_TRIES * 4):
        text = from_regex(rng, pattern) if pattern else "x" * max(low, 1)
        if low <= len(text) <= high:
            return text
    return "x" * low


def _inflate(text: str) -> str:
    """The same text with its first digit run made thousands of digits long."""
    return re.sub(r"[0-9]+", lambda m: m.group(0)[0] * 4301, text, count=1)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=256)
def _parsed(pattern: str) -> Any:
    return sre.parse(pattern)


_REPEAT_MAX = 12
_CATEGORIES = {
    sre.CATEGORY_DIGIT: "0123456789",
    sre.CATEGORY_WORD: "abcxyzABC019_",
    sre.CATEGORY_SPACE: " ",
}


def from_regex(rng: Random, pattern: str) -> str:
    """A string the pattern matches in full (patterns are CRD patterns: no lookarounds)."""
    return "".join(_emit(rng, _parsed(pattern)))


def _emit(rng: Random, items: Any) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            out.append(chr(arg))
        elif op is sre.IN:
            out.append(_one_of_set(rng, arg))
        elif op is sre.ANY:
            out.append(rng.choice("ax0-"))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, sub = arg
            top = min(high, low + _REPEAT_MAX) if high is not sre.MAXREPEAT else low + _REPEAT_MAX
            if chance(rng, 10) and high is not sre.MAXREPEAT:
                top = high
            for _ in range(rng.randint(low, max(low, top))):
                out.extend(_emit(rng, sub))
        elif op is sre.SUBPATTERN:
            out.extend(_emit(rng, arg[-1]))
        elif op is sre.BRANCH:
            out.extend(_emit(rng, rng.choice(arg[1])))
        elif op is sre.CATEGORY:
            out.append(rng.choice(_CATEGORIES.get(arg, "a")))
        # AT (anchors) emit nothing.
    return out


def _one_of_set(rng: Random, members: Any) -> str:
    choices: list[str] = []
    for op, arg in members:
        if op is sre.LITERAL:
            choices.append(chr(arg))
        elif op is sre.RANGE:
            low, high = arg
            choices.extend(chr(c) for c in (low, high, rng.randint(low, high)))
        elif op is sre.CATEGORY:
            choices.extend(_CATEGORIES.get(arg, "a"))
        elif op is sre.NEGATE:
            return rng.choice("ax0")
    return rng.choice(choices)
