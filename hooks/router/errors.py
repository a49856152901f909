"""Answers the router gives itself, in the OpenAI error format clients already parse.

Every rejection has a reason (a stable snake_case code, also the label of the
rejection metric), an HTTP status, a sentence, and for 429/503 a
`Retry-After`. The insufficient-memory body keeps the shape of the original
inference-budget proxy (`error.type == error.code == "insufficient_memory"`,
`error.details.{requested, available, blocking}`) so existing clients keep
working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MODEL_NOT_FOUND = "model_not_found"
INVALID_REQUEST = "invalid_request"
BODY_TOO_LARGE = "body_too_large"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
QUEUE_FULL = "queue_full"
WAKE_TIMEOUT = "wake_timeout"
INSUFFICIENT_MEMORY = "insufficient_memory"
MODEL_FAILED = "model_failed"
MODEL_DISABLED = "model_disabled"
BACKEND_UNAVAILABLE = "backend_unavailable"
BACKEND_TIMEOUT = "backend_timeout"
CLIENT_DISCONNECTED = "client_disconnected"
SHUTTING_DOWN = "shutting_down"
BACKEND_NOT_ALLOWED = "backend_not_allowed"
INVALID_API_KEY = "invalid_api_key"

REASONS = (
    MODEL_NOT_FOUND,
    INVALID_REQUEST,
    BODY_TOO_LARGE,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    QUEUE_FULL,
    WAKE_TIMEOUT,
    INSUFFICIENT_MEMORY,
    MODEL_FAILED,
    MODEL_DISABLED,
    BACKEND_UNAVAILABLE,
    BACKEND_TIMEOUT,
    CLIENT_DISCONNECTED,
    SHUTTING_DOWN,
    BACKEND_NOT_ALLOWED,
    INVALID_API_KEY,
)
"""Every rejection reason, so the metric's series exist (at zero) from the start."""

_TYPES = {
    MODEL_NOT_FOUND: "invalid_request_error",
    INVALID_REQUEST: "invalid_request_error",
    BODY_TOO_LARGE: "invalid_request_error",
    NOT_FOUND: "invalid_request_error",
    METHOD_NOT_ALLOWED: "invalid_request_error",
    QUEUE_FULL: "rate_limit_error",
    INSUFFICIENT_MEMORY: INSUFFICIENT_MEMORY,
    BACKEND_NOT_ALLOWED: "permission_error",
    INVALID_API_KEY: "invalid_request_error",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """An answer the router gives instead of forwarding."""

    status: int
    reason: str
    message: str
    retry_after: int | None = None
    details: dict[str, Any] | None = field(default=None)
    param: str | None = None

    def body(self) -> bytes:
        error: dict[str, Any] = {
            "message": self.message,
            "type": _TYPES.get(self.reason, "server_error"),
            "param": self.param,
            "code": self.reason,
        }
        if self.details is not None:
            error["details"] = self.details
        return json.dumps({"error": error}, separators=(",", ":")).encode()

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        return headers
