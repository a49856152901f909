"""A local Kubernetes control plane built from Go modules, for the e2e suite.

Real kube-apiserver, etcd, kube-controller-manager and kube-scheduler, with
kwok standing in for kubelets, all on loopback ports: the hooks are tested
against the same API machinery (CRD validation, server-side apply, garbage
collection, scheduling) that production clusters run, on a machine without
Docker. The binaries come from `tools/controlplane/build.sh`.
"""

from hooks.devcluster.binaries import BinariesError, ControlPlaneFiles, find_controlplane
from hooks.devcluster.cluster import ClusterStartError, LocalCluster
from hooks.devcluster.nodes import DEFAULT_NODES, NodeSpec
from hooks.devcluster.openapi import field_schema

__all__ = [
    "DEFAULT_NODES",
    "BinariesError",
    "ClusterStartError",
    "ControlPlaneFiles",
    "LocalCluster",
    "NodeSpec",
    "field_schema",
    "find_controlplane",
]
