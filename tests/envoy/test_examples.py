"""The gateway plan of every ModelDeployment in examples/offloading/ passes `envoy --mode validate`.

The plan is the one the sync hook builds (`gateway_plan`), for each remote backend
the example lists (or the install's default one when it lists none), both mid-way
through a split and with the source down, so every configuration an example can
make the gateway run is checked by Envoy itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hooks.offload import children as build
from hooks.offload import envoy
from hooks.offload.api import KIND, NamedRemoteBackend
from hooks.offload.controller import gateway_plan
from hooks.offload.gateway import LocalLeg
from hooks.offload.observe import read_parent
from hooks.offload.policy import candidates

from .test_validate import assert_envoy_validates
from .tls import make_ca_and_server

# Real processes on a shared machine: bounded, never hanging the run.
pytestmark = pytest.mark.timeout(180)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "offloading"
DEFAULT_BACKEND = NamedRemoteBackend.model_validate(
    {"name": "default", "host": "offload.example.com"}
)


def _model_deployments() -> Iterator[tuple[str, dict[str, object]]]:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == KIND:
                yield f"{path.stem}/{document['metadata']['name']}", document


MODEL_DEPLOYMENTS = dict(_model_deployments())


def test_the_examples_have_model_deployments() -> None:
    assert len(MODEL_DEPLOYMENTS) >= 5, sorted(MODEL_DEPLOYMENTS)


@pytest.mark.parametrize("name", sorted(MODEL_DEPLOYMENTS))
def test_envoy_validates_the_example_gateway(tmp_path: Path, name: str) -> None:
    document = {**MODEL_DEPLOYMENTS[name]}
    document["metadata"] = {**document["metadata"], "namespace": "models"}  # type: ignore[dict-item]
    refs = read_parent(document)
    config = refs.spec.offloading_config
    assert config is not None, name
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
    local = LocalLeg(build.local_service_name(refs.name), refs.spec.service_ref.target_port)
    backends = candidates(config, DEFAULT_BACKEND)
    assert backends, name
    rendered = 0
    for backend in backends:
        for share in (config.behavior.percentage, 100):
            plan = gateway_plan(refs, local, backend, share)
            assert plan is not None, (name, backend.name)
            assert_envoy_validates(tmp_path, envoy.render(plan, layout))
            rendered += 1
    assert rendered == 2 * len(backends)
