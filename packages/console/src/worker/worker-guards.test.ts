/**
 * Hostile front-end and guest against port queues serviced in piscina workers (issue 11 items 1,
 * 2, 7, 8, 13, 16): bad kick/call fds, bad rings at start, giant chains, hung and crash-looping
 * workers, a re-sent memory table. A victim VM streams on the same pool throughout and must stay
 * byte-exact. Needs the built dist/ (worker entry).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserFrontend } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import { ConsoleDevice, type ConsoleDeviceEvents } from '../device/console-device.js';
import { Loopback } from '../driver/loopback.js';
import { VtconDriver } from '../driver/vtcon-driver.js';
import { FrontendHandle } from '../driver/frontend-handle.js';
import { serveDevice } from '../driver/harness.js';
import { transmitqOf } from '../device/queue-map.js';
import type { EngineHost } from '../device/engine.js';
import { ConsoleWorkerPool } from './pool.js';
import { RawGuest } from '../test-support/raw-queues.js';
import { until as waitUntil } from '../test-support/until.js';

type QueueErrorInfo = ConsoleDeviceEvents['queue-error'][0];
// Generous: the pool's workers start and service on a machine other suites load too.
const until = (cond: () => boolean, ms = 30_000): Promise<void> => waitUntil(cond, ms);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const causeReason = (e: QueueErrorInfo): string | undefined => (e.error.cause as { reason?: string } | undefined)?.reason;

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

let pool: ConsoleWorkerPool;
beforeAll(() => { pool = new ConsoleWorkerPool({ threads: 2 }); });
afterAll(async () => { await pool.close(); });

/** A well-behaved VM on `on`, its port 1 open, streaming checked by the caller. */
async function victim(on: ConsoleWorkerPool) {
  const loop = new Loopback({ eventfds: native, memoryBytes: 8 << 20 });
  const dev = new ConsoleDevice({ ports: [{ name: 'v0', console: true }, { name: 'v1' }], bindQueue: loop.bindQueue, engine: (h) => on.createEngine(h, 'victim') });
  const rx: Uint8Array[] = [];
  dev.on('data', (p, b) => { if (p === 1) rx.push(b.slice()); });
  loop.connect(dev);
  const drv = new VtconDriver(loop, { txChunk: 4096 });
  await drv.attach();
  await until(() => drv.ports.length === 2 && drv.ports.every((p) => p.name !== null));
  const p = drv.ports[1]!;
  await p.open();
  cleanups.push(() => drv.detach());
  /** Stream `n` random bytes guest→host and check them byte-exact. */
  const stream = async (n: number): Promise<void> => {
    rx.length = 0;
    const data = randomBytes(n);
    await p.write(data);
    await until(() => rx.reduce((k, b) => k + b.length, 0) >= n);
    expect(sha(Buffer.concat(rx))).toBe(sha(data));
  };
  return { dev, stream };
}

/** A VM whose queues a hostile front-end starts by hand on `on`. */
function hostile(on: ConsoleWorkerPool, label = 'hostile') {
  const guest = new RawGuest();
  const dev = new ConsoleDevice({ ports: [{ name: 'h0' }, { name: 'h1' }, { name: 'h2' }], engine: (h) => on.createEngine(h, label) });
  const errors: QueueErrorInfo[] = [];
  dev.on('queue-error', (e) => errors.push(e));
  cleanups.push(async () => { await dev.close(); guest.close(); });
  return { guest, dev, errors };
}

describe('worker servicing against a hostile front-end', () => {
  it('a bad ring or kick fd at start breaks only that queue (reason kept across the thread); the worker is not restarted; the victim streams on', async () => {
    const v = victim(pool);
    const { stream } = await v;
    const restarts = pool.stats().map((s) => s.restarts);
    const { guest, dev, errors } = hostile(pool);
    const devNull = openSync('/dev/null', 'r');
    cleanups.push(() => closeSync(devNull));
    const ok = guest.start(dev, transmitqOf(0));
    guest.start(dev, transmitqOf(1), { config: { descAddr: ok.config.descAddr + 2 } }); // misaligned by 2 bytes
    await until(() => errors.length === 1);
    guest.start(dev, transmitqOf(2), { kickFd: devNull });
    await until(() => errors.length === 2);
    expect(errors.map((e) => [e.index, e.error.reason, causeReason(e)])).toEqual([
      [transmitqOf(1), 'QUEUE_BROKEN', 'RING_MISALIGNED'],
      [transmitqOf(2), 'QUEUE_BROKEN', 'KICK_FD_FAILED'],
    ]);
    // One wrapping, the cause's own reason and detail in the message.
    expect(errors[0]!.error.message).toMatch(/^QUEUE_BROKEN: queue 5 stopped: RING_MISALIGNED: descriptor table/);
    expect(errors[0]!.error.message.match(/QUEUE_BROKEN/g)).toHaveLength(1);
    await stream(512 * 1024);
    expect(pool.stats().map((s) => s.restarts)).toEqual(restarts);
    // The queue of the same VM that started well works.
    const rx: string[] = [];
    dev.on('data', (_p, b) => rx.push(Buffer.from(b).toString()));
    ok.post(new TextEncoder().encode('fine'));
    await until(() => rx.join('') === 'fine');
  });

  it('a socket kick fd whose peer reset, and a read-only call fd, break only their queues in the worker', async () => {
    const { stream } = await victim(pool);
    const { guest, dev, errors } = hostile(pool);
    const [ours, peer] = native.socketPair();
    cleanups.push(() => native.close(ours));
    const ro = openSync('/dev/null', 'r');
    cleanups.push(() => closeSync(ro));
    native.sendMsg(ours, new Uint8Array(8));
    guest.start(dev, transmitqOf(0), { kickFd: ours });
    native.close(peer);
    const tx1 = guest.start(dev, transmitqOf(1), { callFd: ro });
    tx1.post(new Uint8Array([1, 2, 3]));
    await until(() => errors.length === 2);
    expect(errors.map((e) => [e.index, causeReason(e)]).sort()).toEqual([[transmitqOf(0), 'KICK_FD_FAILED'], [transmitqOf(1), 'CALL_FD_FAILED']].sort());
    await stream(256 * 1024);
  });

  it('a chain over the port bound breaks its queue (CHAIN_TOO_BIG) in the worker', async () => {
    const { stream } = await victim(pool);
    const { guest, dev, errors } = hostile(pool);
    const tx = guest.start(dev, transmitqOf(1));
    tx.postRepeated(128 * 1024, 40); // 5 MiB readable from 128 KiB
    await until(() => errors.length === 1);
    expect(causeReason(errors[0]!)).toBe('CHAIN_TOO_BIG');
    await stream(256 * 1024);
  });
});

describe('worker lifetime', () => {
  it('a stop the worker does not answer declares the shard dead: its thread is replaced before the stop resolves, never a silent fallback', async () => {
    const small = new ConsoleWorkerPool({ threads: 1, replyTimeoutMs: { stop: 300, log: 300 } });
    cleanups.push(() => small.close());
    const { guest, dev } = hostile(small);
    const tx = guest.start(dev, transmitqOf(1));
    const rx: string[] = [];
    dev.on('data', (_p, b) => rx.push(Buffer.from(b).toString()));
    tx.post(new TextEncoder().encode('a'));
    await until(() => rx.join('') === 'a');
    small.stallShard(0, 5000);
    const restarts = small.stats()[0]!.restarts;
    await dev.stopQueue(transmitqOf(1));
    // Resolved only once the hung thread was terminated and a new one launched in its place.
    expect(small.stats()[0]!.restarts).toBe(restarts + 1);
    // The replacement serves new queues.
    const tx0 = guest.start(dev, transmitqOf(0));
    tx0.post(new TextEncoder().encode('b'));
    await until(() => rx.join('') === 'ab');
  });

  it("a log open the worker does not answer rejects (LOG_FAILED), it does not resolve as success", async () => {
    const small = new ConsoleWorkerPool({ threads: 1, replyTimeoutMs: { stop: 300, log: 300 } });
    cleanups.push(() => small.close());
    const dir = mkdtempSync(join(tmpdir(), 'vtcon-wg-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const noop = (): void => {};
    const host: EngineHost = { received: () => true, takeOutgoing: () => 0, outgoingBytes: () => 0, wrote: noop, queueFailed: noop, inFlight: noop, logFailed: noop };
    const engine = small.createEngine(host, 'vmlog');
    await until(() => small.stats()[0]!.alive);
    small.stallShard(0, 5000);
    await expect(engine.setLog(0, { path: join(dir, 'p0.log') })).rejects.toMatchObject({ reason: 'LOG_FAILED', message: /vmlog port 0: no answer/ });
  });

  it('a worker that keeps dying is restarted with backoff, then its queues are given up (named), never replayed in a loop', async () => {
    const small = new ConsoleWorkerPool({ threads: 1, restart: { maxRestarts: 2, baseMs: 1, healthyMs: 60_000 } });
    cleanups.push(() => small.close());
    const { guest, dev, errors } = hostile(small, 'crashy');
    guest.start(dev, transmitqOf(1));
    for (let i = 1; i <= 3; i++) {
      await until(() => small.stats()[0]!.alive);
      small.killShard(0);
      if (i <= 2) await until(() => small.stats()[0]!.restarts === i && small.stats()[0]!.alive);
    }
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ index: transmitqOf(1), error: { reason: 'QUEUE_BROKEN' } });
    expect(causeReason(errors[0]!)).toBe('WORKER_FAILED');
    expect(errors[0]!.error.message).toMatch(/crashy queue 5: its worker died 3 times in a row; queue given up/);
    // The shard itself lives on, empty: new queues are served.
    await until(() => small.stats()[0]!.alive);
    expect(small.stats()[0]!.queues).toBe(0);
    const rx: string[] = [];
    dev.on('data', (_p, b) => rx.push(Buffer.from(b).toString()));
    guest.start(dev, transmitqOf(0)).post(new TextEncoder().encode('again'));
    await until(() => rx.join('') === 'again');
  });
});

describe('memory tables', () => {
  it('a second SET_MEM_TABLE with the same layout: port queues in workers go on with the new mapping', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtcon-mt-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'vm.sock');
    const dev = new ConsoleDevice({ ports: [{ name: 'c', console: true }, { name: 'd' }], maxPorts: 2, engine: (h) => pool.createEngine(h, 'memvm') });
    const errors: QueueErrorInfo[] = [];
    dev.on('queue-error', (e) => errors.push(e));
    const rx: Uint8Array[] = [];
    dev.on('data', (p, b) => { if (p === 1) rx.push(b.slice()); });
    const backend = serveDevice(path, dev);
    cleanups.push(async () => { await backend.close(); await dev.close(); });
    let front: VhostUserFrontend | null = null;
    // Without CONFIGURE_MEM_SLOTS (as QEMU with vhost-user-test-device), so the table is re-sent whole.
    const handle = new FrontendHandle((onConfigChange) => {
      const f = VhostUserFrontend.connect(path, { onConfigChange });
      const negotiate = f.negotiate.bind(f);
      f.negotiate = (o) => negotiate({ ...o, protocolFeatures: ['MQ', 'REPLY_ACK', 'CONFIG', 'BACKEND_REQ', 'RESET_DEVICE', 'STATUS'] });
      front = f;
      return f;
    }, native);
    const driver = new VtconDriver(handle, { txChunk: 4096 });
    await driver.attach();
    cleanups.push(() => driver.detach());
    await until(() => driver.portByName('d') !== null);
    const d = driver.portByName('d')!;
    await d.open();
    const back: Uint8Array[] = [];
    d.on('data', (b) => back.push(b));
    const roundTrip = async (n: number): Promise<void> => {
      rx.length = 0; back.length = 0;
      const data = randomBytes(n);
      await d.write(data);
      await until(() => rx.reduce((k, b) => k + b.length, 0) >= n);
      expect(sha(Buffer.concat(rx))).toBe(sha(data));
      dev.send('d', data);
      await until(() => back.reduce((k, b) => k + b.length, 0) >= n);
      expect(sha(Buffer.concat(back))).toBe(sha(data));
    };
    await roundTrip(64 * 1024);
    // What a front-end does on stop/start without CONFIGURE_MEM_SLOTS: the same table again. The
    // back-end stops every queue, maps the table afresh (the old mappings are released) and
    // restarts them.
    for (let i = 0; i < 2; i++) {
      await front!.sendMemTable();
      await roundTrip(64 * 1024);
    }
    expect(errors).toEqual([]);
  });
});
