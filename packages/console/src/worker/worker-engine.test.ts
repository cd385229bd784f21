/**
 * Port queues serviced in piscina workers: device ↔ driver model over the loopback with real
 * eventfds (the worker watches the kick eventfds itself). Needs the built dist/ (worker entry).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { ConsoleDevice } from '../device/console-device.js';
import { Loopback, type LoopbackEventfds } from '../driver/loopback.js';
import { VtconDriver } from '../driver/vtcon-driver.js';
import { ConsoleWorkerPool } from './pool.js';
import type { Shard } from './shard.js';
import type { ToWorker } from './protocol.js';
import { connectGuest, serveDevice } from '../driver/harness.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as transportNative from '@vtcon/transport/native';
import type { PortSink } from '../port/sink.js';
import { until as waitUntil } from '../test-support/until.js';

const native: LoopbackEventfds = transportNative;
let pool: ConsoleWorkerPool;

const until = (cond: () => boolean, ms = 10_000): Promise<void> => waitUntil(cond, ms);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function vm(name: string, ports = 2, on: ConsoleWorkerPool = pool, sinks: PortSink[] = [], memoryBytes = 8 << 20) {
  const loop = new Loopback({ eventfds: native, memoryBytes });
  const dev = new ConsoleDevice({
    ports: Array.from({ length: ports }, (_, i) => ({ name: `${name}.${i}`, console: i === 0 })),
    bindQueue: loop.bindQueue,
    engine: (host) => on.createEngine(host),
    sinksFor: () => sinks,
  });
  const rx = new Map<number, Uint8Array[]>();
  dev.on('data', (p, b) => { const l = rx.get(p) ?? []; l.push(b.slice()); rx.set(p, l); });
  loop.connect(dev);
  const drv = new VtconDriver(loop, { txChunk: 4096 });
  await drv.attach();
  await until(() => drv.ports.length === ports && drv.ports.every((p) => p.name !== null));
  for (const p of drv.ports) if (!p.console) await p.open();
  await until(() => drv.ports.every((p) => dev.port(p.id).guestOpen));
  return { loop, dev, drv, rx };
}

beforeAll(async () => {
  pool = new ConsoleWorkerPool({ threads: 2 }); // workers import '@vtcon/transport' (its `native`)
});
afterAll(async () => { await pool.close(); });

describe('worker servicing', () => {
  it('rejects a negative worker young generation size', () => {
    expect(() => new ConsoleWorkerPool({ youngGenerationMb: -1 })).toThrow(/youngGenerationMb/);
  });

  it('moves 256 KiB per port both ways byte-exact with queues on two workers', async () => {
    const { dev, drv, rx } = await vm('w', 2);
    for (const p of drv.ports) {
      const data = randomBytes(256 * 1024);
      await p.write(data);
      await until(() => (rx.get(p.id) ?? []).reduce((n, b) => n + b.length, 0) === data.length);
      expect(sha(Buffer.concat(rx.get(p.id)!))).toBe(sha(data));
      const back: Uint8Array[] = [];
      p.on('data', (b) => back.push(b));
      const out = randomBytes(200 * 1024);
      for (let off = 0; off < out.length; off += 50_000) dev.send(p.id, out.subarray(off, off + 50_000));
      await until(() => back.reduce((n, b) => n + b.length, 0) >= out.length);
      expect(sha(Buffer.concat(back))).toBe(sha(out));
      // The worker's 'wrote' confirmation reaches the main thread after the guest saw the bytes.
      await until(() => dev.port(p.id).bytesOut === out.length);
      expect(dev.port(p.id)).toMatchObject({ bytesOut: out.length, backlogBytes: 0 });
    }
    expect(pool.stats().every((s) => s.queues > 0)).toBe(true);
    await drv.detach();
  });

  it('a guest whose RAM is one region larger than a typed array views (6 GiB): the workers get the region, not its windows', async () => {
    const { loop, dev, drv, rx } = await vm('big', 2, pool, [], 6 * 2 ** 30); // lazy: only the pages used are touched
    expect(loop.memory.regions.length).toBeGreaterThan(1); // viewed through windows here
    for (const p of drv.ports) {
      const data = randomBytes(64 * 1024);
      await p.write(data);
      await until(() => (rx.get(p.id) ?? []).reduce((n, b) => n + b.length, 0) === data.length);
      expect(sha(Buffer.concat(rx.get(p.id) ?? []))).toBe(sha(data));
      const back: Uint8Array[] = [];
      p.on('data', (b) => back.push(b));
      dev.send(p.id, data);
      await until(() => back.reduce((n, b) => n + b.length, 0) >= data.length);
      expect(sha(Buffer.concat(back))).toBe(sha(data));
    }
    await drv.detach();
  });

  it('a worker that dies takes only its queues down; they restart without loss', async () => {
    const { dev, drv, rx } = await vm('k', 2);
    const restartsBefore = pool.stats().map((s) => s.restarts);
    // Large enough that the kill lands mid-transfer: the main thread may receive a port's bytes in
    // a few coalesced chunks, so wait for bytes, not for a count of 'data' events.
    const data = [randomBytes(4 << 20), randomBytes(4 << 20)];
    const received = (id: number): number => (rx.get(id) ?? []).reduce((n, b) => n + b.length, 0);
    const writes = drv.ports.map((p, i) => p.write(data[i]!));
    await until(() => received(0) > 0);
    const atKill = received(0);
    pool.killShard(0);
    await Promise.all(writes);
    expect(atKill).toBeLessThan(data[0]!.length); // the kill really was mid-transfer
    for (const p of drv.ports) {
      await until(() => received(p.id) >= data[p.id]!.length).catch((e: Error) => {
        throw new Error(`port ${p.id}: ${received(p.id)} of ${data[p.id]!.length} bytes; ${JSON.stringify(pool.stats())}; ${e.message}`);
      });
      expect(sha(Buffer.concat(rx.get(p.id)!))).toBe(sha(data[p.id]!));
    }
    await until(() => pool.stats()[0]!.restarts === restartsBefore[0]! + 1 && pool.stats()[0]!.alive);
    expect(pool.stats()[1]!.restarts).toBe(restartsBefore[1]);
    // After the restart, host→guest still flows on every port.
    for (const p of drv.ports) {
      const back: Uint8Array[] = [];
      p.on('data', (b) => back.push(b));
      dev.send(p.id, 'after restart');
      await until(() => Buffer.concat(back).toString() === 'after restart');
    }
    await drv.detach();
  });

  it('returns the credit of a ring drain in one message for every port, not one message per port', async () => {
    const one = new ConsoleWorkerPool({ threads: 1 });
    const sent: ToWorker[] = [];
    const shard = (one as unknown as { shards: Shard[] }).shards[0]!;
    const post = shard.port.postMessage.bind(shard.port);
    shard.port.postMessage = (m: ToWorker, t?: never) => { sent.push(m); post(m, t); };
    const { drv, rx } = await vm('c', 8, one);
    const data = drv.ports.map(() => randomBytes(1 << 20));
    await Promise.all(drv.ports.map((p, i) => p.write(data[i]!)));
    for (const p of drv.ports) {
      await until(() => (rx.get(p.id) ?? []).reduce((n, b) => n + b.length, 0) === data[p.id]!.length);
      expect(sha(Buffer.concat(rx.get(p.id)!))).toBe(sha(data[p.id]!));
    }
    const credits = sent.filter((m): m is Extract<ToWorker, { t: 'credits' }> => m.t === 'credits');
    expect(sent.filter((m) => m.t === 'credit')).toEqual([]);
    // 8 MiB taken off the ring: all but the last quarter window per port came back as credit.
    const credited = credits.reduce((a, m) => a + m.list.filter((_, i) => i % 3 === 2).reduce((x, y) => x + y, 0), 0);
    expect(credited).toBeGreaterThanOrEqual(8 * ((1 << 20) - one.window / 4));
    await drv.detach();
    await one.close();
  });

  it('serves a guest over a real vhost-user socket with the pool (kicks watched in the workers)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtcon-w-'));
    try {
      const path = join(dir, 'vm.sock');
      const dev = new ConsoleDevice({ ports: [{ name: 'c', console: true }, { name: 'd' }], maxPorts: 2, engine: (h) => pool.createEngine(h) });
      const rx: Uint8Array[] = [];
      dev.on('data', (p, b) => { if (p === 1) rx.push(b); });
      const backend = serveDevice(path, dev);
      const { driver } = await connectGuest(path, { txChunk: 4096 });
      await until(() => driver.portByName('d') !== null);
      const d = driver.portByName('d')!;
      await d.open();
      const data = randomBytes(1 << 20);
      await d.write(data);
      await until(() => rx.reduce((n, b) => n + b.length, 0) === data.length);
      expect(sha(Buffer.concat(rx))).toBe(sha(data));
      const back: Uint8Array[] = [];
      d.on('data', (b) => back.push(b));
      dev.send('d', data.subarray(0, 500_000));
      await until(() => back.reduce((n, b) => n + b.length, 0) === 500_000);
      expect(sha(Buffer.concat(back))).toBe(sha(data.subarray(0, 500_000)));
      await driver.detach();
      await backend.close();
      await dev.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('guest→host byte ring', () => {
    it('moves chains bigger than a ring piece (written in pieces) byte-exact, also across a killed worker', async () => {
      // 4 KiB ring: every 4 KiB chain is split into ~1 KiB pieces, held until complete.
      const small = new ConsoleWorkerPool({ threads: 2, ringBytes: 4096 });
      try {
        const { drv, rx } = await vm('r', 2, small);
        const data = [randomBytes(200 * 1024), randomBytes(200 * 1024)];
        const writes = drv.ports.map((p, i) => p.write(data[i]!));
        await until(() => (rx.get(0)?.length ?? 0) > 2);
        small.killShard(0);
        await Promise.all(writes);
        for (const p of drv.ports) {
          await until(() => (rx.get(p.id) ?? []).reduce((n, b) => n + b.length, 0) >= data[p.id]!.length);
          expect(sha(Buffer.concat(rx.get(p.id)!))).toBe(sha(data[p.id]!));
        }
        expect(small.stats()[0]!.restarts).toBe(1);
        await drv.detach();
      } finally {
        await small.close();
      }
    });

    it('a sink that wants no more stops the transmitq within the window; its drain resumes it byte-exact', async () => {
      const small = new ConsoleWorkerPool({ threads: 1, window: 16 * 1024 });
      let open = true;
      let drained: (() => void) | null = null;
      let got = 0;
      const sink: PortSink = {
        write: (c) => { got += c.length; },
        close: async () => {},
        wantsMore: () => open,
        onDrain: (l) => { drained = l; return () => { drained = null; }; },
      };
      try {
        const { drv, rx } = await vm('b', 2, small, [sink]);
        const p = drv.ports[1]!;
        open = false;
        const data = randomBytes(256 * 1024);
        let done = false;
        const w = p.write(data).then(() => { done = true; });
        await until(() => got > 0);
        await new Promise((r) => setTimeout(r, 100));
        // Held: at most one window (plus the chains of one batch in flight) got past the sink.
        expect(done).toBe(false);
        expect(got).toBeLessThan(64 * 1024);
        open = true;
        expect(drained).not.toBeNull();
        drained!();
        await w;
        await until(() => got >= data.length);
        expect(sha(Buffer.concat(rx.get(1)!))).toBe(sha(data));
        await drv.detach();
      } finally {
        await small.close();
      }
    });
  });
});
