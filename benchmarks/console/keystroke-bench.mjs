#!/usr/bin/env node
// Keystroke round trip (host send → guest echo → host sink), p50/p99, repeated runs.
// With --active P: P more ports (guests of 32 ports in a child process) each write 64 bytes
// every --trickle ms meanwhile.
//   node benchmarks/console/keystroke-bench.mjs [--workers N] [--n N] [--runs N] [--active 256] [--trickle 100] [--guest-proc]
import { keystroke } from './console-bench.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const workers = arg('workers', 2);
const n = arg('n', 2000);
const runs = arg('runs', 3);
const active = arg('active', 0);
const trickleMs = arg('trickle', 100);
const guestProc = process.argv.includes('--guest-proc');
const background = active > 0 ? { guests: Math.ceil(active / 32), ports: Math.min(32, active), trickleMs } : null;
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rows = [];
for (let i = 0; i < runs; i++) {
  const r = await keystroke({ workers, n, background, guestProc });
  rows.push(r);
  console.log(`run ${i + 1}: p50 ${(r.p50Ns / 1e3).toFixed(1)} µs  p99 ${(r.p99Ns / 1e3).toFixed(1)} µs${background ? `  (background ${r.params.activePorts} ports, ${r.params.bgBytes} bytes)` : ''}`);
}
console.log(`median of ${runs} (workers=${workers} n=${n} active=${active}${guestProc ? ' guest in a child process' : ''}): p50 ${(med(rows.map((r) => r.p50Ns)) / 1e3).toFixed(1)} µs, p99 ${(med(rows.map((r) => r.p99Ns)) / 1e3).toFixed(1)} µs`);
