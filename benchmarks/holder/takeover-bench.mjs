// The engine killed under a running guest (issue 13), measured from the guest: the real `vtcon
// serve` (a holder and its engine, packages/cli/dist) in a child process, a guest in this process
// (the seed driver model over the held vhost-user socket) writing lines on its console port, each
// write waiting for its buffer to be used, as Linux's hvc does. The engine is SIGKILLed `restarts`
// times; the guest-visible pause of each is the gap between the last write acknowledged before the
// kill and the first one after it (what a person at the console sees as a stall). Also: the
// holder's memory with 1 and with 11 connected VMs (the per-VM cost) and its CPU over the run.
import { fork, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectGuest } from '@vtcon/console/testing';
import { cpuSeconds as cpu, statusBytes as kb } from '../lib/proc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '../../packages/cli/dist/bin.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, f, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`takeover bench: timed out waiting for ${what}`);
    await sleep(20);
  }
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

/** @param {{quick?: boolean, onProgress?: (done: number, total: number, label: string) => void}} o */
export async function runTakeoverBench({ quick = false, onProgress } = {}) {
  const restarts = quick ? 5 : 20;
  const extraVms = Number(process.env.VTCON_BENCH_EXTRA_VMS ?? 10);
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-takeover-bench-'));
  const control = join(dir, 'control.sock');
  const vm = (name) => `  - name: ${name}\n    socket: ${join(dir, `${name}.sock`)}\n    maxPorts: 2\n    ports:\n      - { name: console, console: true }\n    sinks: { logDir: ${join(dir, 'logs')} }\n`;
  writeFileSync(join(dir, 'fleet.yaml'), `daemon:\n  control: ${control}\n  runtimeDir: ${dir}\n  logLevel: ${process.env.VTCON_BENCH_LOG ? 'info' : 'warn'}\n  maxEngineCrashes: 1000\nvms:\n${['vm0', ...Array.from({ length: extraVms }, (_, i) => `idle${i}`)].map(vm).join('')}`);
  const serve = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'fleet.yaml')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let err = '';
  serve.stderr.setEncoding('utf8').on('data', (d) => { err = (err + d).slice(-20_000); if (process.env.VTCON_BENCH_LOG) appendFileSync(process.env.VTCON_BENCH_LOG, d); });
  const status = () => { try { return JSON.parse(readFileSync(`${control}.holder.json`, 'utf8')); } catch { return null; } };
  const children = [];
  let driver = null;
  try {
    await until('the engine to serve', () => err.includes('vtcon: serving') || serve.exitCode !== null);
    if (serve.exitCode !== null) throw new Error(`vtcon serve exited: ${err}`);
    const holderPid = serve.pid;
    ({ driver } = await connectGuest(join(dir, 'vm0.sock'), { txChunk: 4096 }));
    await until('the console port', () => driver.portByName('console'));
    const port = driver.portByName('console');
    await until('the standby engine', () => status()?.standbyReady);
    await sleep(300);
    const rss1 = kb(holderPid, 'VmRSS');

    // The other VMs connect (idle guests in a child): the holder's memory per held connection.
    const child = fork(join(here, '../console/guest-load.mjs'), [JSON.stringify({ sockets: Array.from({ length: extraVms }, (_, i) => join(dir, `idle${i}.sock`)), portsPerGuest: 1, chunk: 128, inflight: 1, bytesPerPort: 0, memory: [1 << 20, 1 << 20] })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    await new Promise((resolve, reject) => { child.on('message', (m) => { if (m.t === 'ready') resolve(); }); child.once('exit', (c) => reject(new Error(`guest-load exited ${c}`))); });
    await sleep(500);
    const rss11 = kb(holderPid, 'VmRSS');

    // The stream and the kills.
    const line = Buffer.from(`${'x'.repeat(63)}\n`);
    const acks = [];
    let stop = false;
    const writer = (async () => { while (!stop) { await port.write(line); acks.push(performance.now()); } })();
    const cpu0 = cpu(holderPid);
    const pausesMs = [];
    for (let k = 0; k < restarts; k++) {
      const mark = acks.length;
      await until(`the stream to move before kill ${k + 1}`, () => acks.length > mark + 20);
      // The designed path: a crash with a warm standby (a crash before it is up costs a process start).
      await until(`the standby engine before kill ${k + 1}`, () => status()?.standbyReady);
      await sleep(100 + Math.random() * 200);
      const before = acks.length;
      const pid = status().engine.pid;
      process.kill(pid, 'SIGKILL');
      await until(`a new engine after kill ${k + 1}`, () => status()?.engine?.pid !== pid);
      const tNew = performance.now();
      await until(`an acknowledgment from the new engine after kill ${k + 1}`, () => acks.length > 0 && acks[acks.length - 1] > tNew);
      // The stall: the longest gap between acknowledgments around the kill.
      let gap = 0;
      for (let i = Math.max(1, before - 1); i < acks.length; i++) gap = Math.max(gap, acks[i] - acks[i - 1]);
      pausesMs.push(gap);
      onProgress?.(k + 1, restarts, `engine kill ${k + 1}: guest paused ${pausesMs[k].toFixed(0)} ms`);
    }
    stop = true;
    await writer;
    const holderCpu = cpu(holderPid) - cpu0;
    const s = status();
    return [
      {
        name: 'engine takeover pause (guest-visible)', params: { restarts, vms: 1 + extraVms, standby: true },
        p50Ns: pct(pausesMs, 50) * 1e6, p99Ns: pct(pausesMs, 99) * 1e6, meanNs: (pausesMs.reduce((a, b) => a + b, 0) / pausesMs.length) * 1e6, samples: pausesMs.length,
      },
      { name: 'holder memory per held VM', params: { vms: 1 + extraVms }, unit: 'bytes/vm', value: Math.max(0, (rss11 - rss1) / extraVms) },
      { name: 'holder RSS', params: { vms: 1 + extraVms }, unit: 'bytes', value: rss11 },
      { name: 'holder CPU per engine takeover', params: { restarts }, unit: 's', value: holderCpu / restarts },
      { name: 'engine restarts seen by the holder', params: { restarts }, unit: 'count', value: s.restarts },
    ];
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await driver?.detach().catch(() => undefined);
    serve.kill('SIGTERM');
    await Promise.race([new Promise((r) => serve.once('exit', r)), sleep(10_000)]);
    if (serve.exitCode === null) serve.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cases = await runTakeoverBench({ quick: process.argv.includes('--quick'), onProgress: (d, t, l) => process.stderr.write(`${d}/${t} ${l}\n`) });
  console.log(JSON.stringify(cases, null, 2));
}
