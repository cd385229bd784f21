#!/usr/bin/env node
// Two workers vs one: the same flood load with 1 and 2 servicing workers, interleaved in one
// session (the machine is shared), medians and the ratio. Guests run in `--procs` child
// processes so the guest side is not a single thread capping the daemon. On a 2-core machine the
// guests, the daemon's main thread and its workers share both cores: read the ratio with that.
//
//   node benchmarks/console/scale-bench.mjs [--guests 16] [--ports 4] [--procs 2] [--chunk 512] [--inflight 32] [--mib 32] [--runs 3]
import { availableParallelism } from 'node:os';
import { throughput } from './console-bench.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const guests = arg('guests', 16);
const ports = arg('ports', 4);
const procs = arg('procs', 2);
const chunk = arg('chunk', 512);
const inflight = arg('inflight', 32);
const mib = arg('mib', 32);
const runs = arg('runs', 3);
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const bytesPerPort = Math.max(chunk, Math.floor((mib << 20) / (guests * ports) / chunk) * chunk);
const res = { 1: [], 2: [] };
for (let i = 0; i < runs; i++) {
  for (const workers of [1, 2]) {
    const r = await throughput({ guests, ports, workers, flood: true, chunk, inflight, bytesPerPort, guestProcs: procs });
    res[workers].push(r);
    console.log(`run ${i + 1} workers=${workers}: ${(r.bytesPerSec / 1e6).toFixed(1)} MB/s  daemon CPU ${r.cpuSecPerMiB.toFixed(4)} s/MiB`);
  }
}
const m1 = med(res[1].map((r) => r.bytesPerSec));
const m2 = med(res[2].map((r) => r.bytesPerSec));
console.log(`median of ${runs} (${guests} guests × ${ports} ports, ${procs} guest processes, chunk ${chunk}, inflight ${inflight}, ${availableParallelism()} CPUs): 1 worker ${(m1 / 1e6).toFixed(1)} MB/s, 2 workers ${(m2 / 1e6).toFixed(1)} MB/s, ratio ${(m2 / m1).toFixed(2)}×`);
