#!/usr/bin/env bash
# Builds the aihooks image from the project's Dockerfile without Docker and
# without a registry: mmdebstrap makes a Debian bookworm root filesystem with
# python3 (the base, what python:3.11-slim-bookworm is to a user), buildah
# imports it and builds the Dockerfile on it (`--build-arg BASE=...`).
#
# The base takes a minute from the Debian mirror, so its tarball is cached
# outside the clone, keyed by everything that goes into it (suite, mirrors,
# packages, options, architecture); delete the directory to pick up new
# Debian updates. The Dockerfile's layers are cached by buildah (`--layers`):
# a change to the code rebuilds only the last layers of the build stage. What
# a new build replaces is pruned (only images built on the base), so repeated
# builds do not fill the disk; builds on one machine take turns (a lock file).
#
# pip inside the build reaches PyPI through whatever intercepts TLS here, so
# the host's CA bundle goes in as a build secret (never into a layer).
#
# Usage: tools/image/build.sh [TAG]   (default localhost/aihooks:dev; the last
#        line of stdout is the tag)
# Env:   AIHOOKS_CACHE (default ~/.cache/aihooks), CONTAINERS_CONF (default
#        tools/image/containers.conf beside this script)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tag=${1:-localhost/aihooks:dev}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}

log() { echo "build.sh: [${SECONDS}s] $*" >&2; }

if ! command -v mmdebstrap >/dev/null || ! command -v buildah >/dev/null ||
  ! command -v podman >/dev/null; then
  "$repo/tools/debian-deps.sh"
fi

# Everything the base is made of; its hash is the cache key.
suite=bookworm
mirrors=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
# python3-venv: the Dockerfile's build stage makes a venv with pip (ensurepip);
# the rest is what python:3.11-slim-bookworm carries besides Python.
packages=python3,python3-venv,ca-certificates,netbase,tzdata
options=(
  --variant=minbase
  --include="$packages"
  # Merged /usr by symlinks, without the usrmerge package and the perl it pulls in.
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  # Kept out, as Debian's own slim images do: manuals, translations, docs (not licences).
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
)
# How the tarball becomes an image; the label marks every image built on it,
# which is what the pruning at the end removes when no tag holds it any more.
config=(
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  --env LANG=C.UTF-8
  --label dev.aihooks.built-by=tools/image/build.sh
  --cmd '["python3"]'
)
arch=$(dpkg --print-architecture)
key=$(printf '%s\n' "$suite" "$arch" "${mirrors[@]}" "${options[@]}" "${config[@]}" |
  sha256sum | cut -c1-16)
root="${AIHOOKS_CACHE:-$HOME/.cache/aihooks}/image"
cache="$root/base-$suite-$key"
base=localhost/aihooks-base:$suite-$key

# One build at a time on this machine: the pruning must not race another build.
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9

if [[ ! -f "$cache/base.tar" ]]; then
  log "building the $suite base with mmdebstrap into $cache"
  mkdir -p "$cache"
  tmp=$(mktemp --suffix=.tar "$cache/.base.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  # A fixed epoch makes the tarball the same bytes for the same packages.
  SOURCE_DATE_EPOCH=1700000000 mmdebstrap --quiet "${options[@]}" "$suite" "$tmp" "${mirrors[@]}" >&2
  chmod 644 "$tmp"
  mv "$tmp" "$cache/base.tar"
fi

if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  log "importing $cache/base.tar as $base"
  container=$(buildah from scratch)
  buildah add --quiet "$container" "$cache/base.tar" /
  buildah config "${config[@]}" "$container"
  buildah commit --quiet --rm "$container" "$base" >/dev/null
fi

# The host's CA bundle, as pip here is configured to use it.
cacert=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}}
secret=()
[[ -s "$cacert" ]] && secret=(--secret "id=cacert,src=$cacert")

build() {
  buildah bud --quiet --layers --build-arg "BASE=$base" "${secret[@]}" \
    --file "$repo/Dockerfile" "$@" "$repo" >/dev/null
}
log "building $tag from $base"
build --tag "$tag"
# The build stage under a tag of its own (every layer is cached by now), so
# that the pruning keeps its pip layers; then the builds no tag holds go.
build --target build --tag localhost/aihooks-build:latest
podman image prune --force --filter label=dev.aihooks.built-by >/dev/null
echo "$tag"
