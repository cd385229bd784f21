#!/usr/bin/env node
// Per-chain cost of the guest→host path when the guest waits for each chain (Linux hvc0 does:
// 2 KiB chains, one in flight). A flood guest in a child process keeps ONE pre-filled chain
// posted and re-posts it as soon as it is used, so the rate is the kick → used → call round trip
// and the daemon CPU per MiB is the daemon's per-chain cost.
//
// --real-sinks adds what the CLI daemon gives every port: a Scrollback, and its log (appended before used).
//   node benchmarks/console/chain-bench.mjs [--workers N] [--chunk BYTES] [--mib N] [--runs N] [--inflight N] [--ports N] [--real-sinks]
import { throughput } from './console-bench.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const workers = arg('workers', 2);
const chunk = arg('chunk', 2048);
const mib = arg('mib', 16);
const runs = arg('runs', 3);
const inflight = arg('inflight', 1);
const ports = arg('ports', 1);
const realSinks = process.argv.includes('--real-sinks');
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rows = [];
for (let i = 0; i < runs; i++) {
  const r = await throughput({ guests: 1, ports, workers, flood: true, chunk, inflight, realSinks, bytesPerPort: Math.floor((mib << 20) / ports / chunk) * chunk });
  rows.push(r);
  console.log(`run ${i + 1}: ${(r.bytesPerSec / 1e6).toFixed(1)} MB/s  ${(r.opsPerSec / 1e3).toFixed(1)} kchains/s  daemon CPU ${r.cpuSecPerMiB.toFixed(4)} s/MiB  (${((r.cpuSecPerMiB / ((1 << 20) / chunk)) * 1e6).toFixed(1)} µs/chain)  post→used p50 ${((r.usedP50Ns ?? 0) / 1e3).toFixed(1)} µs p99 ${((r.usedP99Ns ?? 0) / 1e3).toFixed(1)} µs`);
}
const m = med(rows.map((r) => r.bytesPerSec));
const c = med(rows.map((r) => r.cpuSecPerMiB));
const u50 = med(rows.map((r) => r.usedP50Ns ?? 0));
const u99 = med(rows.map((r) => r.usedP99Ns ?? 0));
console.log(`median of ${runs} (workers=${workers} chunk=${chunk} inflight=${inflight} ports=${ports}${realSinks ? ' +scrollback+log' : ''}): ${(m / 1e6).toFixed(1)} MB/s, daemon CPU ${c.toFixed(4)} s/MiB (${((c / ((1 << 20) / chunk)) * 1e6).toFixed(1)} µs/chain), post→used p50 ${(u50 / 1e3).toFixed(1)} µs p99 ${(u99 / 1e3).toFixed(1)} µs`);
