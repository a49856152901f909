#!/usr/bin/env bash
# Builds goreplay (`gor`, the traffic-capture sidecar of an MLOps Model) from the
# wrapper module beside this script, for the tests that run it for real on
# loopback. goreplay links libpcap through cgo: it needs the Debian package
# libpcap-dev (tools/debian-packages.txt).
#
# Output: ${AIHOOKS_CACHE:-~/.cache/aihooks}/goreplay/<version>/goreplay; a
# second run with the binary present only prints it.
# Usage: tools/goreplay/build.sh   (last line of stdout: the binary's path)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export GOTOOLCHAIN=local CGO_ENABLED=1
export GOFLAGS="-mod=readonly -buildvcs=false"

version=$(cd "$here" && go list -m -f '{{.Version}}' github.com/buger/goreplay)
out="${AIHOOKS_CACHE:-$HOME/.cache/aihooks}/goreplay/$version"
if [[ -x "$out/goreplay" ]]; then
  echo "$out/goreplay"
  exit 0
fi
mkdir -p "$out"
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "build.sh: building goreplay $version" >&2
(cd "$here" && go build -trimpath -ldflags "-X main.VERSION=$version" -o "$tmp/goreplay" github.com/buger/goreplay)
mv "$tmp/goreplay" "$out/goreplay"
echo "$out/goreplay"
