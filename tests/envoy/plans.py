"""Gateway plans for the tests: a local leg on loopback and a remote one."""

from __future__ import annotations

from hooks.offload.gateway import Credential, GatewayPlan, LocalLeg, RemoteLeg


def plan(
    *,
    local_port: int | None,
    remote_port: int | None,
    percentage: int,
    scheme: str = "http",
    remote_host: str = "127.0.0.1",
    credential: Credential | None = None,
    ca_secret: str | None = None,
    path_prefix: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    openai_model: str | None = None,
    timeout: int = 300,
) -> GatewayPlan:
    local = LocalLeg(service="model-local", port=local_port) if local_port else None
    remote = (
        RemoteLeg(
            name="backend",
            scheme="https" if scheme == "https" else "http",
            host=f"{remote_host}:{remote_port}",
            path_prefix=path_prefix,
            headers=headers,
            credential=credential,
            ca_secret=ca_secret,
            openai_model=openai_model,
        )
        if remote_port
        else None
    )
    return GatewayPlan(
        name="model",
        namespace="default",
        local=local,
        remote=remote,
        remote_percentage=percentage,
        request_timeout_seconds=timeout,
    )
