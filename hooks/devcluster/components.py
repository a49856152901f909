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
from hooks.devcluster.pki import FRONT_PROXY_CLIENT, Pki

SERVICE_CIDR = "10.0.0.0/24"
# The first address of the service range, which the `kubernetes` Service gets.
SERVICE_IPS = ("10.0.0.1",)
# Pod IPs that kwok hands out; apart from the service range so that the
# EndpointSlices look like a real cluster's.
POD_CIDR = "10.244.0.0/16"
# Lease duration kwok renews for every node; the node lifecycle controller's
# default grace period (40 s) is measured against it.
NODE_LEASE_SECONDS = 40
# How often metrics-server scrapes every node (its minimum); its per-node
# request timeout must stay below 90 % of it or it refuses to start.
METRIC_RESOLUTION = "10s"
KUBELET_REQUEST_TIMEOUT = "5s"
# The HPA controller's loop, short enough for a test to see a scaling step in
# well under a minute (the default is 15 s, with a 5 min cpu initialization).
HPA_SYNC_PERIOD = "5s"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    metrics_server: int
    kwok: int
    """Every fake node's kubelet port: kwok serves each node's /metrics/resource there."""


@dataclass(frozen=True)
class Layout:
    """Everything a component's command line refers to."""

    files: ControlPlaneFiles
    pki: Pki
    ports: Ports
    etcd_dir: Path
    token_file: Path
    kubeconfig: Path
    metrics_server_dir: Path
    """Where metrics-server writes its self-signed serving certificate."""


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
        # The aggregation layer, for metrics.k8s.io: the API server proxies to
        # metrics-server with the front proxy's client certificate and the
        # caller's identity in these headers. Aggregator routing stays off so
        # that the APIService's ExternalName Service (127.0.0.1) is dialled.
        f"--requestheader-client-ca-file={layout.pki.front_proxy_ca_cert}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={layout.pki.front_proxy_client_cert}",
        f"--proxy-client-key-file={layout.pki.front_proxy_client_key}",
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
        f"--horizontal-pod-autoscaler-sync-period={HPA_SYNC_PERIOD}",
        # A new pod's cpu counts after 10 s instead of 5 min, and readiness
        # changes are trusted after 5 s instead of 30 s.
        "--horizontal-pod-autoscaler-cpu-initialization-period=10s",
        "--horizontal-pod-autoscaler-initial-readiness-delay=5s",
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
        # Resource-usage emulation: the Metric and ClusterResourceUsage
        # documents make kwok answer each node's /metrics/resource with the
        # usage set by the pods' kwok.x-k8s.io/usage-{cpu,memory} annotations.
        *(f"--config={doc}" for doc in layout.files.kwok_metrics),
        "--manage-all-nodes=true",
        f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
        f"--cidr={POD_CIDR}",
        # Every node gets this InternalIP and kubelet port (only nodes created
        # without addresses), which is where metrics-server scrapes.
        "--node-ip=127.0.0.1",
        f"--node-port={layout.ports.kwok}",
        f"--server-address=127.0.0.1:{layout.ports.kwok}",
    ]


def metrics_server(layout: Layout) -> list[str]:
    kubeconfig = str(layout.kubeconfig)
    return [
        str(layout.files.metrics_server),
        f"--secure-port={layout.ports.metrics_server}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={layout.metrics_server_dir}",
        f"--kubeconfig={kubeconfig}",
        # Delegated authentication reads the front proxy's CA from the API
        # server's extension-apiserver-authentication ConfigMap.
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        # The kwok nodes' addresses and ports; kwok's server presents a
        # throw-away certificate.
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-use-node-status-port",
        "--kubelet-insecure-tls",
        f"--kubelet-request-timeout={KUBELET_REQUEST_TIMEOUT}",
        f"--metric-resolution={METRIC_RESOLUTION}",
        "--v=1",
    ]
