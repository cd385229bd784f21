// Child process of console-bench.mjs: a fresh "daemon" process serving `vms` idle VMs, so its
// memory is measured from a clean baseline. Per VM, as the CLI daemon builds one
// (packages/cli/src/daemon/console-fleet.ts): one ConsoleDevice (one console port, the port
// queues on a shared ConsoleWorkerPool) served by one VhostUserBackend on its own socket. The
// guests (seed driver model, small guest RAM) run in `guestProcs` further child processes; once
// every guest has attached and named its port, nothing moves: the VMs are idle.
//
// IPC: argv[2] = {vms, ports?, maxPorts, workers, guestProcs, guestRam: [bytes, bytes], snapshot?};
// child → {t:'result', ...} then exits. Memory: process.memoryUsage() after gc() twice and
// /proc/self/status (RssAnon = the daemon's private pages; RssShmem = guest-RAM memfd pages the
// daemon touched, i.e. ring pages it reads, which the guest's own RSS counts too).
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';

const { ConsoleDevice, ConsoleWorkerPool } = await import(process.env.VTCON_CONSOLE ?? '@vtcon/console');
const { serveDevice } = await import('@vtcon/console/testing');
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const here = dirname(fileURLToPath(import.meta.url));
const cfg = JSON.parse(process.argv[2]);

function status() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) ?? [])[1] ?? 0) * 1024;
  // Private anonymous pages split by mapping: the malloc heap ([heap]: native allocations of
  // the addon, libuv handles, V8 off-heap) vs other anonymous maps (V8's heap pages, thread stacks).
  let mallocAnon = 0;
  let otherAnon = 0;
  let inHeap = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inHeap = line.endsWith('[heap]');
    else if (line.startsWith('Anonymous:')) {
      const b = Number(line.split(/\s+/)[1]) * 1024;
      if (inHeap) mallocAnon += b; else otherAnon += b;
    }
  }
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), shmem: kb('RssShmem'), file: kb('RssFile'), mallocAnon, otherAnon };
}

async function settle() {
  for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 100)); }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, fds: readdirSync('/proc/self/fd').length, ...status() };
}

const dir = mkdtempSync(join(tmpdir(), 'vtcon-idle-'));
const pool = cfg.workers > 0 ? new ConsoleWorkerPool({ threads: cfg.workers }) : null;
const vms = [];
const children = [];
try {
  // Baseline after the pool exists; if its threads start lazily, their fixed cost lands in the
  // delta (an overstatement of a few KiB per VM at 1,000 VMs).
  const before = await settle();
  for (let v = 0; v < cfg.vms; v++) {
    const path = join(dir, `vm${v}.sock`);
    const dev = new ConsoleDevice({
      // cfg.ports (default 1): the console and named ports, all idle (per-port cost: compare counts).
      ports: Array.from({ length: cfg.ports ?? 1 }, (_, i) => (i === 0 ? { name: 'console', console: true } : { name: `p${i}` })), maxPorts: cfg.maxPorts,
      ...(pool ? { engine: (h) => pool.createEngine(h) } : {}),
      sinksFor: () => [{ write: () => {}, close: async () => {} }],
    });
    vms.push({ path, dev, backend: serveDevice(path, dev) });
  }
  const served = await settle();
  const n = Math.max(1, Math.min(cfg.guestProcs, cfg.vms));
  for (let i = 0; i < n; i++) {
    const sockets = vms.map((v) => v.path).filter((_p, g) => g % n === i);
    const child = fork(join(here, 'guest-load.mjs'), [JSON.stringify({ sockets, portsPerGuest: cfg.ports ?? 1, driverMaxPorts: cfg.maxPorts, chunk: 128, inflight: 1, bytesPerPort: 0, memory: cfg.guestRam })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(new Promise((resolve, reject) => {
      child.on('message', (m) => { if (m.t === 'ready') resolve(child); });
      child.once('exit', (code) => reject(new Error(`guest-load exited ${code}`)));
    }));
  }
  const kids = await Promise.all(children);
  const connected = vms.filter((v) => v.backend.connected).length;
  await new Promise((r) => setTimeout(r, 500));
  const after = await settle();
  let snapshot = null;
  if (cfg.snapshot) snapshot = writeHeapSnapshot(join(tmpdir(), `vtcon-idle-${cfg.vms}.heapsnapshot`));
  process.send({ t: 'result', before, served, after, connected, snapshot });
  for (const k of kids) { k.send('exit'); }
  await Promise.all(kids.map((k) => new Promise((r) => { if (k.exitCode !== null) r(); else { k.once('exit', r); setTimeout(r, 10_000); } })));
} finally {
  for (const v of vms) { await v.backend.close(); await v.dev.close(); }
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
