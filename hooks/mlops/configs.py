"""The files a serving pod carries: nginx.conf, the fluent-bit configuration and the
init container's download script, rendered from the jinja2 templates beside this module.

Paths are parameters so that a test renders the very same files for a scratch
directory and runs nginx, goreplay and the script on them; the pod's values are
the defaults. The goreplay arguments are built here too, for the same reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from hooks.k8s.quantity import parse_bytes

from .api import (
    FLUENT_BIT_METRICS_PORT,
    MONITORING_PORT,
    NGINX_HTTP_PORT,
    Capture,
    Metrics,
)

TEMPLATES = Path(__file__).parent / "templates"
CONFIG_DIR = "/etc/aihooks"
"""Where the ConfigMap is mounted in every container that reads it."""
LOG_DIR = "/var/log/aihooks"
"""The emptyDir nginx writes its access log to and fluent-bit tails."""
TEMP_DIR = "/tmp/nginx"
CAPTURE_DIR = "/capture"
ARTIFACT_ROOT = "/artifact"
"""Where the init container mounts the artifact volume (read-write)."""
ACCESS_LOG = "access.log"
LOG_FORMAT = "aihooks"
PARSER = "aihooks_nginx"
NGINX_CONF, FLUENT_BIT_CONF, PARSERS_CONF, FETCH_SCRIPT = (
    "nginx.conf",
    "fluent-bit.conf",
    "parsers.conf",
    "fetch-artifact.sh",
)
HTTP_DEFAULT_PORT, FORWARD_DEFAULT_PORT = 80, 24224


@dataclass(frozen=True)
class Paths:
    """Where the pod's files live; the defaults are the pod's."""

    config_dir: str = CONFIG_DIR
    log_dir: str = LOG_DIR
    temp_dir: str = TEMP_DIR
    capture_dir: str = CAPTURE_DIR


POD_PATHS = Paths()


@dataclass(frozen=True)
class SidecarPorts:
    """The ports the sidecars listen on; the defaults are the pod's (see api.RESERVED_PORTS)."""

    http: int = NGINX_HTTP_PORT
    monitoring: int = MONITORING_PORT
    metrics: int = FLUENT_BIT_METRICS_PORT


POD_PORTS = SidecarPorts()


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _render(template: str, **values: object) -> str:
    return _environment().get_template(template).render(**values)


def nginx_conf(
    name: str,
    server_port: int,
    metrics: Metrics,
    paths: Paths = POD_PATHS,
    ports: SidecarPorts = POD_PORTS,
) -> str:
    return _render(
        "nginx.conf.j2",
        name=name,
        server_port=server_port,
        http_port=ports.http,
        monitoring_port=ports.monitoring,
        metrics_port=ports.metrics,
        prometheus=metrics.output == "prometheus",
        log_dir=paths.log_dir,
        temp_dir=paths.temp_dir,
        access_log=ACCESS_LOG,
        log_format=LOG_FORMAT,
        parser=PARSER,
    )


def fluent_bit_conf(
    name: str, metrics: Metrics, paths: Paths = POD_PATHS, ports: SidecarPorts = POD_PORTS
) -> str:
    default_port = FORWARD_DEFAULT_PORT if metrics.output == "forward" else HTTP_DEFAULT_PORT
    return _render(
        "fluent-bit.conf.j2",
        name=name,
        output=metrics.output,
        prometheus=metrics.output == "prometheus",
        host=metrics.host or "",
        port=metrics.port or default_port,
        uri=metrics.uri,
        metrics_port=ports.metrics,
        config_dir=paths.config_dir,
        log_dir=paths.log_dir,
        access_log=ACCESS_LOG,
        parser=PARSER,
    )


def parsers_conf() -> str:
    return _render("parsers.conf.j2", parser=PARSER, log_format=LOG_FORMAT)


def fetch_script(name: str) -> str:
    return _render("fetch-artifact.sh.j2", name=name)


def config_files(name: str, server_port: int, metrics: Metrics) -> dict[str, str]:
    """The ConfigMap's data for the pod."""
    return {
        FETCH_SCRIPT: fetch_script(name),
        FLUENT_BIT_CONF: fluent_bit_conf(name, metrics),
        NGINX_CONF: nginx_conf(name, server_port, metrics),
        PARSERS_CONF: parsers_conf(),
    }


def config_hash(data: dict[str, str]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def artifact_key(url: str, checksum: str | None) -> str:
    """The marker and directory name of one artifact in the volume: sha256 of URL and checksum."""
    return hashlib.sha256(f"{url}\n{checksum or ''}".encode()).hexdigest()


def gor_args(server_port: int, capture: Capture, paths: Paths = POD_PATHS) -> list[str]:
    """goreplay's arguments: capture the server's port (what nginx forwards to, never
    the Service), write to files in the capture volume or replay to the given URL."""
    args = ["--input-raw", f":{server_port}", "--input-raw-track-response"]
    if capture.output == "http" and capture.url:
        return [*args, "--output-http", capture.url]
    return [
        *args,
        "--output-file",
        f"{paths.capture_dir}/requests-%Y%m%d-%H.gor",
        "--output-file-size-limit",
        "32mb",
        "--output-file-max-size-limit",
        _file_limit(capture.size_limit),
        "--output-file-flush-interval",
        "1s",
    ]


def _file_limit(size_limit: str) -> str:
    """Half the capture volume, in goreplay's units, so rotation never fills it."""
    megabytes = max(1, parse_bytes(size_limit) // (2 * 1024 * 1024))
    return f"{megabytes}mb"
