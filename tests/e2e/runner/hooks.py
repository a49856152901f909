"""Calling a controller's webhooks as Metacontroller v2 does.

Only HTTP 200 counts; the body is decoded strictly (an unknown or duplicated
field is an error, as v2's default `responseUnMarshallMode: strict` has it).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.e2e.runner.merge import JSON

COMPOSITE_FIELDS = frozenset({"status", "children", "resyncAfterSeconds", "finalized"})
DECORATOR_FIELDS = frozenset(
    {"labels", "annotations", "status", "attachments", "resyncAfterSeconds", "finalized"}
)
CUSTOMIZE_FIELDS = frozenset({"relatedResources"})


class HookError(RuntimeError):
    """The hook failed: the sync is aborted before anything is touched."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise HookError(f"duplicated field in hook response: {keys}")
    return dict(pairs)


def _seconds(duration: str | None) -> float:
    if not duration:
        return 10.0
    if duration.endswith("ms"):
        return float(duration[:-2]) / 1000
    if duration.endswith("s"):
        return float(duration[:-1])
    if duration.endswith("m"):
        return float(duration[:-1]) * 60
    raise HookError(f"unsupported timeout {duration!r}")


def call(client: httpx.Client, hook: JSON, body: JSON, allowed: frozenset[str]) -> JSON:
    webhook = hook["webhook"]
    if hook.get("version") != "v2":
        raise HookError(f"hook version {hook.get('version')!r}: the runner speaks v2 only")
    try:
        response = client.post(webhook["url"], json=body, timeout=_seconds(webhook.get("timeout")))
    except httpx.HTTPError as error:
        raise HookError(f"{webhook['url']}: {error}") from error
    if response.status_code != 200:
        raise HookError(f"{webhook['url']}: HTTP {response.status_code}: {response.text[:300]}")
    try:
        data = json.loads(response.text, object_pairs_hook=_no_duplicates)
    except ValueError as error:
        raise HookError(f"{webhook['url']}: undecodable response: {error}") from error
    if not isinstance(data, dict):
        raise HookError(f"{webhook['url']}: response is not an object")
    unknown = set(data) - allowed
    if unknown:
        raise HookError(f"{webhook['url']}: unknown fields {sorted(unknown)}")
    return data
