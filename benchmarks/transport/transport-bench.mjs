#!/usr/bin/env node
// @vtcon/transport benchmark: vhost-user over a real Unix socket, front-end in this process,
// back-end (VhostUserBackend + EchoDevice) in a child process, so every number crosses a
// process boundary as it does with QEMU:
//   - control path: GET_FEATURES round trips per second (request → reply);
//   - kick→call latency: one 64-byte chain on transmitq, kick eventfd, the back-end echoes it
//     into receiveq and writes the call eventfd; p50/p99 of the round trip;
//   - bulk: 4 KiB chains echoed transmitq → receiveq, bytes/s of payload delivered (and checked).
// The back-end runs its queues on its main thread (no worker threads yet).
//
//   node benchmarks/transport/transport-bench.mjs [--quick]
//
// Exports runTransportBench({ quick }) for benchmarks/run.mjs.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VhostUserBackend, VhostUserFrontend } from '@vtcon/transport';
import { EchoDevice, EchoTransfer } from '@vtcon/transport/testing';
import * as native from '@vtcon/transport/native';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);

/** Child: serve the echo device on argv[3] until the parent disconnects. */
async function childBackend(socketPath) {
  const backend = new VhostUserBackend({ socketPath, createDevice: () => new EchoDevice() });
  backend.listen();
  process.send?.({ ready: true });
  process.on('message', async (m) => { if (m === 'exit') { await backend.close(); process.exit(0); } });
}

function startChild(socketPath) {
  const child = fork(self, ['--child-backend', socketPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`back-end child exited ${code}`)));
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function connect(socketPath) {
  const fe = VhostUserFrontend.connect(socketPath);
  await fe.negotiate({ memory: [4 << 20, 16 << 20] });
  for (const i of [0, 1]) await fe.setupQueue(i, 256);
  for (const i of [0, 1]) await fe.enableQueue(i, true);
  return fe;
}

async function controlPath(fe, n) {
  for (let i = 0; i < 200; i++) await fe.getFeatures(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fe.getFeatures();
  const ns = Number(process.hrtime.bigint() - t0);
  return { suite: 'transport', name: 'control GET_FEATURES round trip', params: { processes: 2 }, opsPerSec: n / (ns / 1e9), meanNs: ns / n, samples: n };
}

async function kickCallLatency(fe, n) {
  const rx = fe.queues.get(0); const tx = fe.queues.get(1);
  const rxBuf = fe.alloc(4096); const txBuf = fe.alloc(64);
  fe.memory.view(txBuf, 64).fill(7);
  const lat = [];
  let resolveCall = null;
  const w = native.watchFd(rx.callFd, 'readable', () => { native.eventfdRead(rx.callFd); resolveCall?.(); });
  const wt = native.watchFd(tx.callFd, 'readable', () => { native.eventfdRead(tx.callFd); });
  for (let i = 0; i < n + 100; i++) {
    rx.driver.addChain([], [{ addr: rxBuf, len: 4096 }], 'rx');
    if (rx.driver.kickPrepare()) fe.kick(0);
    const called = new Promise((r) => { resolveCall = r; });
    const t0 = process.hrtime.bigint();
    tx.driver.addChain([{ addr: txBuf, len: 64 }], [], 'tx');
    if (tx.driver.kickPrepare()) fe.kick(1);
    for (;;) {
      await called;
      if (rx.driver.getUsed() !== null) break;
      await new Promise((r) => { resolveCall = r; });
    }
    const dt = Number(process.hrtime.bigint() - t0);
    while (tx.driver.getUsed() === null) await new Promise((r) => setImmediate(r));
    if (i >= 100) lat.push(dt);
  }
  w.stop(); wt.stop();
  lat.sort((a, b) => a - b);
  return { suite: 'transport', name: 'kick→call latency (64 B echo chain, eventfds, 2 processes)', params: { bytes: 64, processes: 2 }, p50Ns: pct(lat, 0.5), p99Ns: pct(lat, 0.99), samples: lat.length };
}

async function bulk(fe, totalBytes) {
  const t = new EchoTransfer({ totalBytes, chunk: 4096, buffers: 64 });
  const t0 = process.hrtime.bigint();
  t.attach(fe);
  const r = await t.done;
  const ns = Number(process.hrtime.bigint() - t0);
  if (r.sentSha256 !== r.receivedSha256) throw new Error('bulk echo checksum mismatch');
  return { suite: 'transport', name: 'bulk 4 KiB chains echoed (frontend→backend→frontend)', params: { bytes: 4096, totalBytes, processes: 2, workers: 0 }, bytesPerSec: totalBytes / (ns / 1e9), opsPerSec: (totalBytes / 4096) / (ns / 1e9), samples: totalBytes / 4096 };
}

export async function runTransportBench({ quick = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-tbench-'));
  const sock = join(dir, 'vm.sock');
  const child = await startChild(sock);
  const results = [];
  try {
    let fe = await connect(sock);
    results.push(await controlPath(fe, quick ? 2000 : 20000));
    results.push(await kickCallLatency(fe, quick ? 500 : 5000));
    fe.close();
    await new Promise((r) => setTimeout(r, 50));
    fe = await connect(sock);
    results.push(await bulk(fe, quick ? 16 << 20 : 100 << 20));
    fe.close();
  } finally {
    child.send('exit');
    await new Promise((r) => { child.once('exit', r); setTimeout(r, 2000); });
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

async function cli() {
  const quick = process.argv.includes('--quick');
  const results = await runTransportBench({ quick });
  const fmt = (n) => (n === undefined ? '' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
  console.log('case'.padEnd(62), 'ops/s'.padStart(10), 'MB/s'.padStart(9), 'p50 µs'.padStart(9), 'p99 µs'.padStart(9), 'samples'.padStart(8));
  for (const r of results) {
    console.log(r.name.padEnd(62), fmt(r.opsPerSec).padStart(10), (r.bytesPerSec ? (r.bytesPerSec / 1e6).toFixed(1) : '').padStart(9),
      (r.p50Ns ? (r.p50Ns / 1e3).toFixed(1) : '').padStart(9), (r.p99Ns ? (r.p99Ns / 1e3).toFixed(1) : '').padStart(9), String(r.samples).padStart(8));
  }
  const outDir = join(here, '..', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `transport-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ quick, results }, null, 2));
  console.log(`wrote ${file}`);
}

if (process.argv[2] === '--child-backend') await childBackend(process.argv[3]);
else if (process.argv[1] === self) await cli();
