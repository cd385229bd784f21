#!/usr/bin/env bash
# Builds the addon for one Node installation, from source, with that Node's own headers
# (<prefix>/include/node, never downloaded). Output: native/build-abi<modules>/vtcon_native.node,
# one directory per ABI so a Node 24 build never clobbers the Node 20 one; native.ts picks the
# one matching process.versions.modules.
#   usage: build-for-node.sh [node-prefix]     (default: the prefix of `node` on PATH)
# Runs at `npm ci` (the package's install script) and from scripts/test-node24.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${1:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}"
prefix="$(cd "$prefix" && pwd)"
node="$prefix/bin/node"
[ -x "$node" ] || { echo "build-for-node.sh: no $node" >&2; exit 1; }
[ -f "$prefix/include/node/node_api.h" ] || { echo "build-for-node.sh: no headers in $prefix/include/node" >&2; exit 1; }

# node-gyp: the copy npm bundles (npm exports its path to lifecycle scripts), else the one next to npm.
gyp="${npm_config_node_gyp:-}"
if [ -z "$gyp" ] || [ ! -f "$gyp" ]; then
  npm_bin="$(readlink -f "$(command -v npm)")"
  gyp="$(dirname "$npm_bin")/../node_modules/node-gyp/bin/node-gyp.js"
fi
[ -f "$gyp" ] || { echo "build-for-node.sh: node-gyp not found (set npm_config_node_gyp)" >&2; exit 1; }

abi="$("$node" -p process.versions.modules)"
cd "$here"
# binding.gyp evaluates `node -p require('node-addon-api')`: use the target Node for it too.
PATH="$prefix/bin:$PATH" "$node" "$gyp" rebuild --nodedir="$prefix" --jobs=2 --loglevel=warn
mkdir -p "build-abi$abi"
cp build/Release/vtcon_native.node "build-abi$abi/vtcon_native.node"
echo "vtcon native addon built for Node $("$node" -v) (ABI $abi): native/build-abi$abi/vtcon_native.node"
