"""The `hooks_server` and `controllers` fixtures: the project running on the local cluster.

`controllers` installs every CRD of `crds/` (and the Istio and Gateway API CRDs),
then drives the committed `metacontroller/` objects against a real `aihooks serve`:
with Metacontroller itself when `METACONTROLLER_BIN` names a binary, with the
project's runner (`tests/e2e/runner`) otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hooks.devcluster import ControlPlaneFiles, LocalCluster
from hooks.devcluster.stack import (
    StackError,
    controller_objects,
    crd_files,
    serve_hooks,
    start_metacontroller,
)
from tests.e2e.runner import Runner

E2E_REMOTE_BACKEND = {
    "name": "e2e-remote",
    "host": "remote.offload.test",
    "location": {"country": "us", "continent": "na"},
}
"""The install's default remote backend in the suite: the seeds' ModelDeployments name none."""


@pytest.fixture(scope="session")
def hooks_server(cluster: LocalCluster) -> Iterator[str]:
    """The base URL of a real `aihooks serve` on loopback, with the suite's settings."""
    try:
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv(
                "AIHOOKS_OFFLOAD_DEFAULT_REMOTE_BACKEND", json.dumps(E2E_REMOTE_BACKEND)
            )
            process, url = serve_hooks(cluster.log_dir)
    except StackError as error:
        pytest.fail(str(error), pytrace=False)
    yield url
    process.terminate()
    process.kill()


@dataclass
class Controllers:
    """What drives the controllers in this session."""

    driver: str
    runner: Runner | None


@pytest.fixture(scope="session")
def controllers(
    cluster: LocalCluster, controlplane_files: ControlPlaneFiles, hooks_server: str
) -> Iterator[Controllers]:
    cluster.apply_crds(crd_files(controlplane_files))
    objects = controller_objects(hooks_server)
    binary = os.environ.get("METACONTROLLER_BIN")
    if binary:
        try:
            process = start_metacontroller(Path(binary), cluster, objects)
        except StackError as error:
            pytest.fail(str(error), pytrace=False)
        yield Controllers("metacontroller", None)
        process.terminate()
        process.kill()
        return
    runner = Runner(cluster.http(), objects)
    runner.start()
    yield Controllers("runner", runner)
    runner.stop()
