#!/usr/bin/env bash
# `npm pack` each library package, install the tarballs into a fresh project (the addon compiles
# from source there too) and import them: proves the published packages work outside the monorepo,
# that every entry point the READMEs document resolves (`.`, `/testing`, transport's internal
# `/native`), and that no test helper or syscall is exported from a package's `.`.
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
// The imports the READMEs document, each from its entry point, used for real.
import { GuestMemory } from '@vtcon/ring';
import { makeTestQueue } from '@vtcon/ring/testing';
import { VhostUserBackend, VhostUserFrontend, NativeError } from '@vtcon/transport';
import { EchoDevice, EchoTransfer } from '@vtcon/transport/testing';
import * as native from '@vtcon/transport/native';
import { ConsoleDevice, ConsoleWorkerPool, Scrollback, AttachServer, connectAttach, ConsoleError } from '@vtcon/console';
import { serveDevice, connectGuest, VtconDriver, SimulatedGuest, Loopback } from '@vtcon/console/testing';
const fd = native.memfdCreate('pack-check');
native.ftruncate(fd, 4096);
const sab = native.mmapShared(fd, 4096, 0);
new Uint8Array(sab)[0] = 7;
native.releaseMapping(sab);
native.close(fd);
const { memory } = makeTestQueue({ size: 16 });
const device = new ConsoleDevice({ ports: [{ name: 'console', console: true }] });
const fns = { VhostUserBackend, VhostUserFrontend, NativeError, EchoDevice, EchoTransfer, ConsoleWorkerPool, Scrollback, AttachServer, connectAttach, ConsoleError, serveDevice, connectGuest, VtconDriver, SimulatedGuest, Loopback };
const notFn = Object.entries(fns).filter(([, v]) => typeof v !== 'function').map(([k]) => k);
if (!(memory instanceof GuestMemory) || device.queueCount < 4 || notFn.length) throw new Error(`unexpected exports: ${notFn.join(', ')}`);
// Test helpers and the syscall layer stay out of the main entry points.
const leaks = [
  ['@vtcon/console', ['Loopback', 'SimulatedGuest', 'serveDevice', 'connectGuest', 'VtconDriver', 'FrontendHandle', 'ScriptedDevice']],
  ['@vtcon/transport', ['native', 'memfdCreate', 'EchoDevice', 'EchoTransfer']],
  ['@vtcon/ring', ['makeTestQueue', 'makeGuestMemory']],
].flatMap(([pkg, names]) => import(pkg).then((m) => names.filter((n) => n in m).map((n) => `${pkg} exports ${n}`)));
const leaked = (await Promise.all(leaks)).flat();
if (leaked.length) throw new Error(`test helpers in a main entry point: ${leaked.join('; ')}`);
console.log('pack check: @vtcon/ring, @vtcon/transport (addon built from source), @vtcon/console import and run; documented entry points resolve; no test helper in "."');
JS
node check.mjs
