"""The generated manifests, by file name: `crds/` and `metacontroller/`.

Each folder also gets a `kustomization.yaml` listing its files, so that
`deploy/crds` and `deploy/base` can include the folders as kustomize resources.
"""

from __future__ import annotations

import yaml

from hooks.crdgen import crd_filename, crd_yaml
from hooks.metacontroller import controller_filename, controller_yaml
from hooks.systems import CONTROLLERS, CUSTOM_RESOURCES

KUSTOMIZATION = "kustomization.yaml"


def generated_files(what: str) -> dict[str, str]:
    if what == "crds":
        files = {crd_filename(r): crd_yaml(r) for r in CUSTOM_RESOURCES}
    elif what == "controllers":
        files = {controller_filename(c): controller_yaml(c) for c in CONTROLLERS}
    else:
        raise ValueError(f"unknown generated set {what!r}")
    files[KUSTOMIZATION] = _kustomization(sorted(files))
    return files


def _kustomization(resources: list[str]) -> str:
    body = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    return "# Generated with the files beside it; do not edit.\n" + yaml.safe_dump(
        body, sort_keys=False
    )
