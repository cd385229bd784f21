// The fleet suite's rig: a real nats-server (scripts/nats-server.sh's, in .cache/), the built
// `vtcon serve` (packages/cli/dist) with or without `fleet:`, and a seed-model guest in this
// process over the daemon's real vhost-user socket, so the daemon's CPU is its own.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { treeCpuSeconds } from '../lib/proc.mjs';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const cliDir = join(root, 'packages/cli');
export const NATS_SERVER = process.env.VTCON_NATS_SERVER ?? join(root, '.cache/nats-server/bin/nats-server');
/** The NATS client as the CLI resolves it (the benchmarks package does not depend on it). */
export const nats = {
  core: () => import(join(root, 'node_modules/@nats-io/transport-node/lib/mod.js')),
  js: () => import(join(root, 'node_modules/@nats-io/jetstream/lib/mod.js')),
};
/** A module of the built CLI (dist/), e.g. 'fleet/inventory.js'. */
export const cliModule = (path) => import(join(cliDir, 'dist', path));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(check, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/** nats-server with JetStream on a free loopback port; stop() and start() keep port and store. */
export async function startNats() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-bench-nats-'));
  let child = null;
  const s = {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      const c = spawn(NATS_SERVER, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      // A suite that throws past its cleanup must not leave a server behind.
      process.once('exit', () => c.kill('SIGKILL'));
      let err = '';
      c.stderr.setEncoding('utf8').on('data', (d) => (err += d));
      await waitUntil(() => err.includes('Server is ready') || c.exitCode !== null, 'nats-server', 20_000);
      if (c.exitCode !== null) throw new Error(`nats-server exited: ${err}`);
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    async close() { await s.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
  await s.start();
  return s;
}

export const DATA_PORT = 'org.bench.data';

/**
 * `vtcon serve` with one VM (console + DATA_PORT, logs on), fleet mode when `natsUrl` is given.
 * Returns its pid (for /proc CPU), the VM socket, the data port's log file and attach socket, and
 * the control socket (its `.holder.json` names the engine's pid). rotateBytes: the port logs'
 * rotation size (default 1 GiB: no rotation in a run). `bin`: another build's bin.js, to compare
 * two builds in one run.
 */
export async function startDaemon({ natsUrl, host = 'bench1', vm = 'b1', nodeArgs = [], rotateBytes = 1073741824, bin = join(cliDir, 'dist/bin.js') }) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-bench-fleet-'));
  const config = join(dir, 'vtcon.yaml');
  const socket = join(dir, `${vm}.vhost.sock`);
  const control = join(dir, 'control.sock');
  writeFileSync(config, `daemon:\n  control: ${control}\n  runtimeDir: ${dir}\n  logLevel: info\n`
    + (natsUrl ? `fleet:\n  host: ${host}\n  heartbeatSeconds: 1\n  nats: { servers: "${natsUrl}" }\n` : '')
    + `vms:\n  - name: ${vm}\n    socket: ${socket}\n    ports:\n      - { name: console, console: true }\n      - { name: ${DATA_PORT} }\n`
    + `    sinks: { logDir: ${join(dir, 'logs')}, rotateBytes: ${rotateBytes} }\n`);
  const child = spawn(process.execPath, [...nodeArgs, bin, 'serve', '--config', config], {
    env: { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: join(dir, 'state') }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  await waitUntil(() => err.includes('daemon ready') || child.exitCode !== null, 'vtcon serve', 30_000);
  if (child.exitCode !== null) throw new Error(`vtcon serve exited: ${err}`);
  if (natsUrl) await waitUntil(() => err.includes('fleet: joined'), 'the daemon to join the fleet', 30_000);
  // The holder starts a standby engine after the active one is ready; its start (loading every
  // module) is seconds of CPU that must not land in a measurement of the active engine.
  const { readHolderStatus } = await cliModule('cli/holder-status.js');
  await waitUntil(() => readHolderStatus(control)?.standbyReady === true, 'the standby engine', 60_000);
  const logFile = join(dir, 'logs', vm, `${DATA_PORT}.log`);
  return {
    pid: child.pid, socket, logFile, host, vm, control, attachPath: join(dir, vm, `${DATA_PORT}.sock`), stderr: () => err,
    logSize: () => { try { return statSync(logFile).size; } catch { return 0; } },
    /**
     * utime + stime of every thread of the daemon, in ms: `serve` is a holder and its engine (a
     * child, which does the work: main thread and workers), so the whole process tree counts.
     */
    cpuMs: () => treeCpuSeconds(child.pid) * 1000,
    async close() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The seed-model guest on the daemon's VM, DATA_PORT opened; write() resolves once the device used it. */
export async function dataPort(socket, txChunk = 4096) {
  const { connectGuest } = await import('@vtcon/console/testing');
  const { driver } = await connectGuest(socket, { txChunk, txInflight: 8 });
  const p = await waitUntil(() => driver.portByName(DATA_PORT), 'the data port in the guest', 10_000);
  await p.open();
  return { write: (b) => p.write(b), close: () => driver.detach() };
}

/** Bytes of `subject` already in the stream: the last message's offset header plus its length. */
export async function streamedBytes(jsm, stream, subject) {
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
  return m ? Number(m.header.get('Vtcon-Offset')) + m.data.length : 0;
}
