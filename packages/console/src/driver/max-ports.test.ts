/**
 * The most ports a device offers, end to end with the seed driver model (its cap raised to a
 * Linux guest's): MAX_NR_PORTS (511, QEMU's; 1024 queues) in process over the loopback with real
 * eventfds, and VHOST_USER_MAX_NR_PORTS (127: vhost-user names 256 queues) over a real socket.
 * Port queues on the main thread and on two workers (with port logs). Needs the built dist/.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserFrontend } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import { ConsoleDevice } from '../device/console-device.js';
import { MAX_NR_PORTS, VHOST_USER_MAX_NR_PORTS, VIRTIO_CONSOLE_PORT_ADD } from '../control/constants.js';
import { ConsoleWorkerPool } from '../worker/pool.js';
import { serveDevice } from './harness.js';
import { FrontendHandle } from './frontend-handle.js';
import { Loopback } from './loopback.js';
import type { VirtioHandle } from './virtio-handle.js';
import { VtconDriver } from './vtcon-driver.js';
import { until as waitUntil } from '../test-support/until.js';

const dir = mkdtempSync(join(tmpdir(), 'vtcon-maxports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const until = (cond: () => boolean, ms = 60_000): Promise<void> => waitUntil(cond, ms);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const total = (l: Uint8Array[]): number => l.reduce((a, b) => a + b.length, 0);
let n = 0;

/**
 * `count` ports on one device, a driver attached through `transport`; checks every PORT_ADD
 * reaches the guest, then 256 KiB each way on the first, a middle and the last port.
 */
async function manyPorts(count: number, mode: 'inline' | 'workers', transport: 'loopback' | 'socket'): Promise<void> {
  const pool = mode === 'workers' ? new ConsoleWorkerPool({ threads: 2 }) : null;
  const name = `${transport}-${mode}-${n++}`;
  const ports = Array.from({ length: count }, (_, i) => ({
    name: `p${i}`, console: i === 0, ...(pool ? { log: { path: join(dir, name, `p${i}.log`) } } : {}),
  }));
  const dev = new ConsoleDevice({ ports, maxPorts: count, ...(pool ? { engine: (h) => pool.createEngine(h) } : {}) });
  const rx = new Map<number, Uint8Array[]>();
  dev.on('data', (p, b) => { const l = rx.get(p) ?? []; l.push(b.slice()); rx.set(p, l); });
  let handle: VirtioHandle;
  let backend: ReturnType<typeof serveDevice> | null = null;
  if (transport === 'socket') {
    const path = join(dir, `${name}.sock`);
    backend = serveDevice(path, dev);
    // Rings take a 64 KiB slot per queue at the top of the last region.
    const memory = [16 << 20, (2 + 2 * count) * 64 * 1024 + (1 << 20)];
    handle = new FrontendHandle((onConfigChange) => VhostUserFrontend.connect(path, { onConfigChange }), native, { memory });
  } else {
    const loop = new Loopback({ eventfds: native, memoryBytes: 16 << 20 });
    loop.connect(dev);
    handle = loop;
  }
  const driver = new VtconDriver(handle, { maxPorts: count, txChunk: 4096, txInflight: 8 });
  // Every PORT_ADD the driver processes (recorded from before attach sends DEVICE_READY).
  const added: number[] = [];
  const processEvent = driver.ctrlProcessEvent.bind(driver);
  driver.ctrlProcessEvent = (control, data) => {
    const dv = new DataView(control.buffer, control.byteOffset, control.byteLength);
    if (control.length >= 8 && dv.getUint16(4, true) === VIRTIO_CONSOLE_PORT_ADD) added.push(dv.getUint32(0, true));
    processEvent(control, data);
  };
  try {
    await driver.attach();
    expect(driver.maxPorts).toBe(count);
    await until(() => driver.ports.length === count && driver.ports.every((p) => p.name !== null));
    expect(driver.ports.map((p) => p.name)).toEqual(ports.map((p) => p.name));
    expect([...added].sort((a, b) => a - b)).toEqual(ports.map((_, i) => i));
    expect(driver.portById(0)!.console).toBe(true);
    const picked = [0, count >> 1, count - 1].map((id) => driver.portById(id)!);
    for (const p of picked) if (!p.console) await p.open();
    await until(() => picked.every((p) => dev.port(p.id).guestOpen));
    await Promise.all(picked.map(async (p) => {
      const up = randomBytes(256 * 1024);
      const down = randomBytes(256 * 1024);
      const back: Uint8Array[] = [];
      p.on('data', (b) => back.push(b));
      dev.send(p.id, down);
      await p.write(up);
      await until(() => total(rx.get(p.id) ?? []) === up.length && total(back) === down.length);
      expect(sha(Buffer.concat(rx.get(p.id)!))).toBe(sha(up));
      expect(sha(Buffer.concat(back))).toBe(sha(down));
    }));
    if (pool) {
      // Both queues of every port started, shared out over both workers.
      const st = pool.stats().map((s) => s.queues);
      expect(st.reduce((a, b) => a + b, 0)).toBe(2 * count);
      expect(Math.min(...st)).toBeGreaterThanOrEqual(count - 1);
    }
  } finally {
    await driver.detach();
    await backend?.close();
    await dev.close();
    await pool?.close();
  }
  if (pool) {
    // The last port's log holds what its guest wrote (appended before its chains were used).
    expect(readFileSync(join(dir, name, `p${count - 1}.log`)).length).toBe(256 * 1024);
  }
}

describe('the most ports on one guest', () => {
  it.each(['inline', 'workers'] as const)(`${MAX_NR_PORTS} ports (QEMU's max_nr_ports) in process over eventfds: every PORT_ADD reaches the guest; first, middle, last port byte-exact both ways (%s)`, async (mode) => {
    await manyPorts(MAX_NR_PORTS, mode, 'loopback');
  }, 120_000);

  it.each(['inline', 'workers'] as const)(`${VHOST_USER_MAX_NR_PORTS} ports (vhost-user's most) over a real socket: same checks (%s)`, async (mode) => {
    await manyPorts(VHOST_USER_MAX_NR_PORTS, mode, 'socket');
  }, 120_000);
});
