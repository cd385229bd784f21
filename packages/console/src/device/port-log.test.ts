/**
 * A port's log is written before the guest's chains are marked used: at the moment the driver
 * model sees a write acknowledged, the log file already holds it. Run with both engines (main
 * thread, piscina workers with a small byte ring so big chains go through the piece path), over
 * the in-process loopback with real eventfds. The worker half needs the built dist/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as transportNative from '@vtcon/transport/native';
import { ConsoleDevice } from './console-device.js';
import { Loopback, type LoopbackEventfds } from '../driver/loopback.js';
import { VtconDriver } from '../driver/vtcon-driver.js';
import { ConsoleWorkerPool } from '../worker/pool.js';
import type { PortLogOptions } from '../sink/append-log.js';
import type { ConsoleError } from '../errors.js';
import { until as waitUntil } from '../test-support/until.js';

const native: LoopbackEventfds = transportNative;

const until = (cond: () => boolean, ms = 10_000): Promise<void> => waitUntil(cond, ms);

let dir: string;
let pool: ConsoleWorkerPool;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vtcon-portlog-'));
  // 4 KiB byte ring: chains over ~1 KiB are carried in pieces (the partial-chain path).
  pool = new ConsoleWorkerPool({ threads: 2, ringBytes: 4096 });
});
afterAll(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

const engines = {
  inline: undefined,
  workers: (h: Parameters<ConsoleWorkerPool['createEngine']>[0]) => pool.createEngine(h),
};

async function boot(name: string, engine: keyof typeof engines, logs: (PortLogOptions | undefined)[]) {
  const loop = new Loopback({ eventfds: native, memoryBytes: 8 << 20 });
  const failures: { port: number; error: ConsoleError }[] = [];
  const dev = new ConsoleDevice({
    ports: logs.map((log, i) => ({ name: `${name}.${i}`, console: i === 0, ...(log ? { log } : {}) })),
    bindQueue: loop.bindQueue,
    ...(engines[engine] ? { engine: engines[engine] } : {}),
  });
  dev.on('log-failed', (f) => failures.push(f));
  const rx = new Map<number, Uint8Array[]>();
  dev.on('data', (p, b) => { const l = rx.get(p) ?? []; l.push(b.slice()); rx.set(p, l); });
  loop.connect(dev);
  const drv = new VtconDriver(loop, { txChunk: 4096 });
  await drv.attach();
  await until(() => drv.ports.length === logs.length && drv.ports.every((p) => p.name !== null));
  for (const p of drv.ports) if (!p.console) await p.open();
  await until(() => drv.ports.every((p) => dev.port(p.id).guestOpen));
  const received = (id: number): number => (rx.get(id) ?? []).reduce((n, b) => n + b.length, 0);
  return { dev, drv, failures, received };
}

describe('port log across a worker restart', () => {
  it('the restarted worker reopens the log and appends after what the dead one wrote', async () => {
    const paths = [join(dir, 'restart', 'console.log'), join(dir, 'restart', 'data.log')];
    const { dev, drv } = await boot('restart', 'workers', paths.map((path) => ({ path })));
    const data = [randomBytes(3 << 20), randomBytes(3 << 20)];
    const size = (i: number): number => (existsSync(paths[i]!) ? readFileSync(paths[i]!).length : 0);
    const writes = drv.ports.map((p, i) => p.write(data[i]!));
    await until(() => size(0) > 0 && size(1) > 0);
    const before = pool.stats().map((s) => s.restarts);
    const atKill = [size(0), size(1)];
    pool.killShard(0);
    pool.killShard(1);
    await Promise.all(writes);
    expect(pool.stats().map((s) => s.restarts)).toEqual(before.map((n) => n + 1));
    expect(atKill[0]! < data[0]!.length && atKill[1]! < data[1]!.length).toBe(true); // mid-transfer
    // The kill lands between passes: every chain is in the log exactly once.
    for (const i of [0, 1]) expect(readFileSync(paths[i]!).equals(data[i]!)).toBe(true);
    await drv.detach();
    await dev.close();
  });
});

describe.each(Object.keys(engines) as (keyof typeof engines)[])('port log (%s engine)', (engine) => {
  it('holds every byte the guest saw acknowledged, at the moment it was acknowledged', async () => {
    const paths = [join(dir, engine, 'a', 'console.log'), join(dir, engine, 'a', 'data.log')];
    const { dev, drv } = await boot(`${engine}-a`, engine, paths.map((path) => ({ path })));
    for (const p of drv.ports) {
      const stream: Buffer[] = [];
      let acked = 0;
      for (let i = 0; i < 120; i++) {
        // 1 B .. 12 KiB: single chains, several chains per write (txChunk 4 KiB), ring pieces.
        const chunk = randomBytes(1 + ((i * 7919) % 12_288));
        await p.write(chunk);
        stream.push(chunk);
        acked += chunk.length;
        const log = readFileSync(paths[p.id]!);
        if (log.length < acked) throw new Error(`port ${p.id} write ${i}: acknowledged ${acked} bytes, the log holds ${log.length}`);
      }
      expect(readFileSync(paths[p.id]!).equals(Buffer.concat(stream))).toBe(true);
    }
    await drv.detach();
    await dev.close();
  });

  it('a log that fails is reported once; the port goes on and its bytes still reach the sinks', async () => {
    const blocker = join(dir, engine, 'not-a-dir');
    mkdirSync(join(dir, engine), { recursive: true });
    writeFileSync(blocker, '');
    const logs: PortLogOptions[] = [
      { path: existsSync('/dev/full') ? '/dev/full' : join(blocker, 'x.log') }, // writes fail (ENOSPC)
      { path: join(blocker, 'data.log') }, // cannot be opened: its directory is a file
    ];
    const { dev, drv, failures, received } = await boot(`${engine}-f`, engine, logs);
    await until(() => failures.some((f) => f.port === 1));
    for (const p of drv.ports) {
      const data = randomBytes(20_000);
      await p.write(data);
      await until(() => received(p.id) === data.length);
    }
    await until(() => failures.some((f) => f.port === 0));
    expect(failures.map((f) => [f.port, f.error.reason]).sort()).toEqual([[0, 'LOG_FAILED'], [1, 'LOG_FAILED']]);
    expect(failures.find((f) => f.port === 1)!.error.message).toContain(blocker);
    await drv.detach();
    await dev.close();
  });

  it('an emergency write (emerg_wr) goes to port 0\'s log', async () => {
    const path = join(dir, engine, 'e', 'console.log');
    const { dev, drv } = await boot(`${engine}-e`, engine, [{ path }]);
    await drv.ports[0]!.write('boot ');
    dev.setConfig(8, Uint8Array.of(0x21, 0, 0, 0)); // emerg_wr = '!'
    await until(() => readFileSync(path, 'latin1') === 'boot !');
    await drv.detach();
    await dev.close();
  });

  it('closing the device closes the logs; a port removed at run time stops logging', async () => {
    const paths = [join(dir, engine, 'r', 'console.log'), join(dir, engine, 'r', 'gone.log')];
    const { dev, drv } = await boot(`${engine}-r`, engine, paths.map((path) => ({ path })));
    await drv.ports[1]!.write('before removal\n');
    expect(readFileSync(paths[1]!, 'latin1')).toBe('before removal\n');
    await dev.removePort(1);
    dev.addPort({ name: `${engine}-r.2`, log: { path: join(dir, engine, 'r', 'added.log') } });
    await until(() => drv.ports.some((p) => p.name === `${engine}-r.2`));
    const added = drv.ports.find((p) => p.name === `${engine}-r.2`)!;
    await added.open();
    await added.write('added at run time\n');
    expect(readFileSync(join(dir, engine, 'r', 'added.log'), 'latin1')).toBe('added at run time\n');
    await drv.detach();
    await dev.close();
  });
});
