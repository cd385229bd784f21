#!/usr/bin/env node
// The worker pool alone: 1 vs 2 servicing workers with the simulated guests' CPU kept out of the
// measured window, so the ratio is the pool's own scaling on a 2-core machine.
//
// Before the clock starts, every port's transmitq is filled with chains (the seed driver model's
// queues, over the in-process loopback with real eventfds; all chains of a VM point at one
// buffer) and published without a kick. The clock starts, the main thread writes each transmitq's
// kick eventfd, and the device side under test does the rest: each worker copies its ports' chains
// into its byte ring, appends them to the port's log, marks them used and signals; the main thread
// drains the rings to the sinks (a counting sink) and returns credit. The clock stops when the
// sinks have every byte. The guests then reclaim the used entries and refill, off the clock, and
// the next round starts. 1- and 2-worker runs are interleaved (the machine is shared).
//
//   node benchmarks/console/pool-bench.mjs [--vms 8] [--ports 32] [--chunk 1024] [--rounds 8] [--runs 3] [--no-log]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { ConsoleDevice, ConsoleWorkerPool } = await import(process.env.VTCON_CONSOLE ?? '@vtcon/console');
const { Loopback, VtconDriver } = await import('@vtcon/console/testing');
const native = await import('@vtcon/transport/native');

/** The main thread's CPU time in µs (utime + stime of its task; clock ticks of 10 ms), Linux only. */
function mainThreadCpuUs() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch { return 0; }
}

/** Chains per transmitq: the whole queue, filled each round. */
const QUEUE_SIZE = 256;

async function until(cond, what, ms = 60_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`pool-bench: timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * One VM: a device on `pool`, its guest attached over the loopback, every port open. Returns the
 * port transmitqs as the guest sees them (the driver model's queue bindings; bench-only reach-in).
 */
async function vm(pool, dir, v, ports, chunk, log, counter) {
  const dev = new ConsoleDevice({
    ports: Array.from({ length: ports }, (_, i) => ({ name: `v${v}.p${i}`, console: i === 0, ...(log ? { log: { path: join(dir, `v${v}`, `p${i}.log`) } } : {}) })),
    maxPorts: ports,
    engine: (h) => pool.createEngine(h),
    sinksFor: () => [{ write: (c) => { counter.bytes += c.length; if (counter.bytes >= counter.target) counter.done?.(); }, close: async () => {} }],
  });
  // Rings (2 + 2 x ports queues of QUEUE_SIZE), 128-byte receive buffers, one transmit buffer.
  const loop = new Loopback({ eventfds: native, queueSize: QUEUE_SIZE, memoryBytes: (2 + 2 * ports) * 8192 + ports * QUEUE_SIZE * 128 + (2 << 20) });
  loop.connect(dev);
  const driver = new VtconDriver(loop, { txChunk: chunk });
  await driver.attach();
  await until(() => driver.ports.length === ports && driver.ports.every((p) => p.name !== null), 'ports');
  for (const p of driver.ports) if (!p.console) await p.open();
  await until(() => driver.ports.every((p) => dev.port(p.id).guestOpen), 'ports open');
  const buf = loop.allocBuffer(chunk);
  loop.memory.view(buf, chunk).fill(0x61 + (v % 26));
  const txqs = driver.ports.map((p) => driver.scports[p.id].outvq);
  return { dev, driver, txqs, buf };
}

/** Fill every transmitq with QUEUE_SIZE chains and publish them (no kick: the worker stays asleep). */
function fill(vms, chunk) {
  for (const m of vms) {
    for (const q of m.txqs) {
      for (let i = 0; i < QUEUE_SIZE; i++) {
        if (q.queue.addBuffer(m.buf, chunk, false, i) === null) throw new Error('pool-bench: transmitq not empty before a round');
      }
      q.queue.kickPrepare();
    }
  }
}

/** Take every used entry back (the guest's side of the round, off the clock). */
function reclaim(vms) {
  for (const m of vms) for (const q of m.txqs) while (q.queue.getUsed() !== null) { /* buffer free again */ }
}

/**
 * One pool of `workers` threads serving `vms` x `ports` ports for `rounds` rounds; the time and
 * daemon CPU of each round's window.
 */
export async function poolRun({ workers, vms: nVms, ports, chunk, rounds, log = true }) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-pbench-'));
  const pool = new ConsoleWorkerPool({ threads: workers, ...poolOpts() });
  const counter = { bytes: 0, target: Infinity, done: null };
  const vms = [];
  try {
    for (let v = 0; v < nVms; v++) vms.push(await vm(pool, dir, v, ports, chunk, log, counter));
    const perRound = nVms * ports * QUEUE_SIZE * chunk;
    const out = [];
    for (let r = 0; r < rounds; r++) {
      // Let the last round's credit reach the workers first: a worker given credit services its
      // queue at once, which must not find this round's chains before the clock starts.
      await new Promise((res) => setTimeout(res, 20));
      const reached = new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`pool-bench: timeout waiting for bytes at the sinks (${counter.bytes} of ${counter.target})`)), 120_000);
        counter.target = counter.bytes + perRound;
        counter.done = () => { clearTimeout(t); counter.done = null; resolve(); };
      });
      fill(vms, chunk);
      const cpu0 = process.cpuUsage();
      const main0 = mainThreadCpuUs();
      const t0 = process.hrtime.bigint();
      for (const m of vms) for (const q of m.txqs) q.kick();
      await reached;
      const ns = Number(process.hrtime.bigint() - t0);
      const cpu = process.cpuUsage(cpu0);
      const mainUs = mainThreadCpuUs() - main0;
      // The last used entries are published just after their bytes: collect them off the clock.
      const deadline = Date.now() + 10_000;
      for (reclaim(vms); !vms.every((m) => m.txqs.every((q) => q.queue.numFree === QUEUE_SIZE)); reclaim(vms)) {
        if (Date.now() > deadline) throw new Error('pool-bench: not every chain was used');
        await new Promise((res) => setTimeout(res, 2));
      }
      // Round 0 warms the code paths (V8 tiering): not a sample.
      if (r > 0) out.push({ ns, cpuUs: cpu.user + cpu.system, mainUs, bytes: perRound });
    }
    return out;
  } finally {
    for (const m of vms) { await m.driver.detach().catch(() => {}); await m.dev.close().catch(() => {}); }
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Pool options from the environment for A/B runs: VTCON_COALESCE_MS, VTCON_WINDOW, VTCON_RING_BYTES. */
function poolOpts() {
  const env = (k) => (process.env[k] !== undefined ? Number(process.env[k]) : undefined);
  const o = { coalesceMs: env('VTCON_COALESCE_MS'), window: env('VTCON_WINDOW'), ringBytes: env('VTCON_RING_BYTES') };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

/**
 * Suite entry (run.mjs): `runs` interleaved 1- and 2-worker runs of `rounds` rounds each; per
 * worker count the median round throughput, with min/max as the spread.
 */
export async function runPoolBench({ quick = false, onProgress, vms = 8, ports = 32, chunk = 1024, rounds, runs, log = true } = {}) {
  rounds ??= quick ? 4 : 10;
  runs ??= quick ? 1 : 3;
  const per = { 1: [], 2: [] };
  const load = [];
  let done = 0;
  for (let i = 0; i < runs; i++) {
    for (const workers of [1, 2]) {
      load.push(loadavg()[0]);
      per[workers].push(...await poolRun({ workers, vms, ports, chunk, rounds, log }));
      onProgress?.(++done, runs * 2, `${workers} worker(s), run ${i + 1}`);
    }
  }
  return [1, 2].map((workers) => {
    const rs = per[workers];
    const bps = rs.map((r) => r.bytes / (r.ns / 1e9));
    const m = med(bps);
    return {
      suite: 'pool', name: 'worker pool, rings filled before the clock (guest CPU out of the window)',
      params: { workers, vms, ports, chunk, chains: QUEUE_SIZE, log },
      bytesPerSec: m,
      opsPerSec: m / chunk,
      meanNs: rs.reduce((a, r) => a + r.ns, 0) / rs.length,
      samples: rs.length,
      // Spread and context, not identity: kept out of params.
      minBytesPerSec: Math.min(...bps), maxBytesPerSec: Math.max(...bps),
      cpuSecPerMiB: med(rs.map((r) => r.cpuUs / 1e6 / (r.bytes / (1 << 20)))),
      // The main thread's share of the daemon CPU (ring drain, sinks, credit): what 2 workers cannot split.
      mainCpuShare: rs.reduce((a, r) => a + r.mainUs, 0) / Math.max(1, rs.reduce((a, r) => a + r.cpuUs, 0)),
      loadavg1: med(load), cpus: availableParallelism(),
    };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? Number(process.argv[i + 1]) : def; };
  const rows = await runPoolBench({
    quick: process.argv.includes('--quick'), vms: arg('vms', 8), ports: arg('ports', 32), chunk: arg('chunk', 1024),
    rounds: arg('rounds', undefined), runs: arg('runs', undefined), log: !process.argv.includes('--no-log'),
    onProgress: (d, t, l) => process.stderr.write(`[${d}/${t}] ${l}\n`),
  });
  for (const r of rows) {
    console.log(`${r.params.workers} worker(s): median ${(r.bytesPerSec / 1e6).toFixed(1)} MB/s (min ${(r.minBytesPerSec / 1e6).toFixed(1)}, max ${(r.maxBytesPerSec / 1e6).toFixed(1)}; ${r.samples} rounds)  daemon CPU ${r.cpuSecPerMiB.toFixed(4)} s/MiB (main thread ${(100 * r.mainCpuShare).toFixed(0)} %)  load ${r.loadavg1.toFixed(2)}`);
  }
  console.log(`2 workers / 1 worker: ${(rows[1].bytesPerSec / rows[0].bytesPerSec).toFixed(2)}x (${rows[0].params.vms} VMs x ${rows[0].params.ports} ports, ${QUEUE_SIZE} chains of ${rows[0].params.chunk} B per port per round, log ${rows[0].params.log})`);
}
