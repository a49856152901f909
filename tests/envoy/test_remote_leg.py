"""The remote leg: rewrites, TLS, the credential, and that none of it reaches the
local side."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from hooks.offload.gateway import Credential

from .harness import Client, ConfigVolume, Server, gateway, servers
from .plans import plan
from .tls import make_ca_and_server

# Real processes on a shared machine: bounded, never hanging the run.
pytestmark = pytest.mark.timeout(120)

KEY = "sk-test-0123456789"


def _write_secret(tmp: Path, sub: str, name: str, value: str) -> None:
    (tmp / "secrets" / sub).mkdir(parents=True, exist_ok=True)
    (tmp / "secrets" / sub / name).write_text(value)


def _token_calls(token: Server) -> list[dict[str, list[str]]]:
    client = Client(token.port)
    calls: list[dict[str, list[str]]] = client.request(method="GET", path="/calls").body["calls"]
    client.close()
    return calls


def test_api_key_reaches_the_remote_only(tmp_path: Path) -> None:
    _write_secret(tmp_path, "credential", "value", KEY + "\n")
    credential = Credential(kind="apiKey", secret_name="remote", secret_key="key")
    local, remote = Server("local"), Server("echo")
    with servers(local, remote):
        the_plan = plan(
            local_port=local.port, remote_port=remote.port, percentage=50, credential=credential
        )
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            answers = [client.request() for _ in range(300)]
            local.kill()
            failover = [client.request() for _ in range(100)]
            client.close()
    assert Counter(a.side for a in answers).keys() == {"local", "remote"}
    for answer in answers + failover:
        if answer.side == "local":
            assert "authorization" not in answer.body["headers"]
        else:
            assert answer.side == "remote", answer
            assert answer.body["echo"]["headers"]["authorization"] == f"Bearer {KEY}"
    assert {a.side for a in failover[10:]} == {"remote"}


def test_custom_header_prefix_rewrite_and_added_headers(tmp_path: Path) -> None:
    _write_secret(tmp_path, "credential", "value", KEY)
    credential = Credential(
        kind="apiKey", secret_name="remote", secret_key="key", header="x-api-key", prefix=""
    )
    remote = Server("echo")
    with servers(remote):
        the_plan = plan(
            local_port=None,
            remote_port=remote.port,
            percentage=100,
            credential=credential,
            path_prefix="/tenant/v2",
            headers=(("x-environment", "production"), ("x-team", "ml")),
        )
        with gateway(tmp_path, the_plan) as gw:
            client = Client(gw.port)
            answer = client.request(path="/v1/chat/completions?debug=1")
            client.close()
    echo = answer.body["echo"]
    assert echo["path"] == "/tenant/v2/v1/chat/completions"
    assert echo["query"] == "debug=1"
    assert echo["headers"]["x-api-key"] == KEY
    assert echo["headers"]["host"] == f"127.0.0.1:{remote.port}"
    assert (echo["headers"]["x-environment"], echo["headers"]["x-team"]) == ("production", "ml")
    assert "authorization" not in echo["headers"]


def test_model_rewritten_at_the_top_level_only(tmp_path: Path) -> None:
    # The local server stands in for the remote here: it echoes the body it got.
    upstream = Server("local")
    with servers(upstream):
        the_plan = plan(
            local_port=None,
            remote_port=upstream.port,
            percentage=100,
            openai_model='remote/llama-"3" é',
        )
        with gateway(tmp_path, the_plan) as gw:
            client = Client(gw.port)
            body = {
                "messages": [{"role": "user", "content": 'say "model": "x"'}],
                "metadata": {"model": "nested"},
                "model": "my-model",
                "stream": False,
            }
            answer = client.request(body)
            plain = client.request(body, headers={"content-type": "text/plain"})
            client.close()
    sent = json.loads(answer.body["body"])
    assert sent == {**body, "model": 'remote/llama-"3" é'}
    assert json.loads(plain.body["body"]) == body


def test_https_remote_with_a_ca_bundle(tmp_path: Path) -> None:
    ca, cert, key = make_ca_and_server(tmp_path / "pki")
    other_ca, _, _ = make_ca_and_server(tmp_path / "other")
    remote = Server("echo", "--tls", str(cert), str(key))
    with servers(remote):
        the_plan = plan(
            local_port=None,
            remote_port=remote.port,
            percentage=100,
            scheme="https",
            remote_host="localhost",
            ca_secret="remote-ca",
        )
        _write_secret(tmp_path, "ca", "ca.crt", ca.read_text())
        with gateway(tmp_path / "good", the_plan, secret_dir=str(tmp_path / "secrets")) as gw:
            client = Client(gw.port)
            trusted = client.request()
            client.close()
        _write_secret(tmp_path, "ca", "ca.crt", other_ca.read_text())
        with gateway(tmp_path / "bad", the_plan, secret_dir=str(tmp_path / "secrets")) as gw:
            client = Client(gw.port)
            untrusted = client.request()
            client.close()
    assert trusted.side == "remote", trusted
    assert trusted.body["echo"]["headers"]["host"] == f"localhost:{remote.port}"
    assert untrusted.status == 503
    assert "x-aihooks-offload-unsent" not in untrusted.headers


def test_oauth2_token_fetched_once_for_its_lifetime(
    tmp_path: Path, measured: Callable[[str, object], None]
) -> None:
    # Envoy sends the OAuth2 client secret byte for byte: no trailing newline here.
    _write_secret(tmp_path, "credential", "value", "client-secret-value")
    token = Server("token", "--expires-in", "3600")
    credential = Credential(
        kind="oauth2",
        secret_name="remote",
        secret_key="clientSecret",
        token_url=f"http://127.0.0.1:{token.port}/oauth/token",
        client_id="gateway-client",
        scopes=("inference", "models.read"),
    )
    local, remote = Server("local"), Server("echo")
    with servers(local, remote, token):
        the_plan = plan(
            local_port=local.port, remote_port=remote.port, percentage=50, credential=credential
        )
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            answers = [client.request() for _ in range(1000)]
            client.close()
        calls = _token_calls(token)
    sides = Counter(a.side for a in answers)
    measured("token endpoint calls over 1000 requests", len(calls))
    assert sides["error"] == 0
    assert len(calls) == 1
    form = calls[0]
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == ["gateway-client"]
    assert form["client_secret"] == ["client-secret-value"]
    assert form["scope"] == ["inference models.read"]
    remote_answers = [a for a in answers if a.side == "remote"]
    assert len(remote_answers) > 300
    assert {a.body["echo"]["headers"]["authorization"] for a in remote_answers} == {
        "Bearer token-1"
    }
    assert all("authorization" not in a.body["headers"] for a in answers if a.side == "local")


def test_oauth2_token_refreshed_at_half_its_lifetime(tmp_path: Path) -> None:
    _write_secret(tmp_path, "credential", "value", "client-secret-value")
    token = Server("token", "--expires-in", "2")
    credential = Credential(
        kind="oauth2",
        secret_name="remote",
        secret_key="clientSecret",
        token_url=f"http://127.0.0.1:{token.port}/token",
        client_id="gateway-client",
    )
    remote = Server("echo")
    with servers(remote, token):
        the_plan = plan(
            local_port=None, remote_port=remote.port, percentage=100, credential=credential
        )
        with gateway(tmp_path, the_plan) as gw:
            client = Client(gw.port)
            started = time.monotonic()
            seen = set()
            while time.monotonic() - started < 4.2:
                answer = client.request()
                if answer.side == "remote":
                    seen.add(answer.body["echo"]["headers"]["authorization"])
                time.sleep(0.01)
            client.close()
        calls = _token_calls(token)
    # A 2 s token is refreshed every second (half its lifetime), never per request
    # (over 300 requests were sent).
    times = [float(c["at"][0]) for c in calls]
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
    assert 2 <= len(calls) <= 6, gaps
    assert all(0.8 <= gap <= 1.5 for gap in gaps), gaps
    assert len(seen) >= 2


def test_rotated_api_key_is_read_again(
    tmp_path: Path, measured: Callable[[str, object], None]
) -> None:
    # The Secret's volume is updated by the kubelet like a ConfigMap's.
    secret = ConfigVolume(tmp_path / "secrets" / "credential")
    secret.write({"value": "old-key"})
    credential = Credential(kind="apiKey", secret_name="remote", secret_key="key")
    remote = Server("echo")
    with servers(remote):
        the_plan = plan(
            local_port=None, remote_port=remote.port, percentage=100, credential=credential
        )
        with gateway(tmp_path, the_plan) as gw:
            client = Client(gw.port)
            before = client.request().body["echo"]["headers"]["authorization"]
            secret.write({"value": "new-key"})
            rotated = time.monotonic()
            seen = before
            while seen != "Bearer new-key" and time.monotonic() - rotated < 10:
                answer = client.request()
                assert answer.side == "remote", answer
                seen = answer.body["echo"]["headers"]["authorization"]
            client.close()
    measured("rotated key in use after (s)", round(time.monotonic() - rotated, 3))
    assert before == "Bearer old-key"
    assert seen == "Bearer new-key"


def test_no_token_yet_means_answered_locally(tmp_path: Path) -> None:
    # A token endpoint that never answers: remote-bound requests cannot carry a
    # credential, and are answered by the local side instead of failing.
    _write_secret(tmp_path, "credential", "value", "client-secret-value")
    credential = Credential(
        kind="oauth2",
        secret_name="remote",
        secret_key="clientSecret",
        token_url="http://127.0.0.1:1/token",
        client_id="gateway-client",
    )
    local, remote = Server("local"), Server("echo")
    with servers(local, remote):
        the_plan = plan(
            local_port=local.port, remote_port=remote.port, percentage=50, credential=credential
        )
        with gateway(tmp_path, the_plan, local_address=("127.0.0.1", local.port)) as gw:
            client = Client(gw.port)
            sides = Counter(client.request().side for _ in range(200))
            client.close()
    assert sides == {"local": 200}
