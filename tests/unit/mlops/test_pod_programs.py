"""The pod's configuration, proven with the real programs where they run here.

nginx (Debian package) validates every rendered nginx.conf and then runs it on
loopback in front of a local server; goreplay (tools/goreplay/build.sh) runs with
the pod's flags and captures what passes through that nginx; the access-log
lines nginx wrote are parsed with the fluent-bit parser of the same ConfigMap.
fluent-bit itself cannot run here: its files are checked by `fluent_bit_format`.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hooks.cli import REPO_ROOT
from hooks.mlops import configs
from hooks.mlops.api import Capture, Metrics
from tests.unit.mlops import fluent_bit_format as fb
from tests.unit.mlops.servers import Served, free_port, http_server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
METRICS = [
    Metrics(),
    Metrics(output="stdout"),
    Metrics(output="http", host="collector.monitoring.svc", port=8888, uri="/ingest"),
    Metrics(output="forward", host="fluentd.logging"),
]


def _need_nginx() -> None:
    if not os.access(NGINX, os.X_OK):
        pytest.skip("nginx is not installed (Debian package nginx, tools/debian-deps.sh)")


def _scratch(tmp_path: Path) -> configs.Paths:
    for sub in ("config", "logs", "tmp", "capture"):
        (tmp_path / sub).mkdir()
    return configs.Paths(
        config_dir=str(tmp_path / "config"),
        log_dir=str(tmp_path / "logs"),
        temp_dir=str(tmp_path / "tmp"),
        capture_dir=str(tmp_path / "capture"),
    )


@pytest.mark.parametrize("metrics", METRICS, ids=lambda m: m.output)
@pytest.mark.parametrize("server_port", [8080, 3000, 65535])
def test_nginx_accepts_every_rendered_config(
    tmp_path: Path, metrics: Metrics, server_port: int
) -> None:
    _need_nginx()
    paths = _scratch(tmp_path)
    conf = tmp_path / "config" / "nginx.conf"
    conf.write_text(configs.nginx_conf("m", server_port, metrics, paths))
    result = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check above can fail: a config that does not parse is refused."""
    _need_nginx()
    paths = _scratch(tmp_path)
    conf = tmp_path / "config" / "nginx.conf"
    conf.write_text(
        configs.nginx_conf("m", 8080, Metrics(), paths).replace("stub_status;", "stub_status")
    )
    result = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def _wait_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            _get(url, timeout=1)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise


class Pod:
    """nginx of a rendered ConfigMap running on loopback in front of a local server."""

    def __init__(self, tmp_path: Path, server: Served, metrics_server: Served) -> None:
        self.paths = _scratch(tmp_path)
        self.ports = configs.SidecarPorts(
            http=free_port(), monitoring=free_port(), metrics=metrics_server.port
        )
        self.server = server
        conf = tmp_path / "config" / configs.NGINX_CONF
        conf.write_text(configs.nginx_conf("m", server.port, Metrics(), self.paths, self.ports))
        (tmp_path / "config" / configs.PARSERS_CONF).write_text(configs.parsers_conf())
        self.process = subprocess.Popen(
            [
                NGINX,
                "-c",
                str(conf),
                "-p",
                str(tmp_path),
                "-e",
                str(tmp_path / "error.log"),
                "-g",
                "daemon off;",
            ],
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(self.url("/healthz", monitoring=True), self.process)

    def url(self, path: str, *, monitoring: bool = False) -> str:
        port = self.ports.monitoring if monitoring else self.ports.http
        return f"http://127.0.0.1:{port}{path}"

    def access_log(self) -> list[str]:
        return Path(self.paths.log_dir, configs.ACCESS_LOG).read_text().splitlines()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[Pod]:
    _need_nginx()
    with http_server() as server, http_server({"/metrics": b"requests_total 3\n"}) as metrics:
        running = Pod(tmp_path, server, metrics)
        yield running
        running.stop()


def test_nginx_serves_the_model_logs_latency_and_answers_monitoring(pod: Pod) -> None:
    for i in range(3):
        assert _get(pod.url(f"/predict?i={i}")) == (200, "model says hi\n")
    assert pod.server.count("/predict?i=2") == 1
    status, body = _get(pod.url("/nginx_status", monitoring=True))
    assert status == 200
    assert "Active connections" in body
    assert "requests" in body
    assert _get(pod.url("/metrics", monitoring=True)) == (200, "requests_total 3\n")
    lines = pod.access_log()
    assert len(lines) == 3, lines
    parser = fb.check_parsers(configs.parsers_conf())[configs.PARSER]
    for line in lines:
        record = fb.parse_line(parser, line)
        assert record["status"] == 200
        assert record["method"] == "GET"
        assert isinstance(record["request_time"], float)
        assert record["request_time"] < 5
        assert float(str(record["upstream_response_time"])) >= 0
    assert str(fb.parse_line(parser, lines[0])["path"]).startswith("/predict?i=0")


def test_fluent_bit_parser_rejects_a_line_it_does_not_know() -> None:
    parser = fb.check_parsers(configs.parsers_conf())[configs.PARSER]
    with pytest.raises(fb.FormatError):
        fb.parse_line(parser, '127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2')


def _goreplay() -> str:
    script = REPO_ROOT / "tools" / "goreplay" / "build.sh"
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.skip(
            f"goreplay could not be built (tools/goreplay/build.sh): {result.stderr[-500:]}"
        )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def goreplay() -> str:
    binary = _goreplay()
    if os.geteuid() != 0:
        pytest.skip("goreplay needs root to capture loopback traffic (--input-raw)")
    return binary


def _run_gor(binary: str, args: list[str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # libpcap needs a moment before it sees packets; there is no readiness signal.
    time.sleep(2)
    assert process.poll() is None, process.communicate()[0].decode()
    return process


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out.decode(errors="replace")


def test_goreplay_captures_what_nginx_forwards_to_a_file(goreplay: str, pod: Pod) -> None:
    args = configs.gor_args(pod.server.port, Capture(), pod.paths)
    assert args[:2] == ["--input-raw", f":{pod.server.port}"]
    gor = _run_gor(goreplay, args)
    for i in range(5):
        _get(pod.url(f"/predict?capture={i}"))
    time.sleep(2)
    log = _stop(gor)
    files = glob.glob(f"{pod.paths.capture_dir}/requests-*")
    assert files, f"no capture file; goreplay said: {log}"
    captured = "".join(Path(f).read_text(errors="replace") for f in files)
    for i in range(5):
        assert f"GET /predict?capture={i} HTTP/1.1" in captured, captured[:2000]


def test_goreplay_replays_to_the_configured_url(goreplay: str, pod: Pod) -> None:
    with http_server() as shadow:
        capture = Capture(output="http", url=f"http://127.0.0.1:{shadow.port}")
        gor = _run_gor(goreplay, configs.gor_args(pod.server.port, capture, pod.paths))
        for i in range(3):
            _get(pod.url(f"/predict?shadow={i}"))
        deadline = time.monotonic() + 10
        while shadow.count("/predict?shadow=2") == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        log = _stop(gor)
        assert [shadow.count(f"/predict?shadow={i}") for i in range(3)] == [1, 1, 1], log
        # The model server got each request once: replays went to the shadow only.
        assert [pod.server.count(f"/predict?shadow={i}") for i in range(3)] == [1, 1, 1]
