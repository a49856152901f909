"""Every configuration the gateway can render passes `envoy --mode validate`.

Validation mode reads the bootstrap only, so the xDS files are folded into an
equivalent static bootstrap first (listeners, clusters, the routes in place of
RDS, the SDS secrets as static ones): the same messages Envoy loads at run time,
checked field by field, with deprecated fields refused too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hooks.offload import envoy

from .harness import ENVOY
from .tls import make_ca_and_server
from .variants import VARIANTS

# Real processes on a shared machine: bounded, never hanging the run.
pytestmark = pytest.mark.timeout(120)


def _without_type(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "@type"}


def static_bootstrap(files: dict[str, str]) -> dict[str, Any]:
    bootstrap = yaml.safe_load(files[envoy.BOOTSTRAP_FILE])
    bootstrap.pop("dynamic_resources")
    routes = {
        r["name"]: _without_type(r) for r in yaml.safe_load(files[envoy.RDS_FILE])["resources"]
    }
    secrets = [
        _without_type(r)
        for name in files
        if name.startswith("sds-")
        for r in yaml.safe_load(files[name])["resources"]
    ]

    def fold(node: Any) -> Any:
        if isinstance(node, dict):
            if "rds" in node:
                node = {**node, "route_config": routes[node["rds"]["route_config_name"]]}
                node.pop("rds")
            if "sds_config" in node and node["name"] in {s["name"] for s in secrets}:
                node = {"name": node["name"]}
            return {k: fold(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fold(item) for item in node]
        return node

    static = bootstrap["static_resources"]
    static["listeners"] += [
        fold(_without_type(r)) for r in yaml.safe_load(files[envoy.LDS_FILE])["resources"]
    ]
    static["clusters"] += [
        fold(_without_type(r)) for r in yaml.safe_load(files[envoy.CDS_FILE])["resources"]
    ]
    if secrets:
        static["secrets"] = secrets
    return bootstrap


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_envoy_validates_the_configuration(tmp_path: Path, name: str) -> None:
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text(make_ca_and_server(tmp_path / "pki")[0].read_text())
    layout = envoy.Layout(
        config_dir=str(tmp_path / "config"),
        secret_dir=str(tmp_path / "secrets"),
        system_ca=str(bundle),
    )
    (tmp_path / "secrets" / "ca").mkdir(parents=True)
    (tmp_path / "secrets" / "ca" / "ca.crt").write_text(bundle.read_text())
    (tmp_path / "secrets" / "credential").mkdir()
    (tmp_path / "secrets" / "credential" / "value").write_text("not-a-real-key")
    assert_envoy_validates(tmp_path, envoy.render(VARIANTS[name], layout))


def assert_envoy_validates(tmp_path: Path, files: dict[str, str]) -> None:
    """`envoy --mode validate` accepts the rendered files, deprecated fields refused."""
    config = tmp_path / "static.yaml"
    config.write_text(yaml.safe_dump(static_bootstrap(files)))
    result = subprocess.run(
        [ENVOY, "--mode", "validate", "--config-path", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "OK" in output
    assert "Deprecated" not in output, output
