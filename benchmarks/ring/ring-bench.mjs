#!/usr/bin/env node
// @vtcon/ring benchmark: cross-thread split-ring throughput (driver in the
// main thread, device in a worker_threads Worker, one SharedArrayBuffer),
// against a C baseline of the same protocol (two pthreads, C11 atomics,
// gcc -O2) built here and run in the same session; plus single-thread
// tinybench micro-benchmarks of the device hot path.
//
// Work per chain, the same on both sides (details: benchmarks/ring/README.md):
// driver fills the whole payload with the chain's sequence number, adds one
// descriptor (addBuffer), publishes avail.idx every `batch` chains, collects
// used entries; device pops with every guest-input check, copies the payload
// into a rotating 4 MiB sink, checks first word == last word, sums it, and
// publishes used.idx every `batch` chains. Queue size 256, both sides spin.
//
//   node benchmarks/ring/ring-bench.mjs [--quick]
//
// Exports runRingBench({ quick }) for benchmarks/run.mjs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { DeviceQueue, DriverQueue, NO_USED, RawChain } from '@vtcon/ring';
import { makeTestQueue } from '@vtcon/ring/testing';

const here = dirname(fileURLToPath(import.meta.url));
const nativeDir = join(here, '..', 'native');
const baselineBin = join(nativeDir, 'bin', 'split_ring_baseline');
const QUEUE_SIZE = 256;
const PAYLOADS = [128, 4096];
const BATCHES = [1, 16, 64];
export const WAIT_STRATEGY = 'spin (Atomics.load polling of avail.idx / used.idx; no Atomics.wait)';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Build the C baseline into benchmarks/native/bin (ignored by git). */
export function buildBaseline() {
  mkdirSync(join(nativeDir, 'bin'), { recursive: true });
  execFileSync('gcc', ['-O2', '-pthread', '-o', baselineBin, join(nativeDir, 'split_ring_baseline.c')], { stdio: 'inherit' });
  return baselineBin;
}

function runBaselineOnce(payload, batch, chains) {
  const out = execFileSync(baselineBin, [String(payload), String(batch), String(chains), String(QUEUE_SIZE)], { encoding: 'utf8' });
  const r = JSON.parse(out);
  if (!r.ok) throw new Error(`C baseline failed checksum for payload ${payload} batch ${batch}`);
  return r.ns;
}

/** One whole cross-thread run: returns elapsed ns. */
export async function runJsOnce(payload, batch, chains) {
  const bufBytes = QUEUE_SIZE * payload;
  const q = makeTestQueue({ size: QUEUE_SIZE, eventIdx: false, bytes: 64 * 1024 + bufBytes });
  const bufBase = q.alloc.alloc(bufBytes, 64);
  const region = q.memory.regions[0];
  const control = new SharedArrayBuffer(4);
  const ctl = new Int32Array(control);
  const worker = new Worker(join(here, 'ring-device-worker.mjs'), {
    workerData: { buffer: region.buffer, guestPhysAddr: region.guestPhysAddr, config: q.config, payload, batch, chains, control },
  });
  const done = new Promise((resolve, reject) => {
    worker.on('message', (m) => m.type === 'done' && resolve(m));
    worker.on('error', reject);
    worker.on('exit', (code) => code !== 0 && reject(new Error(`device worker exited with ${code}`)));
  });
  await new Promise((resolve) => worker.once('message', resolve)); // ready

  const drv = new DriverQueue(q.memory, q.config);
  const mask = QUEUE_SIZE - 1;
  const payloadWords = new Uint32Array(region.buffer, region.offset + (bufBase - region.guestPhysAddr), bufBytes / 4);
  const wordsPerBuf = payload / 4;
  let sent = 0;
  let completed = 0;
  const t0 = process.hrtime.bigint();
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  while (completed < chains) {
    let k = 0;
    while (k < batch && sent < chains && drv.numFree > 0) {
      const slot = sent & mask;
      // A real producer touches the data: the whole payload, every chain.
      payloadWords.fill(sent, slot * wordsPerBuf, (slot + 1) * wordsPerBuf);
      drv.addBuffer(bufBase + slot * payload, payload, false, undefined);
      sent++;
      k++;
    }
    if (k !== 0) drv.kickPrepare();
    while (drv.getUsedToken() !== NO_USED) completed++;
  }
  const t1 = process.hrtime.bigint();
  const res = await done;
  await worker.terminate();
  const expect = ((chains - 1) * chains) / 2;
  if (res.sum !== expect) throw new Error(`JS checksum mismatch: ${res.sum} != ${expect}`);
  return Number(t1 - t0);
}

/** Single-thread hot path: add 64 chains, pop+copy+addUsed each, publish, collect. */
async function microBench(quick) {
  const results = [];
  for (const payload of PAYLOADS) {
    const q = makeTestQueue({ size: QUEUE_SIZE, eventIdx: false, bytes: 64 * 1024 + QUEUE_SIZE * payload, shared: true });
    const base = q.alloc.alloc(QUEUE_SIZE * payload, 64);
    const drv = new DriverQueue(q.memory, q.config);
    const dev = new DeviceQueue(q.memory, q.config);
    const chain = new RawChain();
    // Same sink as the cross-thread device (rotating 4 MiB destination).
    const sink = new Uint8Array(4 << 20);
    const sinkWords = new Int32Array(sink.buffer);
    let pos = 0;
    const B = 64;
    const bench = new Bench({ time: quick ? 200 : 1000, warmup: true });
    bench.add(`single-thread pop+copy+push ${payload}B x${B}`, () => {
      for (let i = 0; i < B; i++) drv.addBuffer(base + i * payload, payload, false, undefined);
      drv.kickPrepare();
      while (dev.popAvailableInto(chain)) {
        if (pos + chain.readableBytes > sink.length) pos = 0;
        pos += chain.copyReadable(sink, pos, sinkWords);
        dev.addUsed(chain.head, 0);
      }
      dev.publishUsed();
      while (drv.getUsedToken() !== NO_USED);
    });
    await bench.run();
    for (const t of bench.tasks) {
      const r = t.result;
      const lat = r.latency ?? r;
      const meanMs = lat.mean;
      const opsPerSec = (B * 1000) / meanMs;
      results.push({
        suite: 'ring',
        name: `micro/${payload}B/batch${B}`,
        params: { payload, batch: B, threads: 1, queueSize: QUEUE_SIZE },
        opsPerSec,
        bytesPerSec: opsPerSec * payload,
        meanNs: (meanMs * 1e6) / B,
        p50Ns: lat.p50 !== undefined ? (lat.p50 * 1e6) / B : undefined,
        p99Ns: lat.p99 !== undefined ? (lat.p99 * 1e6) / B : undefined,
        samples: lat.samples?.length ?? lat.samplesCount ?? 0,
      });
    }
  }
  return results;
}

/**
 * @param {{quick?: boolean}} opts quick: fewer chains and repeats (CI smoke run)
 * @returns {Promise<Array<object>>} one record per case (see README)
 */
export async function runRingBench({ quick = false } = {}) {
  buildBaseline();
  const repeats = quick ? 3 : 5;
  const results = [];
  for (const payload of PAYLOADS) {
    for (const batch of BATCHES) {
      const chains = quick ? (payload === 128 ? 200_000 : 100_000) : payload === 128 ? 2_000_000 : 1_000_000;
      const cChains = chains * 4;
      const js = [];
      const c = [];
      // Warm-up run (JIT, worker start-up paths), not counted.
      await runJsOnce(payload, batch, Math.min(chains, 200_000));
      for (let i = 0; i < repeats; i++) {
        js.push(await runJsOnce(payload, batch, chains));
        c.push(runBaselineOnce(payload, batch, cChains));
      }
      const jsOps = chains / (median(js) / 1e9);
      const cOps = cChains / (median(c) / 1e9);
      results.push({
        suite: 'ring',
        name: `cross-thread/${payload}B/batch${batch}`,
        params: { payload, batch, chains, queueSize: QUEUE_SIZE, threads: 2, wait: 'spin' },
        opsPerSec: jsOps,
        bytesPerSec: jsOps * payload,
        meanNs: 1e9 / jsOps,
        samples: repeats,
        baseline: { name: `c/split_ring_baseline/${payload}B/batch${batch}`, opsPerSec: cOps },
        ratio: jsOps / cOps,
      });
    }
  }
  results.push(...(await microBench(quick)));
  return results;
}

function fmt(n) {
  if (n === undefined) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} k`;
  return n.toFixed(2);
}

async function main() {
  const quick = process.argv.includes('--quick');
  const results = await runRingBench({ quick });
  console.log(`waiting strategy: ${WAIT_STRATEGY}; queue size ${QUEUE_SIZE}; medians of ${quick ? 3 : 5} runs`);
  console.table(
    results.map((r) => ({
      case: r.name,
      'JS chains/s': fmt(r.opsPerSec),
      'JS bytes/s': fmt(r.bytesPerSec),
      'C chains/s': fmt(r.baseline?.opsPerSec),
      'JS/C': r.ratio === undefined ? '-' : r.ratio.toFixed(3),
    })),
  );
  const dir = join(here, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `ring-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ suite: 'ring', node: process.version, waitStrategy: WAIT_STRATEGY, quick, results }, null, 2) + '\n');
  console.log(`wrote ${file}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
