"""Values for a structural CRD schema: what the API server accepts, pushed to its edges.

Written from the schema rather than with hypothesis-jsonschema (which does not run
with the pinned hypothesis): every keyword the CRDs use is honoured (types,
`nullable`, `enum`, `pattern`, `minLength`/`maxLength`, `minimum`/`maximum`,
`minItems`/`maxItems`, `maxProperties`, `format: date-time`, int-or-string and
preserved unknown fields). CEL rules are not evaluated: the hooks must also survive
what only a CEL rule would refuse. Next to ordinary values, each string is also
drawn at its longest, with its digit runs inflated, or from the hostile texts when
no pattern constrains it; numbers at their bounds.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.hostile import (
    HOSTILE_TEXT,
    QUANTITIES,
    date_times,
    free_objects,
    label_values,
)

INT64 = (-(2**63), 2**63 - 1)
_UNBOUNDED_TEXT = 70000
"""A string without maxLength is drawn up to this long (the API server takes ~3 MB)."""
_KEY_PATTERN = (
    r"\A([a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?){0,3}/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z"
)
map_keys = st.one_of(
    st.sampled_from(("inference-pool", "pool", "app", "example.com/team", "kubernetes.io/os")),
    st.from_regex(_KEY_PATTERN).filter(lambda s: len(s) <= 316),
)
"""Map keys as label keys (qualified names), which is what the key CEL rules allow."""


def values_of(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of a structural schema (CEL rules aside)."""
    strategy = _non_null(schema)
    return st.one_of(st.none(), strategy) if schema.get("nullable") else strategy


def _non_null(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(_integers({}), st.sampled_from(QUANTITIES))
    kind = schema.get("type")
    if kind == "string":
        return strings(schema)
    if kind == "integer":
        return _integers(schema)
    if kind == "number":
        return st.floats(
            schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", max(low, 40))
        small = st.lists(values_of(schema["items"]), min_size=low, max_size=max(low, 3))
        return st.one_of(small, st.lists(values_of(schema["items"]), min_size=low, max_size=high))
    if "properties" in schema:
        required = set(schema.get("required", ()))
        props = schema["properties"]
        return st.fixed_dictionaries(
            {k: values_of(v) for k, v in props.items() if k in required},
            optional={k: values_of(v) for k, v in props.items() if k not in required},
        )
    if isinstance(schema.get("additionalProperties"), dict):
        high = schema.get("maxProperties", 40)
        return st.dictionaries(
            map_keys, values_of(schema["additionalProperties"]), max_size=min(high, 8)
        )
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return free_objects
    return st.just({})


def _integers(schema: dict[str, Any]) -> st.SearchStrategy[int]:
    low = schema.get("minimum", INT64[0])
    high = schema.get("maximum", INT64[1])
    if schema.get("format") == "int32":
        low, high = max(low, -(2**31)), min(high, 2**31 - 1)
    low += 1 if schema.get("exclusiveMinimum") else 0
    high -= 1 if schema.get("exclusiveMaximum") else 0
    edges = sorted({low, high, min(max(0, low), high), min(max(1, low), high)})
    return st.one_of(st.sampled_from(edges), st.integers(low, min(high, low + 1000)))


def strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low = schema.get("minLength", 0)
    high = schema.get("maxLength", _UNBOUNDED_TEXT)
    pattern = schema.get("pattern")
    if schema.get("format") == "date-time":
        base: st.SearchStrategy[str] = date_times
    elif pattern is not None:
        base = st.one_of(_patterned(pattern), _patterned(pattern).map(_inflate))
    else:
        base = st.one_of(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=40),
            st.sampled_from(HOSTILE_TEXT),
            label_values,
            st.integers(low, high).map(lambda n: "x" * n),
        )
    return base.filter(lambda s: low <= len(s) <= high and _matches(pattern, s))


@lru_cache(maxsize=256)
def _patterned(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


def _inflate(text: str) -> str:
    """The same text with its first digit run made thousands of digits long."""
    return re.sub(r"[0-9]+", lambda m: m.group(0)[0] * 4301, text, count=1)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _matches(pattern: str | None, text: str) -> bool:
    return pattern is None or _compiled(pattern).fullmatch(text) is not None
