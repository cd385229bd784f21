#!/usr/bin/env bash
# `npm pack` each library package, install the tarballs into a fresh project (the addon compiles
# from source there too) and import them: proves the published packages work outside the monorepo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d -t vtcon-pack.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
for p in ring transport console; do (cd "$root/packages/$p" && npm pack --silent --pack-destination "$dir" >/dev/null); done
cd "$dir"
cat > package.json <<'JSON'
{ "name": "vtcon-pack-check", "private": true, "type": "module", "allowScripts": { "@vtcon/transport": true } }
JSON
npm install --no-audit --no-fund --loglevel=error ./vtcon-ring-0.1.0.tgz ./vtcon-transport-0.1.0.tgz ./vtcon-console-0.1.0.tgz
cat > check.mjs <<'JS'
import { GuestMemory } from '@vtcon/ring';
import { makeTestQueue } from '@vtcon/ring/testing';
import { native, VhostUserBackend } from '@vtcon/transport';
import { ConsoleDevice } from '@vtcon/console';
const fd = native.memfdCreate('pack-check');
native.ftruncate(fd, 4096);
const sab = native.mmapShared(fd, 4096, 0);
new Uint8Array(sab)[0] = 7;
native.releaseMapping(sab);
native.close(fd);
const { memory } = makeTestQueue({ size: 16 });
const device = new ConsoleDevice({ ports: [{ name: 'console', console: true }] });
if (!(memory instanceof GuestMemory) || typeof VhostUserBackend !== 'function' || device.queueCount < 4) throw new Error('unexpected exports');
console.log('pack check: @vtcon/ring, @vtcon/transport (addon built from source), @vtcon/console import and run');
JS
node check.mjs
