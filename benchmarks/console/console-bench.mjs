#!/usr/bin/env node
// @vtcon/console benchmark. The daemon side (ConsoleDevice per VM on VhostUserBackend sockets,
// port queues serviced inline or by a ConsoleWorkerPool) runs in this process; the guests (the
// seed driver model over VhostUserFrontend, see guest-load.mjs) run in a child process, so the
// numbers cross a process boundary like QEMU guests do.
//   - guest→host throughput per port and aggregate: 1/8/32 ports on one guest, 1/16/128 guests
//     with one port, with the main thread alone ('inline') and with 1 and 2 workers;
//   - hvc0-like per-chain cost: one 2 KiB chain in flight, daemon CPU s/MiB and post→used
//     latency seen by the guest, with the CLI daemon's sinks (chain-bench.mjs repeats it);
//   - 1 vs 2 workers with guests in two processes (scale-bench.mjs repeats it interleaved);
//   - keystroke round trip: host send → guest echo (SimulatedGuest, child process) → host sink,
//     p50/p99, inline, with 2 workers, and with 2 workers while 256 more ports trickle
//     (keystroke-bench.mjs repeats it);
//   - kick → used latency seen by the guest (one chain at a time), inline / 1 / 2 workers;
//   - idle VMs: 1,000 (quick 200) connected idle VMs in one fresh daemon process, RSS per VM;
//   - memory per port (heap+external delta of the daemon process after gc();
//     RSS is not reported: it is dominated by shared guest-RAM pages and GC timing).
//
//   node benchmarks/console/console-bench.mjs [--quick]
//
// Exports runConsoleBench({ quick }) for benchmarks/run.mjs.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
// VTCON_CONSOLE=/path/to/other/dist/index.js runs the daemon side on another build (A/B runs of
// a change in one session); the guests and the harness are this build's.
const { ConsoleDevice, ConsoleWorkerPool, Scrollback } = await import(process.env.VTCON_CONSOLE ?? '@vtcon/console');
const { connectGuest, serveDevice } = await import('@vtcon/console/testing');

// A real gc() for the memory cases, without requiring node --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

const here = dirname(fileURLToPath(import.meta.url));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function until(cond, ms = 120_000, what = 'condition') {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`console-bench: timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Serve `guests` VMs with `ports` ports each; returns devices, backends and a byte counter.
 * realSinks: every port also gets what the CLI daemon gives it (a 1 MiB Scrollback, and its log
 * in `dir`, appended before each chain is used), to see their share of the per-chain cost.
 */
async function daemon(dir, guests, ports, pool, realSinks = false) {
  const vms = [];
  const counter = { bytes: 0, target: Infinity, done: null };
  for (let g = 0; g < guests; g++) {
    const path = join(dir, `vm${g}.sock`);
    const extra = [];
    if (realSinks) for (let i = 0; i < ports; i++) extra.push([new Scrollback({ capacityBytes: 1 << 20 })]);
    let next = 0;
    const dev = new ConsoleDevice({
      ports: Array.from({ length: ports }, (_, i) => ({
        name: `g${g}.p${i}`, console: i === 0, ...(realSinks ? { log: { path: join(dir, `vm${g}`, `p${i}.log`) } } : {}),
      })),
      maxPorts: Math.max(ports, 1),
      ...(pool ? { engine: (h) => pool.createEngine(h) } : {}),
      // A sink that only counts: the benchmark measures the console path, not log files.
      sinksFor: () => [...(extra[next++] ?? []), { write: (c) => { counter.bytes += c.length; if (counter.bytes >= counter.target) counter.done?.(); }, close: async () => {} }],
    });
    vms.push({ path, dev, backend: serveDevice(path, dev) });
  }
  return { vms, counter };
}

async function closeDaemon(d) {
  for (const v of d.vms) { await v.backend.close(); await v.dev.close(); }
}

function startGuests(cfg) {
  const child = fork(join(here, 'guest-load.mjs'), [JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const msgs = [];
  let waiter = null;
  child.on('message', (m) => { msgs.push(m); waiter?.(); });
  const next = (t) => new Promise((resolve, reject) => {
    const check = () => { const i = msgs.findIndex((m) => m.t === t); if (i >= 0) { waiter = null; resolve(msgs.splice(i, 1)[0]); } };
    waiter = check; check();
    child.once('exit', (code) => reject(new Error(`guest-load exited ${code}`)));
  });
  return { child, next };
}

/**
 * Guests in `procs` child processes (guest g in process g % procs), so that with several
 * guests the guest side is not one busy thread that caps what the daemon can show.
 */
function startGuestProcs(sockets, procs, cfg) {
  const n = Math.max(1, Math.min(procs, sockets.length));
  const gs = Array.from({ length: n }, (_, i) => startGuests({ ...cfg, sockets: sockets.filter((_s, g) => g % n === i) }));
  return {
    next: (t) => Promise.all(gs.map((g) => g.next(t))),
    send: (m) => { for (const g of gs) g.child.send(m); },
    exit: () => Promise.all(gs.map((g) => new Promise((r) => { g.child.once('exit', r); g.child.send('exit'); setTimeout(r, 5000); }))),
  };
}

/** Pool options from the environment for A/B runs: VTCON_COALESCE_MS. */
const poolOpts = () => (process.env.VTCON_COALESCE_MS !== undefined ? { coalesceMs: Number(process.env.VTCON_COALESCE_MS) } : {});

export async function throughput({ guests, ports, workers, bytesPerPort, flood = false, chunk = 4096, inflight = 32, guestProcs = 1, realSinks = false }) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-cbench-'));
  const pool = workers > 0 ? new ConsoleWorkerPool({ threads: workers, ...poolOpts() }) : null;
  const d = await daemon(dir, guests, ports, pool, realSinks);
  const g = startGuestProcs(d.vms.map((v) => v.path), guestProcs, { portsPerGuest: ports, chunk, inflight, bytesPerPort, flood });
  try {
    await g.next('ready');
    const total = guests * ports * bytesPerPort;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    // Event-driven end (no polling timer adding daemon CPU): the sink resolves at the total.
    const reached = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('console-bench: timeout waiting for bytes at the sinks')), 300_000);
      d.counter.target = total;
      d.counter.done = () => { clearTimeout(t); d.counter.done = null; resolve(); };
    });
    g.send('go');
    await reached;
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    // Flood guests report post→used latency per chain (kick → used → the guest saw it).
    const done = flood ? await Promise.race([g.next('done'), new Promise((r) => setTimeout(() => r(null), 5000))]) : null;
    const used = done ? done.map((x) => x).sort((a, b) => b.usedP99Ns - a.usedP99Ns)[0] : null;
    const bytesPerSec = total / (ns / 1e9);
    return {
      suite: 'console', name: 'guest→host throughput',
      params: { guests, ports, workers: workers === 0 ? 'inline' : workers, chunk, inflight, guest: flood ? 'flood' : 'driver', guestProcs, ...(realSinks ? { sinks: 'scrollback+log' } : {}) },
      bytesPerSec,
      // Daemon process CPU (all threads, user+system) per MiB moved.
      cpuSecPerMiB: (cpu.user + cpu.system) / 1e6 / (total / (1 << 20)),
      ...(used ? { usedP50Ns: used.usedP50Ns, usedP99Ns: used.usedP99Ns } : {}), opsPerSec: (total / chunk) / (ns / 1e9), samples: 1,
      perPortBytesPerSec: bytesPerSec / (guests * ports),
    };
  } finally {
    await g.exit();
    await closeDaemon(d);
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Keystroke round trip on one console; with `background` ({ guests, ports, trickleMs, chunk })
 * that many more guests (own process) keep every port active, each writing `chunk` bytes every
 * trickleMs, served by the same daemon (same pool) while the keystrokes are timed.
 */
// warmup: keystrokes sent before timing starts. The first ~2000 after start-up measure V8 tiering
// up in four JS threads on two cores (p99 1.4-2.7 ms with 2 workers), not the data path (steady
// p99 0.3-0.45 ms); see keystroke-bench.mjs. The cold figure is kept as params.coldP99Ns.
export async function keystroke({ workers, n, background = null, guestProc = false, warmup = 3000 }) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-kbench-'));
  const pool = workers > 0 ? new ConsoleWorkerPool({ threads: workers, ...poolOpts() }) : null;
  const bg = background ? await daemon(dir, background.guests, background.ports, pool) : null;
  const bgGuests = bg ? startGuests({ sockets: bg.vms.map((v) => v.path), portsPerGuest: background.ports, chunk: background.chunk ?? 64, inflight: 1, bytesPerPort: 0, trickleMs: background.trickleMs }) : null;
  if (bgGuests) { await bgGuests.next('ready'); bgGuests.child.send('go'); }
  const path = join(dir, 'vm.sock');
  let out = '';
  let echoed = null;
  const dev = new ConsoleDevice({ ports: [{ name: 'console', console: true }], ...(pool ? { engine: (h) => pool.createEngine(h) } : {}) });
  // The sink side: the round trip ends when the echo reaches the device's 'data' event.
  dev.on('data', (_p, b) => { out += Buffer.from(b).toString('latin1'); echoed?.(); });
  const backend = serveDevice(path, dev);
  // guestProc: the echoing guest runs in a child process (as a QEMU guest would), so its own
  // event loop does not share the daemon's thread.
  const child = guestProc ? startGuests({ sockets: [path], portsPerGuest: 1, chunk: 4096, inflight: 1, bytesPerPort: 0, shell: true }) : null;
  const { driver } = child ? { driver: { detach: async () => { child.child.send('exit'); await new Promise((r) => { child.child.once('exit', r); setTimeout(r, 5000); }); } } } : await connectGuest(path, { shell: { hostname: 'bench' } });
  try {
    await until(() => out.includes('bench:~# ') && dev.port(0).guestOpen, 20_000, 'guest prompt');
    const lat = [];
    const cold = [];
    for (let i = 0; i < n + warmup; i++) {
      const got = new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('console-bench: no echo within 5 s')), 5000);
        echoed = () => { clearTimeout(t); echoed = null; resolve(); };
      });
      const t0 = process.hrtime.bigint();
      dev.send(0, 'x');
      await got;
      const ns = Number(process.hrtime.bigint() - t0);
      if (i >= warmup) lat.push(ns); else if (i >= 50) cold.push(ns);
    }
    lat.sort((a, b) => a - b);
    cold.sort((a, b) => a - b);
    const bgBytes = bg?.counter.bytes ?? 0;
    return {
      suite: 'console', name: 'keystroke round trip (host send → guest echo → host sink)',
      params: { workers: workers === 0 ? 'inline' : workers, guestInProcess: !guestProc, warmup, ...(cold.length ? { coldP99Ns: pct(cold, 0.99) } : {}), ...(background ? { ports: background.guests * background.ports, activePorts: background.guests * background.ports, trickleMs: background.trickleMs, bgBytes } : {}) },
      p50Ns: pct(lat, 0.5), p99Ns: pct(lat, 0.99), meanNs: lat.reduce((a, b) => a + b, 0) / lat.length, samples: lat.length,
    };
  } finally {
    await driver.detach();
    await backend.close();
    await dev.close();
    if (bgGuests) {
      bgGuests.child.send('stop');
      await bgGuests.next('stopped').catch(() => {});
      bgGuests.child.send('exit');
      await new Promise((r) => { bgGuests.child.once('exit', r); setTimeout(r, 5000); });
      await closeDaemon(bg);
    }
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Kick → used: the guest (child process) posts one 64-byte transmit chain and kicks; the time
 * until it sees the used entry. spin: the guest busy-polls the used ring as the seed's
 * vtcon_port_out does (virtqueue_poll) — when the entry became visible, the target's measure.
 * Otherwise it sleeps on the call eventfd (an interrupt-driven driver), which adds the guest's
 * own wake-up; that case is named without "kick" so the dashboard does not take it for the target.
 * One VM, one port, the port queues inline or on `workers` worker threads.
 */
export async function kickToUsed({ workers, kicks, spin = true, realSinks = false }) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-kick-'));
  const pool = workers > 0 ? new ConsoleWorkerPool({ threads: workers, ...poolOpts() }) : null;
  const d = await daemon(dir, 1, 1, pool, realSinks);
  const g = startGuests({ sockets: d.vms.map((v) => v.path), portsPerGuest: 1, chunk: 64, inflight: 1, bytesPerPort: 0, kicks, warmup: 200, spin });
  try {
    await g.next('ready');
    g.child.send('go');
    const r = await g.next('done');
    return {
      suite: 'console', name: spin ? 'kick-to-used latency (guest kick → used entry, guest polling like the seed)' : 'TX post → used seen by an interrupt-driven guest (call eventfd wake)',
      params: { workers: workers === 0 ? 'inline' : workers, guests: 1, ports: 1, chunk: 64, ...(realSinks ? { sinks: 'scrollback+log' } : {}) },
      p50Ns: r.p50Ns, p99Ns: r.p99Ns, meanNs: r.meanNs, samples: r.samples,
    };
  } finally {
    g.child.send('exit');
    await new Promise((r) => { g.child.once('exit', r); setTimeout(r, 5000); });
    await closeDaemon(d);
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `vms` idle VMs in one fresh daemon process (idle-daemon.mjs): ConsoleDevice + VhostUserBackend
 * per VM on a 2-thread pool (the CLI default), guests attached from `guestProcs` processes with
 * 1 MiB + 1 MiB guest RAM (ring region larger when maxPorts needs it). value = the daemon's RSS growth per VM (private pages + the guest-RAM
 * pages it touched); params carry the split: anon (private; mostly V8's committed heap, heapTotal,
 * ~2.5× the live heapUsed+external after gc), shmem (ring/buffer pages of guest RAM, which the
 * guest's RSS counts too), malloc ([heap] mapping: addon/libuv native allocations). fds per VM bound the count: RLIMIT_NOFILE here is
 * 20,000 (hard), and each VM holds 2 sockets + 2 eventfds per queue (maxPorts 1 → 4 queues).
 */
export async function idleVms({ vms, maxPorts = 1, ports = 1, workers = 2, guestProcs = 5, snapshot = false }) {
  // Region 1 holds the rings (64 KiB per queue, VhostUserFrontend's layout): 1 MiB fits 16 queues.
  // Region 0 the buffers: 64 receive buffers of 128 B per port plus 1 MiB.
  const guestRam = [(1 << 20) + ports * 64 * 128, Math.max(1 << 20, (2 + 2 * maxPorts) * (64 << 10))];
  const child = fork(join(here, 'idle-daemon.mjs'), [JSON.stringify({ vms, ports, maxPorts, workers, guestProcs, guestRam, snapshot })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const m = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('console-bench: idle daemon timed out')), 600_000);
    child.on('message', (x) => { if (x.t === 'result') { clearTimeout(t); resolve(x); } });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`idle-daemon exited ${code}`)); });
  });
  await new Promise((r) => { if (child.exitCode !== null) r(); else { child.once('exit', r); setTimeout(r, 30_000); } });
  const { before: b, after: a } = m;
  const per = (x) => Math.round(x / vms);
  return {
    suite: 'console', name: 'idle VM memory (daemon RSS growth per connected idle VM)',
    params: {
      vms, maxPorts, ...(ports > 1 ? { ports } : {}), workers, guestRamKiB: (guestRam[0] + guestRam[1]) >> 10, connected: m.connected,
      anonPerVm: per(a.anon - b.anon), shmemPerVm: per(a.shmem - b.shmem), heapExternalPerVm: per(a.heap + a.external - b.heap - b.external),
      heapTotalPerVm: per(a.heapTotal - b.heapTotal), mallocPerVm: per(a.mallocAnon - b.mallocAnon),
      fdsPerVm: Math.round(((a.fds - b.fds) / vms) * 10) / 10, ...(m.snapshot ? { snapshot: m.snapshot } : {}),
    },
    unit: 'bytes/vm', value: per(a.rss - b.rss), samples: 1,
  };
}

function mem() {
  gc(); gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

/** Memory of the daemon side for idle guests (guests in a child process, connected and idle). */
async function memory({ guests, ports }) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-mbench-'));
  const before = mem();
  const d = await daemon(dir, guests, ports, null);
  const g = startGuests({ sockets: d.vms.map((v) => v.path), portsPerGuest: ports, chunk: 4096, inflight: 1, bytesPerPort: 0 });
  try {
    await g.next('ready');
    await new Promise((r) => setTimeout(r, 200));
    const after = mem();
    return { heapPer: (after.heap - before.heap), rssPer: (after.rss - before.rss) };
  } finally {
    g.child.send('exit');
    await new Promise((r) => { g.child.once('exit', r); setTimeout(r, 5000); });
    await closeDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runConsoleBench({ quick = false, onProgress } = {}) {
  const MB = 1 << 20;
  const plan = [];
  // Seed-like guests (driver model, 4 KiB chains, 32 in flight): end-to-end console throughput.
  const budget = quick ? 8 * MB : 64 * MB; // total bytes per run
  for (const workers of [0, 1, 2]) {
    for (const [guests, ports] of [[1, 1], [1, 8], [1, 32], [16, 1], [128, 1]]) {
      plan.push(() => throughput({ guests, ports, workers, bytesPerPort: Math.max(64 * 1024, Math.floor(budget / (guests * ports) / 4096) * 4096) }));
    }
  }
  // Flood guests (pre-filled 512-byte chains re-posted without copying): the guest costs little
  // per chain, so the device side — what the workers run — is what is measured.
  const floodBudget = quick ? 8 * MB : 48 * MB;
  for (const workers of [0, 1, 2]) {
    for (const [guests, ports] of [[1, 32], [16, 1], [128, 1]]) {
      plan.push(() => throughput({ guests, ports, workers, flood: true, chunk: 512, bytesPerPort: Math.max(64 * 1024, Math.floor(floodBudget / (guests * ports) / 512) * 512) }));
    }
  }
  // hvc0-like: 2 KiB chains, the guest waits for each (per-chain cost and latency), with the
  // CLI daemon's sinks and log (Scrollback + the port log) on the port.
  for (const workers of [0, 2]) {
    plan.push(() => throughput({ guests: 1, ports: 1, workers, flood: true, chunk: 2048, inflight: 1, realSinks: true, bytesPerPort: quick ? 4 * MB : 16 * MB }));
  }
  // 1 vs 2 workers with the guests split over two processes (see scale-bench.mjs).
  for (const workers of [1, 2]) {
    plan.push(() => throughput({ guests: 16, ports: 4, workers, flood: true, chunk: 512, guestProcs: 2, bytesPerPort: Math.max(512, Math.floor(floodBudget / 64 / 512) * 512) }));
  }
  // Kick → used latency (target p99 < 50 µs), inline and with 1 and 2 workers.
  for (const workers of [0, 1, 2]) plan.push(() => kickToUsed({ workers, kicks: quick ? 1000 : 5000 }));
  // The daemon's port: the log is written between the kick and the used entry.
  plan.push(() => kickToUsed({ workers: 2, kicks: quick ? 1000 : 5000, realSinks: true }));
  for (const workers of [0, 2]) plan.push(() => kickToUsed({ workers, kicks: quick ? 1000 : 5000, spin: false }));
  // Keystrokes with the echoing guest in a child process (its loop is not the daemon's).
  for (const workers of [0, 2]) plan.push(() => keystroke({ workers, n: quick ? 200 : 2000, warmup: quick ? 200 : 3000, guestProc: true }));
  // Target case: keystrokes while 256 more ports (8 guests × 32, own process) each write 64 B
  // every 100 ms, 2 workers (params.ports 256).
  plan.push(() => keystroke({ workers: 2, n: quick ? 200 : 2000, warmup: quick ? 200 : 3000, guestProc: true, background: { guests: 8, ports: 32, trickleMs: 100 } }));
  // Target case: 1,000 idle VMs in one daemon (quick: 200).
  plan.push(() => idleVms({ vms: quick ? 200 : 1000 }));
  // The CLI's default maxPorts (8: 18 queues, 36 eventfds per VM) fits ~450 VMs under the fd limit.
  if (!quick) plan.push(() => idleVms({ vms: 400, maxPorts: 8 }));
  const results = [];
  let done = 0;
  for (const step of plan) {
    results.push(await step());
    onProgress?.(++done, plan.length + 2, results.at(-1).name);
  }
  // Per idle VM is measured in a fresh daemon process above (idleVms); an in-process delta
  // between 1 and 16 guests came out negative when earlier cases' garbage was collected.
  // One discarded pair first: the first 32-port daemon compiles code paths (bytecode is heap) that
  // showed up as 10+ KiB per port, depending on what earlier cases happened to warm.
  await memory({ guests: 1, ports: 1 });
  await memory({ guests: 1, ports: 32 });
  const g1 = await memory({ guests: 1, ports: 1 });
  onProgress?.(++done, plan.length + 2, 'memory baseline');
  const p32 = await memory({ guests: 1, ports: 32 });
  onProgress?.(++done, plan.length + 2, 'memory per port');
  results.push({ suite: 'console', name: 'memory per port (heap+external)', params: { guests: 1, ports: 32 }, unit: 'bytes/port', value: Math.round((p32.heapPer - g1.heapPer) / 31), samples: 1 });
  // Two workers vs one (the issue's scaling question), per guest kind and configuration.
  for (const guest of ['driver', 'flood']) {
    for (const [guests, ports, procs] of [[1, 32, 1], [16, 1, 1], [128, 1, 1], [16, 4, 2]]) {
      const pick = (w) => results.find((r) => r.params.guest === guest && r.params.workers === w && r.params.guests === guests && r.params.ports === ports && r.params.guestProcs === procs && r.params.inflight !== 1);
      const one = pick(1); const two = pick(2);
      if (one && two) results.push({ suite: 'console', name: '2 workers / 1 worker throughput', params: { guests, ports, guest, guestProcs: procs }, unit: 'x', value: two.bytesPerSec / one.bytesPerSec, samples: 1 });
    }
  }
  // Per-port throughput is bytesPerSec / (guests × ports); it is a result, so it stays out of params
  // (cases that differ only in params.workers are how the dashboard pairs 1 and 2 workers).
  return results.map(({ perPortBytesPerSec: _perPort, ...r }) => r);
}

function table(rows) {
  const fmt = (r) => {
    const p = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ');
    const v = r.bytesPerSec !== undefined ? `${(r.bytesPerSec / 1e6).toFixed(1)} MB/s  ${r.cpuSecPerMiB.toFixed(4)} s/MiB${r.usedP99Ns !== undefined ? `  post→used p50 ${(r.usedP50Ns / 1e3).toFixed(0)} µs p99 ${(r.usedP99Ns / 1e3).toFixed(0)} µs` : ''}`
      : r.p50Ns !== undefined ? `p50 ${(r.p50Ns / 1e3).toFixed(0)} µs  p99 ${(r.p99Ns / 1e3).toFixed(0)} µs`
        : `${r.unit === 'x' ? r.value.toFixed(2) : Math.round(r.value)} ${r.unit}`;
    return `${r.name.padEnd(58)} ${p.padEnd(62)} ${v}`;
  };
  return rows.map(fmt).join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const rows = await runConsoleBench({ quick, onProgress: (d, t, l) => process.stderr.write(`[${d}/${t}] ${l}\n`) });
  console.log(table(rows));
  const outDir = join(here, '..', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `console-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), quick, node: process.version, cases: rows }, null, 2));
  console.log(`\nwritten ${file}`);
}
