#!/usr/bin/env bash
# Builds the local Kubernetes control plane the e2e suite runs against
# (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
# kwok, kustomize, metrics-server) from the pinned wrapper modules beside this
# script, and gathers the third-party CRDs and the kwok Stage and metrics
# documents the harness applies.
#
# The output goes to a cache directory outside the clone, keyed by the pinned
# versions, because a cold build takes tens of minutes and several GB of Go
# caches; a second run with everything present only prints the directory.
# Idempotent and safe to interrupt: binaries are built into a scratch
# directory and moved into place only when complete.
#
# Usage: tools/controlplane/build.sh    (last line of stdout: the cache dir)
# Env:   AIHOOKS_CACHE (default ~/.cache/aihooks)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

# Pins of what is not a binary; the binaries are pinned by the go.mod/go.sum
# of their wrapper modules.
istio_api_version=v1.31.4
gateway_api_version=v1.6.3

# The go directive of every wrapper module names the toolchain installed
# here; never let Go download another one.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false"

log() { echo "build.sh: $*" >&2; }

# Prints the version that wrapper module $1 resolves for module $2.
pinned() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

# Prints the directory of module $2 as resolved (and hash-checked against
# go.sum) by wrapper module $1, downloading it if needed.
module_dir() {
  (cd "$here/$1" && go mod download -json "$2") |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# Same, for a module pinned by version only (checked against the checksum
# database); outside any module so no wrapper's go.mod changes.
module_dir_at() {
  (cd "$tmp" && go mod download -json "$1") |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

k8s_version=$(pinned kubernetes k8s.io/kubernetes)
etcd_version=$(pinned etcd go.etcd.io/etcd/server/v3)
kwok_version=$(pinned kwok sigs.k8s.io/kwok)
kustomize_version=$(pinned kustomize sigs.k8s.io/kustomize/kustomize/v5)
metrics_server_version=$(pinned metrics-server sigs.k8s.io/metrics-server)

key="k8s-${k8s_version}_etcd-${etcd_version}_kwok-${kwok_version}_kustomize-${kustomize_version}"
key+="_metrics-server-${metrics_server_version}"
out="${AIHOOKS_CACHE:-$HOME/.cache/aihooks}/controlplane/$key"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kustomize
  metrics-server)
assets_stamp="istio-${istio_api_version} gateway-api-${gateway_api_version} kwok-${kwok_version}"
assets_stamp+=" kwok-metrics"

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$out/bin/$b" ]] || return 1; done
  [[ -f "$out/assets.stamp" && "$(cat "$out/assets.stamp")" == "$assets_stamp" ]]
}

if complete; then
  echo "$out"
  exit 0
fi

mkdir -p "$out/bin"
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# $1 wrapper dir, $2 output name, $3 package, rest: extra go build flags.
build() {
  local dir=$1 name=$2 pkg=$3
  shift 3
  if [[ -x "$out/bin/$name" ]]; then return; fi
  log "building $name ($pkg)"
  (cd "$here/$dir" && go build -trimpath "$@" -o "$tmp/$name" "$pkg")
  mv "$tmp/$name" "$out/bin/$name"
}

# Without these the binaries report v0.0.0, which kubectl and clients use for
# version skew checks and which makes logs ambiguous.
minor=${k8s_version#v1.}
minor=${minor%%.*}
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean"
done

for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build kubernetes "$cmd" "k8s.io/kubernetes/cmd/$cmd" -ldflags "$k8s_ldflags"
done
build etcd etcd go.etcd.io/etcd/server/v3
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
build kustomize kustomize sigs.k8s.io/kustomize/kustomize/v5 \
  -ldflags "-X sigs.k8s.io/kustomize/api/provenance.version=$kustomize_version"
# Its Makefile sets the version in client-go; without it it reports v0.0.0-master.
build metrics-server metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server \
  -ldflags "-X k8s.io/client-go/pkg/version.gitVersion=$metrics_server_version"

log "collecting CRDs and kwok stages ($assets_stamp)"
istio_dir=$(module_dir_at "istio.io/api@$istio_api_version")
gateway_dir=$(module_dir_at "sigs.k8s.io/gateway-api@$gateway_api_version")
kwok_dir=$(module_dir kwok sigs.k8s.io/kwok)
[[ -n $istio_dir && -n $gateway_dir && -n $kwok_dir ]] || { log "module download failed"; exit 1; }

assets="$tmp/assets"
mkdir -p "$assets/crds/gateway-api" "$assets/kwok-stages" "$assets/kwok-metrics"
cp "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" "$assets/crds/istio.yaml"
cp "$gateway_dir"/config/crd/standard/*.yaml "$assets/crds/gateway-api/"
# What kwok's own `kustomize/stage/fast` bundle lists, with node heartbeats
# that renew Leases so the node lifecycle controller keeps the nodes Ready.
cp "$kwok_dir/kustomize/stage/node/fast/node-initialize.yaml" \
  "$kwok_dir/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
  "$kwok_dir/kustomize/stage/pod/fast/pod-ready.yaml" \
  "$kwok_dir/kustomize/stage/pod/fast/pod-complete.yaml" \
  "$kwok_dir/kustomize/stage/pod/fast/pod-delete.yaml" \
  "$assets/kwok-stages/"
# Resource-usage emulation: the kubelet's /metrics/resource endpoint per node,
# fed by the usage that pods' kwok.x-k8s.io/usage-{cpu,memory} annotations set.
cp "$kwok_dir/kustomize/metrics/resource/metrics-resource.yaml" \
  "$kwok_dir/kustomize/metrics/usage/usage-from-annotation.yaml" \
  "$assets/kwok-metrics/"
chmod -R u+w "$assets"
rm -rf "$out/crds" "$out/kwok-stages" "$out/kwok-metrics"
mv "$assets/crds" "$assets/kwok-stages" "$assets/kwok-metrics" "$out/"
echo "$assets_stamp" > "$out/assets.stamp"

echo "$out"
