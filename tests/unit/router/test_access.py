"""Which backends the router forwards to, and which client keys may use which namespace."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hooks.inference import BACKEND_REFUSED_ANNOTATION
from hooks.router import errors
from hooks.router.access import ClientKeys, Refused, parse_allowed, parse_keys, route
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.reporter import AccessReporter
from tests.unit.router.factory import FakeWriter, inference_model, run
from tests.unit.router.test_app import error_of, rig

NONE: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("url", "allowed", "want"),
    [
        ("http://vllm:8000/v1", NONE, "http://vllm.team-a.svc:8000/v1"),
        ("http://vllm", NONE, "http://vllm.team-a.svc"),
        ("http://vllm.team-a:8000", NONE, "http://vllm.team-a:8000"),
        ("https://vllm.team-a.svc", NONE, "https://vllm.team-a.svc"),
        ("http://vllm.team-a.svc.cluster.local:8000", NONE, None),
        ("http://vllm.team-b.svc.cluster.local:8000", NONE, "refused"),
        ("http://169.254.169.254/latest/meta-data", NONE, "refused"),
        ("http://10.0.0.7:8000", NONE, "refused"),
        ("http://10.0.0.7:8000", ("10.0.0.0/24",), None),
        ("http://10.0.1.7:8000", ("10.0.0.0/24",), "refused"),
        ("http://[fd00::7]:8000", ("fd00::/64",), None),
        ("https://api.openai.com/v1", NONE, "refused"),
        ("https://api.openai.com/v1", ("API.openai.com",), None),
        ("https://evil.api.openai.com/v1", ("api.openai.com",), "refused"),
        ("http://api.openai.com.evil.example/v1", ("api.openai.com",), "refused"),
        ("http://metadata.google.internal", NONE, "refused"),
        ("ftp://vllm:21", NONE, "refused"),
        ("http://[fd00::1:8000", NONE, "refused"),
        ("http://vllm:port", NONE, "refused"),
        ("http://vllm.team-b.svc.cluster.local:8000", ("vllm.team-b.svc.cluster.local",), None),
    ],
)
def test_a_backend_is_a_service_of_the_models_namespace_or_allowed(
    url: str, allowed: tuple[str, ...], want: str | None
) -> None:
    got = route(url, "team-a", allowed)
    if want == "refused":
        assert isinstance(got, Refused)
        assert url in got.message
    else:
        assert got == (want or url)


def test_allowed_backends_are_hosts_or_cidrs() -> None:
    hosts, networks = parse_allowed(["api.example.com", "10.0.0.0/8", "192.168.1.5"])
    assert hosts == {"api.example.com"}
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.168.1.5/32"]
    with pytest.raises(ValueError, match="neither a host name nor a CIDR"):
        RouterConfig(allowed_backends=("not a host",))
    env = {"AIHOOKS_ROUTER_ALLOWED_BACKENDS": "api.example.com,10.0.0.0/8"}
    assert RouterConfig.from_env(env).allowed_backends == ("api.example.com", "10.0.0.0/8")


def test_a_refused_backend_is_403_in_the_openai_format_and_never_woken() -> None:
    async def scenario() -> None:
        async with rig(allowed_backends=()) as r:
            r.put(ready=True)
            response = await r.client.post("/v1/chat/completions", json={"model": "llama"})
            assert response.status_code == 403
            error = error_of(response)
            assert (error["type"], error["code"]) == ("permission_error", "backend_not_allowed")
            assert "is not a Service of namespace ns" in error["message"]
            assert r.backend.stats.requests == 0
            assert r.demand.records == [], "no demand: the model is not woken for nothing"
            assert r.metric("aihooks_router_rejections_total", reason="backend_not_allowed") == 1

    run(scenario())


def write_keys(path: Path, *entries: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump({"keys": list(entries)}))


TEAM_A = {"name": "team-a-app", "key": "sk-team-a-0123456789", "namespaces": ["team-a"]}
EVERYONE = {"name": "ops", "key": "sk-ops-0123456789abc", "namespaces": ["*"]}


def test_client_keys_are_required_scoped_and_not_forwarded(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.yaml"
    write_keys(keys_file, TEAM_A, EVERYONE)

    async def scenario() -> None:
        async with rig() as r:
            r.router.keys = ClientKeys(str(keys_file))
            r.catalog.put_model(
                inference_model("a", "team-a", model="alpha", backend=r.backend_url, ready=True)
            )
            chat = {"model": "alpha"}
            missing = await r.client.post("/v1/chat/completions", json=chat)
            assert missing.status_code == 401
            assert error_of(missing)["code"] == errors.INVALID_API_KEY
            wrong = await r.client.post(
                "/v1/chat/completions", json=chat, headers={"authorization": "Bearer sk-nope"}
            )
            assert wrong.status_code == 401
            team_a = {"authorization": f"Bearer {TEAM_A['key']}"}
            ok = await r.client.post("/v1/chat/completions", json=chat, headers=team_a)
            assert ok.status_code == 200
            assert "authorization" not in ok.json()["echo"]["headers"], "the key stays here"
            other = await r.client.post(
                "/v1/chat/completions", json={"model": "llama"}, headers=team_a
            )
            assert other.status_code == 404, "a model of another namespace does not exist"
            listed = await r.client.get("/v1/models", headers=team_a)
            assert [m["id"] for m in listed.json()["data"]] == ["alpha"]
            ops = {"authorization": f"Bearer {EVERYONE['key']}"}
            everything = await r.client.get("/v1/models", headers=ops)
            assert [m["id"] for m in everything.json()["data"]] == ["alpha", "llama"]
            assert (await r.client.get("/v1/models")).status_code == 401
            assert (await r.client.get("/healthz")).status_code == 200
            assert (await r.client.get("/metrics")).status_code == 200

    run(scenario())


def test_the_keys_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.yaml"
    write_keys(keys_file, TEAM_A)
    now = [0.0]
    keys = ClientKeys(str(keys_file), clock=lambda: now[0])
    bearer = f"Bearer {TEAM_A['key']}".encode()
    found = keys.find(bearer)
    assert found is not None
    assert found.name == "team-a-app"
    assert found.may_use("team-a")
    assert not found.may_use("team-b")
    write_keys(keys_file, EVERYONE)
    os.utime(keys_file, ns=(1, 1))
    assert keys.find(bearer) is not None, "checked at most once a second"
    now[0] = 2.0
    assert keys.find(bearer) is None
    ops = keys.find(f"bearer {EVERYONE['key']}".encode())
    assert ops is not None
    assert ops.may_use("anything")
    keys_file.write_text("keys: [oops]")
    now[0] = 4.0
    assert keys.find(f"Bearer {EVERYONE['key']}".encode()) is None, "a broken file lets no one in"


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({}, "must hold `keys:`"),
        ({"keys": ["x"]}, "keys[1] is not a mapping"),
        ({"keys": [{"key": "short", "namespaces": ["a"]}]}, "at least 16 characters"),
        ({"keys": [{"key": "k" * 20, "namespaces": "a"}]}, "namespaces must be a list"),
    ],
)
def test_a_bad_keys_file_is_refused(document: Any, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_keys(document)


def test_refused_backends_are_reported_on_their_models_until_allowed() -> None:
    async def scenario() -> None:
        catalog = Catalog()
        outside = inference_model("far", "ns", model="far", backend="https://api.example.com")
        inside = inference_model("near", "ns", model="near", backend="http://near:8000")
        catalog.replace_models([outside, inside])
        catalog.synced = True
        writer = FakeWriter()
        reporter = AccessReporter(writer, catalog, config=RouterConfig())
        assert await reporter.step() == 1
        ((key, annotations),) = writer.writes
        assert key == ("ns", "far")
        message = annotations[BACKEND_REFUSED_ANNOTATION]
        assert message is not None
        assert "https://api.example.com" in message
        assert await reporter.step() == 0, "written once, while the watch catches up"
        annotated = {**outside, "metadata": {**outside["metadata"], "annotations": annotations}}
        catalog.put_model(annotated)
        assert await reporter.step() == 0
        allowing = AccessReporter(
            writer, catalog, config=RouterConfig(allowed_backends=("api.example.com",))
        )
        assert await allowing.step() == 1
        assert writer.writes[-1] == (("ns", "far"), {BACKEND_REFUSED_ANNOTATION: None})

    run(scenario())
