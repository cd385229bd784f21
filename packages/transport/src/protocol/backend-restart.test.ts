/**
 * A back-end daemon that crashes (SIGKILL, mid-batch, no GET_VRING_BASE) and is restarted while
 * the front-end keeps its guest memory and rings, as QEMU does on a vhost-user reconnect: with
 * inflight tracking (GET/SET_INFLIGHT_FD) every byte arrives exactly once, in order.
 *
 * The echo device runs with rxPool 8: it holds receive buffers and fills them out of order, so
 * restarting from used.idx alone would repeat some chains and lose others. The back-end runs in
 * child processes (src/protocol/echo-backend.fixture.mjs, from dist/: `npm run build` first).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { VhostUserFrontend } from './frontend.js';
import { EchoTransfer } from './echo-harness.js';
import { inflightHeads } from '../memory/inflight.js';
import type { VhostUserProtocolFeatureName } from './codes.js';
import * as native from '../native.js';

const FIXTURE = resolve(import.meta.dirname, 'echo-backend.fixture.mjs');
const DIST = resolve(import.meta.dirname, '../../dist/index.js');
const QUEUE_SIZE = 256;
const CHUNK = 4096;

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

interface Child { proc: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stdout: () => string; stderr: () => string }

async function spawnBackend(sock: string, killAfter: number, rxPool: number): Promise<Child> {
  if (!existsSync(DIST)) throw new Error(`${DIST} missing: run \`npm run build\` in packages/transport before the tests`);
  const proc = spawn(process.execPath, [FIXTURE, sock, String(killAfter), String(rxPool)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  cleanups.push(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  for (let i = 0; i < 400 && !out.includes('listening'); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!out.includes('listening')) throw new Error(`echo back-end did not start: ${err}`);
  return { proc, exited, stdout: () => out, stderr: () => err };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: nothing after ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

/** QEMU's start sequence with inflight: negotiate, [GET_]SET_INFLIGHT_FD, rings from used.idx, enable. */
async function start(fe: VhostUserFrontend, reuse: boolean, protocolFeatures?: readonly VhostUserProtocolFeatureName[]): Promise<void> {
  await fe.negotiate({ memory: [1 << 20, 4 << 20], protocolFeatures });
  await fe.setupInflight(2, QUEUE_SIZE);
  // After a crash QEMU cannot ask the dead back-end for its ring base: it restores last_avail_idx
  // from used.idx, and the back-end corrects it from the inflight region.
  for (const q of [0, 1]) await fe.setupQueue(q, QUEUE_SIZE, reuse ? { reuse: true, base: fe.usedIdx(q) } : {});
  for (const q of [0, 1]) await fe.enableQueue(q, true);
}

/** Runs the transfer across back-ends that die after kills[i] chains each; returns the result and what the survivor did. */
async function transferAcrossCrashes(o: { total: number; kills: number[]; inflight: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-restart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'vm.sock');
  const protocolFeatures: VhostUserProtocolFeatureName[] | undefined = o.inflight ? undefined : ['MQ', 'REPLY_ACK', 'CONFIG', 'CONFIGURE_MEM_SLOTS'];
  const t = new EchoTransfer({ totalBytes: o.total, chunk: CHUNK, buffers: 32 });
  const inflightAtCrash: { rx: number; tx: number }[] = [];
  let fe: VhostUserFrontend | null = null;
  for (let round = 0; round <= o.kills.length; round++) {
    const killAfter = o.kills[round] ?? 0;
    const child = await spawnBackend(sock, killAfter, 8);
    let closed!: () => void;
    const closedP = new Promise<void>((r) => { closed = r; });
    fe = fe ? VhostUserFrontend.reattach(fe, sock, { onClose: () => closed() }) : VhostUserFrontend.connect(sock, { onClose: () => closed() });
    const current = fe;
    cleanups.push(() => current.close());
    await start(fe, round > 0, protocolFeatures);
    t.attach(fe);
    if (killAfter === 0) {
      const r = await within(t.done, 30_000, 'transfer after the last restart');
      child.proc.kill('SIGTERM');
      await within(child.exited, 10_000, 'back-end exit');
      const stats = JSON.parse(/stats (.*)\n/.exec(child.stdout())?.[1] ?? 'null') as { echoed: number; resubmitted: number } | null;
      fe.close();
      return { r, stats, inflightAtCrash, stderr: child.stderr() };
    }
    const ex = await within(child.exited, 30_000, `back-end killed after ${killAfter} chains`);
    expect(ex.signal).toBe('SIGKILL');
    await within(closedP, 10_000, 'front-end sees the connection end');
    t.detach();
    fe.detach();
    if (fe.inflight) {
      const size = Number(fe.inflight.desc.mmapSize);
      const sab = native.mmapShared(fe.inflight.fd, size, 0);
      const buf = new Uint8Array(sab);
      inflightAtCrash.push({ rx: inflightHeads(buf, 0, QUEUE_SIZE).length, tx: inflightHeads(buf, 1, QUEUE_SIZE).length });
      native.releaseMapping(sab);
    }
  }
  throw new Error('unreachable');
}

describe('back-end crash and restart with inflight tracking', () => {
  it('a back-end SIGKILLed twice mid-transfer: every byte arrives exactly once, in order', async () => {
    const total = 8 << 20;
    const { r, stats, inflightAtCrash, stderr } = await transferAcrossCrashes({ total, kills: [301, 777], inflight: true });
    if (process.env.DBG) console.log(JSON.stringify({ stats, inflightAtCrash, r }));
    expect(stderr).toBe('');
    expect(r.receivedBytes).toBe(total);
    expect(r.chains).toBe(total / CHUNK);
    expect(r.receivedSha256).toBe(r.sentSha256);
    // The dead back-ends really left chains popped and unused (held rx buffers), and the
    // restarted ones took them from the inflight region.
    expect(inflightAtCrash).toHaveLength(2);
    for (const c of inflightAtCrash) expect(c.rx).toBeGreaterThan(0);
    expect(stats!.resubmitted).toBeGreaterThan(0);
    expect(stats!.echoed).toBe(total / CHUNK - 301 - 777);
  });

  it('without inflight tracking the same crash repeats or loses chains (why the tracking exists)', async () => {
    const total = 2 << 20;
    const outcome = await transferAcrossCrashes({ total, kills: [301], inflight: false }).then(
      ({ r }) => (r.receivedSha256 === r.sentSha256 && r.receivedBytes === total ? 'intact' : 'corrupted'),
      (e: Error) => `failed: ${e.message}`,
    );
    if (process.env.DBG) console.log(outcome);
    expect(outcome).not.toBe('intact');
  });
});
