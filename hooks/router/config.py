"""The router's settings: one frozen object built from `AIHOOKS_ROUTER_*` and CLI flags.

Every knob of the data plane lives here with its default and the reason for
it, so `docs/router.md` and `aihooks router --help` describe the same thing.
The decision code receives this object as an argument; nothing reads the
environment anywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hooks.router.access import parse_allowed

ENV_PREFIX = "AIHOOKS_ROUTER_"


class RouterConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "0.0.0.0"
    """Address to listen on."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port to listen on (0 picks a free one, for tests)."""
    namespaces: tuple[str, ...] = ()
    """Namespaces whose InferenceModels are served; empty means every namespace."""
    allowed_backends: tuple[str, ...] = ()
    """Hosts and CIDRs a backendUrl may name besides the Services of its model's own
    namespace (the default, and the only backends otherwise forwarded to)."""
    api_keys_file: str | None = None
    """A mounted Secret's file of client keys (docs/router.md); without it no key is asked."""
    access_interval_seconds: float = Field(default=5.0, gt=0)
    """How often refused backends are checked, to report them on their InferenceModels."""

    max_queue: int = Field(default=100, ge=0)
    """Requests held per model while it wakes; the next one gets 429."""
    max_wait_seconds: float = Field(default=300.0, gt=0)
    """How long a held request waits for its model before 503 (large models load for minutes)."""
    retry_after_seconds: int = Field(default=10, ge=1)
    """`Retry-After` on 429 queue-full and 503 wake-timeout answers."""
    insufficient_memory_retry_after_seconds: int = Field(default=60, ge=1)
    """`Retry-After` on 429 insufficient-memory answers: memory frees up on a cooldown scale."""

    demand_fraction: float = Field(default=0.1, gt=0, le=0.5)
    """A busy model's demand annotation is rewritten at most every `cooldown * fraction`."""
    demand_min_interval_seconds: float = Field(default=1.0, ge=0)
    """Lower bound of the demand write interval (for very short cooldowns)."""
    demand_max_interval_seconds: float = Field(default=60.0, gt=0)
    """Upper bound of the demand write interval (for very long cooldowns)."""

    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """Largest request body accepted (413 beyond): bodies are read whole to find `model`."""
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    """Connecting to a backend; a refused connection sent nothing and may be retried."""
    connect_attempts: int = Field(default=3, ge=1)
    """Connection attempts per request (a model reported ready may not accept yet)."""
    read_timeout_seconds: float = Field(default=600.0, gt=0)
    """Longest silence from a backend while reading its answer (long generations)."""

    observer_interval_seconds: float = Field(default=30.0, gt=0)
    """How often the peak-memory observer reads pod metrics (metrics-server scrapes every 15s+)."""
    observer_refresh_seconds: float = Field(default=600.0, gt=0)
    """Rewrite the observation time at least this often while a model runs, even without a new
    peak, so `status.lastObservation` shows the observer is alive."""
    metrics_url: str | None = None
    """Read `metrics.k8s.io` from this base URL instead of the Kubernetes API (tests, proxies)."""
    observer: bool = True
    """Run the peak-memory observer."""

    @field_validator("allowed_backends")
    @classmethod
    def _hosts_or_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_allowed(value)
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> RouterConfig:
        """Fields from `AIHOOKS_ROUTER_<FIELD>`; `overrides` (CLI flags that were given) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            text = env.get(ENV_PREFIX + name.upper())
            if text is None:
                continue
            listed = name in ("namespaces", "allowed_backends")
            values[name] = tuple(filter(None, text.split(","))) if listed else text
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
