"""Every kind of plan the gateway renders: each routing split, each side missing,
http and https remotes, each credential kind, rewrites and hostile values."""

from __future__ import annotations

from hooks.offload.gateway import Credential, GatewayPlan, LocalLeg, RemoteLeg

API_KEY = Credential(kind="apiKey", secret_name="remote-key", secret_key="apiKey")
HEADER_KEY = Credential(
    kind="apiKey", secret_name="remote-key", secret_key="key", header="x-api-key", prefix=""
)
OAUTH2 = Credential(
    kind="oauth2",
    secret_name="remote-oauth",
    secret_key="clientSecret",
    token_url="https://auth.example.com/oauth/token",
    client_id="gateway",
    scopes=("inference",),
)
OAUTH2_HTTP = Credential(
    kind="oauth2",
    secret_name="remote-oauth",
    secret_key="clientSecret",
    token_url="http://auth.internal:8080/token",
    client_id="gateway",
)
LOCAL = LocalLeg(service="llama-local", port=8000)


def remote(**fields: object) -> RemoteLeg:
    base: dict[str, object] = {"name": "beamlit", "scheme": "https", "host": "run.example.com"}
    return RemoteLeg(**{**base, **fields})  # type: ignore[arg-type]


def plan(
    local: LocalLeg | None, leg: RemoteLeg | None, percentage: int, **extra: object
) -> GatewayPlan:
    return GatewayPlan(
        name="llama",
        namespace="models",
        local=local,
        remote=leg,
        remote_percentage=percentage,
        labels={"app.kubernetes.io/name": "modeldeployment", "app.kubernetes.io/instance": "llama"},
        **extra,  # type: ignore[arg-type]
    )


VARIANTS: dict[str, GatewayPlan] = {
    "local only": plan(LOCAL, None, 0),
    "remote only": plan(None, remote(), 100),
    "split 0": plan(LOCAL, remote(), 0),
    "split 37": plan(LOCAL, remote(), 37),
    "split 100": plan(LOCAL, remote(), 100),
    "http remote": plan(LOCAL, remote(scheme="http", host="10.0.0.7:8080"), 50),
    "https with CA": plan(LOCAL, remote(ca_secret="remote-ca", host="gpu.corp:8443"), 50),
    "api key": plan(LOCAL, remote(credential=API_KEY), 50),
    "api key header": plan(LOCAL, remote(credential=HEADER_KEY), 50),
    "oauth2": plan(LOCAL, remote(credential=OAUTH2), 50),
    "oauth2 http": plan(LOCAL, remote(credential=OAUTH2_HTTP, scheme="http"), 50),
    "rewrites": plan(
        LOCAL,
        remote(
            path_prefix="/v1/models/llama",
            headers=(("X-Environment", "production"), ("x-literal", "50% %REQ(x)%")),
            openai_model='meta/llama-"3"',
        ),
        20,
        request_timeout_seconds=3600,
    ),
    "everything": plan(
        LOCAL,
        remote(
            credential=OAUTH2,
            ca_secret="remote-ca",
            path_prefix="/p/",
            headers=(("x-a", "1"),),
            openai_model="m",
        ),
        73,
    ),
}
