"""A Deployment's container run with podman, as the kubelet would run it.

The image test reads the hooks and router Deployments from `kustomize build
deploy/base` and turns the container spec into `podman run` options: the pod's
user and group, the args after the image's entrypoint, the literal env (and
optional Secret references left unset, as for a missing Secret), the memory and
CPU limits, a read-only root with nothing writable but the emptyDir mounts
(tmpfs of their size limit), no capabilities, no new privileges, and each
container port published on loopback. A securityContext this module cannot
express fails the test instead of being dropped.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hooks.cli import REPO_ROOT
from hooks.k8s.quantity import parse_bytes

CONTAINERS_CONF = REPO_ROOT / "tools/image/containers.conf"


def podman_env() -> dict[str, str]:
    """podman and buildah with the project's containers.conf (runc, ulimits)."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True, timeout: float = 60) -> str:
    result = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunSpec:
    """What `podman run` gets for one container of a Deployment."""

    options: list[str]
    args: list[str]
    ports: dict[int, int] = field(default_factory=dict)
    """Container port -> host port on 127.0.0.1."""


def run_spec(deployment: Mapping[str, Any], *, extra_args: Sequence[str] = ()) -> RunSpec:
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pod_security = pod.get("securityContext") or {}
    security = container.get("securityContext") or {}
    options = [f"--user={pod_security['runAsUser']}:{pod_security['runAsGroup']}"]
    if security.get("readOnlyRootFilesystem"):
        # Without this podman adds writable /run, /tmp and /var/tmp a pod has not.
        options += ["--read-only", "--read-only-tmpfs=false"]
    drop = security.get("capabilities", {}).get("drop", [])
    if drop:
        assert drop == ["ALL"], f"capabilities to drop: {drop}"
        options.append("--cap-drop=all")
    assert not security.get("capabilities", {}).get("add"), "added capabilities"
    if security.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert "emptyDir" in volume, f"volume {mount['name']} is not an emptyDir"
        size = parse_bytes(volume["emptyDir"]["sizeLimit"])
        options += ["--tmpfs", f"{mount['mountPath']}:rw,size={size},mode=1777"]
    for variable in container.get("env", []):
        if "value" in variable:
            options += ["--env", f"{variable['name']}={variable['value']}"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference.get("optional"), f"required Secret for {variable['name']}"
    limits = container.get("resources", {}).get("limits", {})
    if "memory" in limits:
        options.append(f"--memory={parse_bytes(limits['memory'])}")
    if "cpu" in limits:
        options.append(f"--cpus={limits['cpu']}")
    ports = {int(port["containerPort"]): free_port() for port in container.get("ports", [])}
    for inside, outside in ports.items():
        options += ["--publish", f"127.0.0.1:{outside}:{inside}"]
    return RunSpec(options, [*container.get("args", []), *extra_args], ports)


class Container:
    """A detached container; `stop()` removes it after saving its log."""

    def __init__(self, image: str, spec: RunSpec, log: Path, options: Sequence[str] = ()) -> None:
        self.name = f"aihooks-test-{secrets.token_hex(4)}"
        self.spec = spec
        self.log = log
        argv = ["run", "--detach", "--pull=never", f"--name={self.name}", *spec.options]
        podman(*argv, *options, image, *spec.args)

    def url(self, container_port: int) -> str:
        return f"http://127.0.0.1:{self.spec.ports[container_port]}"

    def inspect(self) -> dict[str, Any]:
        (found,) = json.loads(podman("container", "inspect", self.name))
        return dict(found)

    def proc_status(self) -> dict[str, str]:
        """/proc/<pid>/status of the container's first process, read on the host."""
        pid = self.inspect()["State"]["Pid"]
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}

    def logs(self) -> str:
        return podman("logs", self.name, check=False)

    def stop(self) -> None:
        self.log.write_text(self.logs())
        podman("rm", "--force", "--time=10", self.name, check=False)
