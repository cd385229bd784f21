#!/usr/bin/env bash
# Rebuilds the addon for the Node on PATH when a native source is newer than its build (a pull or a
# merge that changed native/*.cc leaves the addon that `npm ci` built stale). Runs from `build`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
abi="$(node -p process.versions.modules)"
out="$here/build-abi$abi/vtcon_native.node"
if [ -f "$out" ] && [ -z "$(find "$here" -maxdepth 1 \( -name '*.cc' -o -name '*.h' -o -name 'binding.gyp' \) -newer "$out" -print -quit)" ]; then
  exit 0
fi
echo "native sources changed since the last addon build: rebuilding"
exec bash "$here/build-for-node.sh"
