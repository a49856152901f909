"""The image, built from the Dockerfile and run the way deploy/base runs it.

`tools/image/build.sh` builds it without Docker (a Debian base made by
mmdebstrap, the Dockerfile built by buildah); podman runs it with what the
Deployments of `kustomize build deploy/base` say (tests/e2e/podman.py). The
hooks container answers its probes, its metrics and a hook call from the host,
byte for byte what the same hook answers in-process. The router container,
from the same image, authenticates with its ServiceAccount's token mounted
where a pod has it, follows an InferenceModel of the real control plane and
forwards to the OpenAI-shaped echo backend on the host. The image holds no
compiler, no pip, no pip cache and none of the project's tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from lightkube import Client

from hooks.app import create_app
from hooks.cli import REPO_ROOT
from hooks.devcluster import ControlPlaneFiles, LocalCluster
from hooks.settings import Settings
from tests.e2e.podman import Container, podman, podman_env, run_spec
from tests.e2e.test_router import (
    LAST_REQUEST,
    ThreadServer,
    create_model,
    model,
    router_kubeconfig,
    wait_ready,
)
from tests.e2e.waiting import wait_for

# A cold build (the Debian base from the mirror, then PyPI) takes minutes.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

# One tag per checkout: clones testing at the same time share layers, not a tag.
TAG = f"localhost/aihooks:test-{hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]}"
BUILD_TIMEOUT = 1200
# Measured: 182 MB, of which the Debian base is 129 MB.
MAX_IMAGE_BYTES = 220 * 1000**2
# Seen from a container on slirp4netns: the host's loopback.
HOST_LOOPBACK = "10.0.2.2"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    for tool in ("mmdebstrap", "buildah", "podman"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (tools/debian-deps.sh installs it)")
    probe = subprocess.run(
        ["buildah", "info"], env=podman_env(), capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        pytest.skip(f"buildah cannot run here: {probe.stderr.strip()}")
    build = subprocess.run(
        [str(REPO_ROOT / "tools/image/build.sh"), TAG],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert build.returncode == 0, build.stderr
    assert build.stdout.splitlines()[-1] == TAG
    yield TAG
    # The next build prunes it; its layers stay cached under the build's own tags.
    podman("untag", TAG)


@pytest.fixture(scope="module")
def deployments(controlplane_files: ControlPlaneFiles) -> dict[str, dict[str, Any]]:
    rendered = subprocess.run(
        [str(controlplane_files.kustomize), "build", str(REPO_ROOT / "deploy/base")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(rendered)
        if d and d["kind"] == "Deployment"
    }


def test_an_overlay_points_both_deployments_at_a_registry(
    controlplane_files: ControlPlaneFiles, tmp_path: Path
) -> None:
    # What the README tells a user to do after pushing the image.
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [os.path.relpath(REPO_ROOT / "deploy/base", overlay)]})
    )
    pushed = "registry.example.com/platform/aihooks:0.2.0"
    kustomize = str(controlplane_files.kustomize)
    subprocess.run(
        [kustomize, "edit", "set", "image", f"aihooks={pushed}"], cwd=overlay, check=True
    )
    rendered = subprocess.run(
        [kustomize, "build", str(overlay)], capture_output=True, text=True, check=True
    ).stdout
    images = {
        d["metadata"]["name"]: [c["image"] for c in d["spec"]["template"]["spec"]["containers"]]
        for d in yaml.safe_load_all(rendered)
        if d and d["kind"] == "Deployment"
    }
    assert images == {"aihooks": [pushed], "aihooks-router": [pushed]}


def _start(container: Container, port: int) -> httpx.Client:
    http = httpx.Client(base_url=container.url(port), timeout=10)

    def ready() -> bool:
        assert container.inspect()["State"]["Running"], container.logs()
        try:
            return http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, what=f"{container.name} to be ready", timeout=60)
    return http


@pytest.fixture
def hooks_container(
    image: str, deployments: dict[str, dict[str, Any]], tmp_path: Path
) -> Iterator[tuple[Container, httpx.Client]]:
    spec = run_spec(deployments["aihooks"])
    container = Container(image, spec, tmp_path / "hooks.log", ["--network=slirp4netns"])
    try:
        http = _start(container, 8080)
        yield container, http
        http.close()
    finally:
        container.stop()


def _sync_request() -> dict[str, Any]:
    parent = yaml.safe_load((REPO_ROOT / "examples/inference/tokenizer-service.yaml").read_text())
    parent["metadata"].update(namespace="default", uid="5d1c0c1e-0001", generation=1)
    return {"controller": {}, "parent": parent, "children": {}, "related": {}}


def test_the_hooks_run_from_the_image_as_the_deployment_runs_them(
    hooks_container: tuple[Container, httpx.Client],
) -> None:
    container, http = hooks_container
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").status_code == 200

    answer = http.post("/inferencemodel/sync", json=_sync_request())
    assert answer.status_code == 200, answer.text
    status = answer.json()["status"]
    assert status["conditions"][0]["reason"] == "ScaledToZero"
    # In-process, at the moment the container decided: the same bytes.
    now = datetime.fromisoformat(status["conditions"][0]["lastTransitionTime"])
    with TestClient(create_app(None, Settings(), clock=lambda: now)) as local:
        assert answer.content == local.post("/inferencemodel/sync", json=_sync_request()).content

    metrics = http.get("/metrics").text
    wanted = 'aihooks_hook_requests_total{code="200",controller="inferencemodel",hook="sync"} 1.0'
    assert wanted in metrics

    # The process itself, seen from the host: the Deployment's user, no
    # capability, no way to gain privileges; the root filesystem refuses writes.
    process = container.proc_status()
    assert process["Uid"].split() == ["10001"] * 4
    assert process["Gid"].split() == ["10001"] * 4
    assert int(process["CapEff"], 16) == 0
    assert process["NoNewPrivs"] == "1"
    host_config = container.inspect()["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["Memory"] == 256 * 1024**2
    for path in ("/probe", "/run/probe", "/var/tmp/probe", "/opt/aihooks/probe"):
        assert "Read-only file system" in _exec_stderr(container, f"touch {path}")
    assert _exec_stderr(container, "touch /tmp/probe && echo ok") == ""


def _exec_stderr(container: Container, script: str) -> str:
    result = subprocess.run(
        ["podman", "exec", container.name, "sh", "-c", script],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stderr


def test_the_image_holds_no_build_tools_caches_or_tests(image: str) -> None:
    (inspected,) = json.loads(podman("image", "inspect", image))
    assert inspected["Size"] < MAX_IMAGE_BYTES
    assert inspected["Config"]["User"] == "10001:10001"
    assert inspected["Config"]["Entrypoint"] == ["aihooks"]
    root = Path(podman("image", "mount", image).strip())
    try:
        programs = {
            path.name
            for directory in ("usr/bin", "usr/sbin", "usr/local/bin", "opt/aihooks/bin")
            for path in (root / directory).iterdir()
        }
        caches = [str(path.relative_to(root)) for path in root.rglob(".cache")]
        packages = root / "opt/aihooks/lib/python3.11/site-packages"
        installed = {path.name for path in packages.iterdir()}
        leftovers = [name for name in ("src", "wheels") if (root / name).exists()]
        headers = [str(path.relative_to(root)) for path in root.glob("usr/include/**/*.h")]
        devcluster = (packages / "hooks/devcluster").exists()
    finally:
        podman("image", "unmount", image)
    compilers = {"gcc", "cc", "c++", "g++", "cpp", "clang", "ld", "as", "make"}
    assert not programs & compilers
    assert not [name for name in programs if name.startswith(("pip", "gcc-", "x86_64-linux-gnu-"))]
    assert caches == []
    assert {"hooks", "fastapi", "uvicorn", "lightkube"} <= installed
    assert not [name for name in installed if name.startswith(("pip", "setuptools", "tests"))]
    assert leftovers == []
    assert headers == []
    assert not devcluster


def test_every_module_loads_from_bytecode_compiled_at_build_time(image: str) -> None:
    # A read-only root cannot take the .pyc files of a first start; stale or
    # missing ones would be compiled again at every start, in memory.
    run = ["podman", "run", "--rm", "--read-only", "--network=none", "--entrypoint=python3"]
    trace = subprocess.run(
        [*run, image, "-v", "-c", "import hooks.app, hooks.router.main"],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert trace.returncode == 0, trace.stderr
    lines = trace.stderr.splitlines()
    from_source = [line for line in lines if line.startswith("# code object from /opt/")]
    assert from_source == []
    assert sum(line.endswith(".py") and " matches /opt/" in line for line in lines) > 100


@pytest.fixture
def echo_backend() -> Iterator[ThreadServer]:
    from hooks.router.echo import EchoBackend

    server = ThreadServer(EchoBackend())
    yield server
    server.stop()


def test_the_router_runs_from_the_image_against_a_backend(
    image: str,
    deployments: dict[str, dict[str, Any]],
    cluster: LocalCluster,
    kube: Client,
    namespace: str,
    controllers: object,
    echo_backend: ThreadServer,
    tmp_path: Path,
) -> None:
    backend_port = echo_backend.url.rsplit(":", 1)[1]
    create_model(kube, namespace, "echo-7b", f"http://{HOST_LOOPBACK}:{backend_port}")
    wait_ready(kube, namespace, "echo-7b")

    # The token, CA and namespace a pod of the ServiceAccount gets, mounted
    # where lightkube's in-cluster configuration reads them.
    kubeconfig = yaml.safe_load(router_kubeconfig(cluster, kube, namespace, tmp_path).read_text())
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(kubeconfig["users"][0]["user"]["token"])
    (account / "namespace").write_text(namespace)
    shutil.copy(cluster.ca_cert, account / "ca.crt")
    for path in (account, *account.iterdir()):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    api_port = cluster.server.rsplit(":", 1)[1]

    # The namespaced mode the RoleBinding of router_kubeconfig grants (docs/router.md).
    spec = run_spec(deployments["aihooks-router"], extra_args=["--namespace", namespace])
    options = [
        "--network=slirp4netns:allow_host_loopback=true",
        # A name the API server's certificate carries, resolving to the host.
        f"--add-host=kubernetes.default.svc:{HOST_LOOPBACK}",
        "--env=KUBERNETES_SERVICE_HOST=kubernetes.default.svc",
        f"--env=KUBERNETES_SERVICE_PORT={api_port}",
        # The echo backend is on the host, not a Service of the model's namespace.
        f"--env=AIHOOKS_ROUTER_ALLOWED_BACKENDS={HOST_LOOPBACK}",
        f"--volume={account}:{SERVICE_ACCOUNT_DIR}:ro",
    ]
    container = Container(image, spec, tmp_path / "router.log", options)
    try:
        http = _start(container, 8000)
        answer = http.post(
            "/v1/chat/completions",
            json={"model": "echo-7b", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == "echo"
        assert answer.json()["echo"]["path"] == "/v1/chat/completions"
        assert http.get("/v1/models").json()["data"][0]["id"] == "echo-7b"
        # Demand, written by the container with the ServiceAccount's permissions.
        wait_for(
            lambda: (
                LAST_REQUEST
                in (model(kube, namespace, "echo-7b")["metadata"].get("annotations") or {})
            ),
            what="the router to record demand",
            timeout=30,
        )
        labels = 'code="200",endpoint="chat_completions",model="echo-7b"'
        assert f"aihooks_router_requests_total{{{labels}}} 1.0" in http.get("/metrics").text
        process = container.proc_status()
        assert process["Uid"].split() == ["10001"] * 4
        assert int(process["CapEff"], 16) == 0
        http.close()
    finally:
        container.stop()
