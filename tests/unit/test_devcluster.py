"""The local cluster's own files: Metacontroller's CRDs and the components' command lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography import x509

from hooks.cli import REPO_ROOT
from hooks.devcluster import components
from hooks.devcluster.binaries import ControlPlaneFiles
from hooks.devcluster.pki import generate
from hooks.devcluster.stack import METACONTROLLER_CRDS, StackError, metacontroller_crds

KINDS = {"CompositeController", "DecoratorController", "ControllerRevision"}


def _schemas() -> dict[str, dict[str, Any]]:
    crds = [d for d in yaml.safe_load_all(METACONTROLLER_CRDS.read_text()) if d]
    schemas = {}
    for crd in crds:
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1alpha1"
        assert version["served"]
        assert version["storage"]
        assert version["subresources"] == {"status": {}}
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def test_the_crds_define_metacontrollers_three_kinds() -> None:
    schemas = _schemas()
    assert set(schemas) == KINDS
    assert {"parentResource", "childResources", "hooks", "generateSelector"} <= set(
        schemas["CompositeController"]["properties"]["spec"]["properties"]
    )


CONTROLLERS = sorted(
    p for p in (REPO_ROOT / "metacontroller").glob("*.yaml") if p.name != "kustomization.yaml"
)


@pytest.mark.parametrize("path", CONTROLLERS, ids=lambda p: p.name)
def test_every_committed_controller_fits_the_schema(path: Path) -> None:
    obj = yaml.safe_load(path.read_text())
    jsonschema.validate(obj, _schemas()[obj["kind"]])


def test_a_misspelt_controller_field_is_refused() -> None:
    obj = yaml.safe_load((REPO_ROOT / "metacontroller" / "inferencemodel.yaml").read_text())
    obj["spec"]["childResources"][0]["updateStrategy"]["method"] = "Inplace"
    with pytest.raises(jsonschema.ValidationError, match="Inplace"):
        jsonschema.validate(obj, _schemas()["CompositeController"])


def test_metacontroller_crds_env_names_a_release_manifest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("METACONTROLLER_CRDS", raising=False)
    assert metacontroller_crds() == METACONTROLLER_CRDS
    release = tmp_path / "metacontroller-crds-v1.yaml"
    release.write_text("---\n")
    monkeypatch.setenv("METACONTROLLER_CRDS", str(release))
    assert metacontroller_crds() == release
    monkeypatch.setenv("METACONTROLLER_CRDS", str(tmp_path / "missing.yaml"))
    with pytest.raises(StackError, match="is not a file"):
        metacontroller_crds()


def _layout(tmp_path: Path) -> components.Layout:
    return components.Layout(
        files=ControlPlaneFiles(tmp_path / "cache"),
        pki=generate(tmp_path / "pki", components.SERVICE_IPS),
        ports=components.Ports(*range(2379, 2386)),
        etcd_dir=tmp_path / "etcd",
        token_file=tmp_path / "tokens.csv",
        kubeconfig=tmp_path / "kubeconfig",
        metrics_server_dir=tmp_path / "metrics-server",
    )


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").partition("=")[::2] for arg in argv[1:])


def test_metrics_server_is_scraping_kwoks_kubelet_port(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    kwok = _flags(components.kwok(layout))
    assert kwok["node-port"] == str(layout.ports.kwok)
    assert kwok["server-address"] == f"127.0.0.1:{layout.ports.kwok}"
    server = _flags(components.metrics_server(layout))
    assert server["secure-port"] == str(layout.ports.metrics_server)
    assert "kubelet-use-node-status-port" in server
    # metrics-server refuses to start unless 90 % of the resolution exceeds the timeout.
    resolution = int(server["metric-resolution"].removesuffix("s"))
    timeout = int(server["kubelet-request-timeout"].removesuffix("s"))
    assert resolution >= 10
    assert resolution * 9 / 10 >= timeout


def test_the_api_server_trusts_the_front_proxy_client(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    flags = _flags(components.kube_apiserver(layout))
    ca = x509.load_pem_x509_certificate(Path(flags["requestheader-client-ca-file"]).read_bytes())
    client = x509.load_pem_x509_certificate(Path(flags["proxy-client-cert-file"]).read_bytes())
    assert client.issuer == ca.subject
    common_name = client.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert flags["requestheader-allowed-names"] == common_name
    client.verify_directly_issued_by(ca)
