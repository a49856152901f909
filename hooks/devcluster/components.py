"""Command lines of the control-plane components, as pure functions of where
things are.

The flags follow what envtest and Metacontroller's integration tests use,
plus what a host without a default route or a kubelet needs. Each flag that
is not obvious says why it is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hooks.devcluster.binaries import ControlPlaneFiles
from hooks.devcluster.pki import Pki

SERVICE_CIDR = "10.0.0.0/24"
# The first address of the service range, which the `kubernetes` Service gets.
SERVICE_IPS = ("10.0.0.1",)
# Pod IPs that kwok hands out; apart from the service range so that the
# EndpointSlices look like a real cluster's.
POD_CIDR = "10.244.0.0/16"
# Lease duration kwok renews for every node; the node lifecycle controller's
# default grace period (40 s) is measured against it.
NODE_LEASE_SECONDS = 40


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int


@dataclass(frozen=True)
class Layout:
    """Everything a component's command line refers to."""

    files: ControlPlaneFiles
    pki: Pki
    ports: Ports
    etcd_dir: Path
    token_file: Path
    kubeconfig: Path


def etcd(layout: Layout) -> list[str]:
    client = f"http://127.0.0.1:{layout.ports.etcd_client}"
    peer = f"http://127.0.0.1:{layout.ports.etcd_peer}"
    return [
        str(layout.files.etcd),
        f"--data-dir={layout.etcd_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        # A test cluster's data is thrown away; fsync dominates its latency.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def kube_apiserver(layout: Layout) -> list[str]:
    return [
        str(layout.files.kube_apiserver),
        f"--etcd-servers=http://127.0.0.1:{layout.ports.etcd_client}",
        "--bind-address=127.0.0.1",
        # Without it the server looks for the default route's address and a
        # host with no default route fails to start.
        "--advertise-address=127.0.0.1",
        f"--secure-port={layout.ports.apiserver}",
        f"--tls-cert-file={layout.pki.server_cert}",
        f"--tls-private-key-file={layout.pki.server_key}",
        # Published in kube-system for delegated authentication; without it
        # the controller manager and scheduler complain on every request.
        f"--client-ca-file={layout.pki.ca_cert}",
        f"--token-auth-file={layout.token_file}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={layout.pki.service_account_public_key}",
        f"--service-account-signing-key-file={layout.pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # No real endpoint is reachable at 127.0.0.1 from a pod; keep the
        # `kubernetes` Service's endpoints out of the way.
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--v=1",
    ]


def _component_common(layout: Layout, port: int) -> list[str]:
    """Flags that kube-controller-manager and kube-scheduler share."""
    kubeconfig = str(layout.kubeconfig)
    return [
        f"--kubeconfig={kubeconfig}",
        # Delegated authentication of their own health endpoints; without
        # these they look for an in-cluster config and log errors.
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--v=1",
    ]


def kube_controller_manager(layout: Layout) -> list[str]:
    return [
        str(layout.files.kube_controller_manager),
        *_component_common(layout, layout.ports.controller_manager),
        # Every default controller: garbage collection, Deployments,
        # ReplicaSets, EndpointSlices, namespace deletion, service accounts...
        "--controllers=*",
        f"--root-ca-file={layout.pki.ca_cert}",
        f"--service-account-private-key-file={layout.pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # One admin identity for all controllers instead of a token per
        # controller: less to set up, same behaviour for the tests.
        "--use-service-account-credentials=false",
    ]


def kube_scheduler(layout: Layout) -> list[str]:
    return [
        str(layout.files.kube_scheduler),
        *_component_common(layout, layout.ports.scheduler),
    ]


def kwok(layout: Layout) -> list[str]:
    return [
        str(layout.files.kwok),
        f"--kubeconfig={layout.kubeconfig}",
        # Explicit files replace kwok's ~/.kwok default config.
        *(f"--config={stage}" for stage in layout.files.kwok_stages),
        "--manage-all-nodes=true",
        f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
        f"--cidr={POD_CIDR}",
        "--node-ip=127.0.0.1",
    ]
