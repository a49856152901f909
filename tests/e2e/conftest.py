"""Cluster fixtures for the end-to-end suite.

One local control plane per session (starting one costs seconds, building
its binaries minutes, see tools/controlplane/build.sh), a fresh namespace per
test. A cluster that cannot start fails the tests with its log directory;
the suite never skips. When a test fails, its report names the log
directory and the logs are kept after the session.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Generator, Iterator

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, ServiceAccount

from hooks.devcluster import (
    BinariesError,
    ClusterStartError,
    ControlPlaneFiles,
    LocalCluster,
    find_controlplane,
)
from tests.e2e.waiting import wait_for

_CLUSTER = pytest.StashKey[LocalCluster]()


def pytest_report_header(config: pytest.Config) -> str:
    """Which driver runs the controllers, at the top of every run's output."""
    binary = os.environ.get("METACONTROLLER_BIN")
    if binary:
        return f"e2e controllers: Metacontroller, METACONTROLLER_BIN={binary}"
    return "e2e controllers: the project's runner (tests/e2e/runner; METACONTROLLER_BIN unset)"


@pytest.fixture(scope="session")
def controlplane_files() -> ControlPlaneFiles:
    """The built binaries and CRDs (builds them on first use, which is slow:
    run `make controlplane` beforehand)."""
    try:
        return find_controlplane()
    except BinariesError as error:
        pytest.fail(f"control-plane binaries unavailable: {error}", pytrace=False)


@pytest.fixture(scope="session")
def cluster(
    request: pytest.FixtureRequest, controlplane_files: ControlPlaneFiles
) -> Iterator[LocalCluster]:
    local = LocalCluster(controlplane_files)
    try:
        local.start()
    except ClusterStartError as error:
        pytest.fail(f"local control plane did not start: {error}", pytrace=False)
    request.config.stash[_CLUSTER] = local
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def kube(cluster: LocalCluster) -> Iterator[Client]:
    """A lightkube client bound to the session's cluster, as its admin."""
    client = cluster.client()
    yield client
    client.close()


def _namespace_name(test_name: str) -> str:
    """A DNS label from the test's name, unique per run."""
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:50].rstrip("-")
    return f"{base}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kube: Client) -> Iterator[str]:
    """A namespace of the test's own, deleted after it (the namespace
    controller removes its content in the background)."""
    name = _namespace_name(request.node.name)
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    # Pods are rejected until the service-account controller has created the
    # namespace's `default` ServiceAccount.
    wait_for(
        lambda: kube.get(ServiceAccount, "default", namespace=name),
        what=f"the default ServiceAccount in {name}",
    )
    yield name
    kube.delete(Namespace, name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    local = item.config.stash.get(_CLUSTER, None)
    if report.failed and local is not None:
        local.keep_logs = True
        report.sections.append(("e2e cluster", f"control-plane logs: {local.log_dir}"))
    return report


from tests.e2e.fixtures_controllers import controllers, hooks_server  # noqa: E402,F401
