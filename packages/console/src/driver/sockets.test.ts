/**
 * Driver model ↔ device over the real vhost-user frontend/backend on real Unix sockets.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleDevice } from '../device/console-device.js';
import { connectGuest, serveDevice } from './harness.js';
import type { VtconDriver } from './vtcon-driver.js';
import { until as waitUntil } from '../test-support/until.js';

const dir = mkdtempSync(join(tmpdir(), 'vtcon-console-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sock = (): string => join(dir, `vm${n++}.sock`);

const until = (cond: () => boolean, ms = 20_000): Promise<void> => waitUntil(cond, ms);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const total = (l: Uint8Array[] | undefined): number => (l ?? []).reduce((a, b) => a + b.length, 0);

async function vm(ports: { name: string; console?: boolean }[], o: { maxPorts?: number; txChunk?: number; txInflight?: number } = {}) {
  const path = sock();
  const dev = new ConsoleDevice({ ports, maxPorts: o.maxPorts ?? Math.max(ports.length, 2) });
  const rx = new Map<number, Uint8Array[]>();
  dev.on('data', (p, b) => { const l = rx.get(p) ?? []; l.push(b); rx.set(p, l); });
  const backend = serveDevice(path, dev);
  const { driver } = await connectGuest(path, { txChunk: o.txChunk ?? 4096, txInflight: o.txInflight ?? 1 });
  await until(() => driver.ports.length === ports.length && driver.ports.every((p) => p.name !== null));
  const close = async (): Promise<void> => { await driver.detach(); await backend.close(); await dev.close(); };
  return { dev, driver, rx, backend, close };
}

async function openAll(driver: VtconDriver, dev: ConsoleDevice): Promise<void> {
  for (const p of driver.ports) if (!p.console) await p.open();
  await until(() => driver.ports.every((p) => dev.port(p.id).guestOpen));
}

describe('over real vhost-user sockets', () => {
  it('ports appear with names, console flagged; 1 MB random per port both ways, byte-exact', async () => {
    const { dev, driver, rx, close } = await vm([{ name: 'org.test.console', console: true }, { name: 'org.test.0' }, { name: 'org.test.1' }]);
    expect(driver.portById(0)).toMatchObject({ name: 'org.test.console', console: true });
    expect(driver.portById(1)).toMatchObject({ name: 'org.test.0', console: false });
    await openAll(driver, dev);
    await Promise.all(driver.ports.map(async (p) => {
      const up = randomBytes(1 << 20);
      const down = randomBytes(1 << 20);
      const back: Uint8Array[] = [];
      p.on('data', (b) => back.push(b));
      for (let off = 0; off < down.length; off += 256 * 1024) dev.send(p.id, down.subarray(off, off + 256 * 1024));
      await p.write(up);
      await until(() => total(rx.get(p.id)) === up.length && total(back) === down.length);
      expect(sha(Buffer.concat(rx.get(p.id)!))).toBe(sha(up));
      expect(sha(Buffer.concat(back))).toBe(sha(down));
    }));
    const st = dev.stats();
    expect(st.ports.every((p) => p.bytesIn === 1 << 20 && p.bytesOut === 1 << 20 && p.backlogBytes === 0)).toBe(true);
    await close();
  });

  it('hot add/remove, resize and open/close over the socket', async () => {
    const { dev, driver, close } = await vm([{ name: 'con', console: true }], { maxPorts: 4 });
    // The console port's own open may still arrive after vm() returned: keep only hot's events.
    const opens: [{ name: string | null }, boolean][] = [];
    dev.on('port-open', (p, o) => opens.push([p, o]));
    dev.addPort({ name: 'hot' });
    await until(() => driver.portByName('hot') !== null);
    const hot = driver.portByName('hot')!;
    await hot.open();
    await until(() => dev.port('hot').guestOpen);
    await hot.close();
    await until(() => !dev.port('hot').guestOpen);
    expect(opens.filter(([p]) => p.name === 'hot').map(([, o]) => o)).toEqual([true, false]);
    dev.resize('con', 150, 50);
    await until(() => driver.portById(0)!.size?.cols === 150);
    expect(driver.portById(0)!.size).toEqual({ cols: 150, rows: 50 });
    await dev.removePort('hot');
    await until(() => hot.gone);
    await close();
  });

  it('32 ports on one guest', async () => {
    const ports = Array.from({ length: 32 }, (_, i) => ({ name: `p${i}`, console: i === 0 }));
    const { dev, driver, rx, close } = await vm(ports, { maxPorts: 32 });
    expect(driver.ports).toHaveLength(32);
    expect(driver.maxPorts).toBe(32);
    await openAll(driver, dev);
    await Promise.all(driver.ports.map((p) => p.write(`hello from ${p.name}`)));
    for (const p of driver.ports) expect(Buffer.concat(rx.get(p.id) ?? []).toString()).toBe(`hello from ${p.name}`);
    await close();
  });

  it('64 guests at once', async () => {
    const vms = await Promise.all(Array.from({ length: 64 }, (_, i) => vm([{ name: `g${i}.console`, console: true }, { name: `g${i}.agent` }])));
    await Promise.all(vms.map(async (v, i) => {
      const data = randomBytes(16 * 1024);
      await v.driver.portById(1)!.write(data);
      await until(() => total(v.rx.get(1)) === data.length);
      expect(sha(Buffer.concat(v.rx.get(1)!))).toBe(sha(data));
      const back: Uint8Array[] = [];
      const con = v.driver.portById(0)!;
      con.on('data', (b) => back.push(b));
      v.dev.send(0, `guest ${i}`);
      await until(() => Buffer.concat(back).toString() === `guest ${i}`);
    }));
    await Promise.all(vms.map((v) => v.close()));
  });

  it('pipelined guest writes (txInflight 32) arrive complete and in order', async () => {
    const { dev, driver, rx, close } = await vm([{ name: 'c', console: true }], { txInflight: 32, txChunk: 1024 });
    await openAll(driver, dev);
    const data = randomBytes(1 << 20);
    await Promise.all([driver.portById(0)!.write(data.subarray(0, 1 << 19)), driver.portById(0)!.write(data.subarray(1 << 19))]);
    await until(() => total(rx.get(0)) === data.length);
    expect(sha(Buffer.concat(rx.get(0)!))).toBe(sha(data));
    await close();
  });
});
