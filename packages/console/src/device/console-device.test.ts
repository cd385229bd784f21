/**
 * ConsoleDevice against the seed driver model over the in-process loopback: the control protocol
 * as virtio 1.2 §5.3.6.2 and QEMU 11 (transport's fixtures/qemu-11.1.3) have it, run-time changes,
 * and bad guest input.
 */
import { describe, expect, it } from 'vitest';
import { ConsoleDevice, type ConsoleDeviceOptions } from './console-device.js';
import { Loopback } from '../driver/loopback.js';
import { VtconDriver } from '../driver/vtcon-driver.js';
import type { PortSink } from '../port/sink.js';
import {
  CONTROL_EVENT_NAMES, featureBit, VIRTIO_CONSOLE_DEVICE_ADD, VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY, VIRTIO_CONSOLE_RESIZE, VIRTIO_F_VERSION_1,
} from '../control/constants.js';
import { decodeControl } from '../control/message.js';
import { decodeConfig, VIRTIO_CONSOLE_CONFIG_SIZE } from './config.js';
import type { QueueConfig } from '@vtcon/ring';
import { until } from '../test-support/until.js';

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

interface Rec { id: number; event: string; value: number; data: string | null }

async function boot(opts: Omit<ConsoleDeviceOptions, 'bindQueue'>, drvOpts: ConstructorParameters<typeof VtconDriver>[1] = {}) {
  const loop = new Loopback({ queueSize: 32 });
  const logs: { obj: object; msg?: string }[] = [];
  const logger = { debug() {}, info() {}, warn: (obj: object, msg?: string) => logs.push({ obj, msg }), error: (obj: object, msg?: string) => logs.push({ obj, msg }) };
  const dev = new ConsoleDevice({ logger, ...opts, bindQueue: loop.bindQueue });
  loop.connect(dev);
  // What each queue was last started with (the resume test restarts rings where they stopped).
  const started = new Map<number, Parameters<ConsoleDevice['startQueue']>[1]>();
  const startQueue = dev.startQueue.bind(dev);
  dev.startQueue = (i, q) => { started.set(i, q); startQueue(i, q); };
  const drv = new VtconDriver(loop, drvOpts);
  const seen: Rec[] = [];
  const orig = drv.ctrlProcessEvent.bind(drv);
  drv.ctrlProcessEvent = (control, data) => {
    const m = decodeControl(control);
    seen.push({ id: m.id, event: CONTROL_EVENT_NAMES[m.event] ?? String(m.event), value: m.value, data: data ? Buffer.from(data).toString('latin1') : null });
    orig(control, data);
  };
  await drv.attach();
  return { loop, dev, drv, seen, logs, started };
}

class SlowSink implements PortSink {
  chunks: Uint8Array[] = [];
  full = false;
  private drains = new Set<() => void>();
  constructor(private limit: number) {}
  get bytes(): number { return this.chunks.reduce((n, c) => n + c.length, 0); }
  write(chunk: Uint8Array): void { this.chunks.push(chunk.slice()); if (this.bytes >= this.limit) this.full = true; }
  wantsMore(): boolean { return !this.full; }
  onDrain(l: () => void): () => void { this.drains.add(l); return () => this.drains.delete(l); }
  drain(): void { this.full = false; this.limit = Infinity; for (const l of [...this.drains]) l(); }
  async close(): Promise<void> {}
}

describe('ConsoleDevice control protocol', () => {
  it('DEVICE_READY → DEVICE_ADD per port; PORT_READY → CONSOLE_PORT, RESIZE, PORT_NAME (no NUL), PORT_OPEN', async () => {
    const { dev, drv, seen } = await boot({ ports: [{ name: 'org.test.console', console: true }, { name: 'org.test.0' }], size: { cols: 120, rows: 40 } });
    await until(() => seen.filter((s) => s.event === 'PORT_OPEN').length === 2).catch(() => { throw new Error(JSON.stringify(seen)); });
    const per = (id: number) => seen.filter((s) => s.id === id).map((s) => s.event);
    expect(per(0)).toEqual(['DEVICE_ADD', 'CONSOLE_PORT', 'RESIZE', 'PORT_NAME', 'PORT_OPEN']);
    expect(per(1)).toEqual(['DEVICE_ADD', 'PORT_NAME', 'PORT_OPEN']);
    expect(seen.find((s) => s.id === 0 && s.event === 'PORT_NAME')!.data).toBe('org.test.console');
    expect(drv.portById(0)!.size).toEqual({ cols: 120, rows: 40 });
    await until(() => dev.port(0).guestOpen);
    expect(dev.port(1).guestOpen).toBe(false); // nobody opened the non-console port in the guest
    expect(dev.stats()).toMatchObject({ connected: true, driverReady: true, multiport: true });
    await drv.detach();
  });

  it('features: SIZE, MULTIPORT, EMERG_WRITE, VERSION_1, EVENT_IDX, INDIRECT_DESC; queue count 2+2·max', () => {
    const dev = new ConsoleDevice({ maxPorts: 4 });
    expect(dev.features).toBe(0b111n | (1n << 32n) | (1n << 29n) | (1n << 28n));
    expect(dev.queueCount).toBe(10);
    expect(new ConsoleDevice({ multiport: false }).queueCount).toBe(2);
  });

  it('host side closed: no PORT_OPEN until setHostOpen(true)', async () => {
    const { dev, drv, seen } = await boot({ ports: [{ name: 'a', hostOpen: false }] });
    await until(() => drv.portById(0)?.name === 'a');
    await settle();
    expect(seen.some((s) => s.event === 'PORT_OPEN')).toBe(false);
    dev.setHostOpen('a', true);
    await until(() => drv.portById(0)!.hostOpen);
    await drv.detach();
  });

  it('tracks the guest PORT_OPEN open/close with port-open events', async () => {
    const { dev, drv } = await boot({ ports: [{ name: 'a' }] });
    const evs: boolean[] = [];
    dev.on('port-open', (_p, open) => evs.push(open));
    await until(() => drv.portById(0)?.name === 'a');
    await drv.portById(0)!.open();
    await until(() => dev.port('a').guestOpen);
    await drv.portById(0)!.close();
    await until(() => !dev.port('a').guestOpen);
    expect(evs).toEqual([true, false]);
    await drv.detach();
  });

  it('adds and removes ports at run time', async () => {
    const { dev, drv } = await boot({ ports: [{ name: 'c', console: true }], maxPorts: 4 });
    await until(() => drv.portById(0)?.console === true);
    const st = dev.addPort({ name: 'hot' });
    expect(st.id).toBe(1);
    await until(() => drv.portByName('hot') !== null);
    const hot = drv.portByName('hot')!;
    await dev.removePort('hot');
    await until(() => hot.gone);
    expect(() => dev.port('hot')).toThrow(expect.objectContaining({ reason: 'NO_SUCH_PORT' }));
    expect(() => dev.addPort({ name: 'c' })).toThrow(expect.objectContaining({ reason: 'PORT_EXISTS' }));
    expect(() => dev.addPort({ name: 'x', id: 4 })).toThrow(expect.objectContaining({ reason: 'PORT_ID_OUT_OF_RANGE' }));
    // The freed id is reused and the guest recreates the port on the same queues.
    dev.addPort({ name: 'again' });
    await until(() => drv.portByName('again')?.id === 1);
    await drv.detach();
  });

  it('resize: RESIZE to console ports in the configured order; non-console ports refused', async () => {
    const { dev, drv, seen } = await boot({ ports: [{ name: 'c', console: true }, { name: 'd' }], resizeOrder: 'rows-cols' }, { resizeOrder: 'rows-cols' });
    await until(() => drv.portById(0)?.size !== null && drv.portById(0)?.size !== undefined);
    dev.resize('c', 200, 60);
    await until(() => drv.portById(0)!.size?.cols === 200);
    expect(drv.portById(0)!.size).toEqual({ cols: 200, rows: 60 });
    const last = seen.filter((s) => s.event === 'RESIZE').at(-1)!;
    const raw = Buffer.from(last.data!, 'latin1');
    expect([raw.readUInt16LE(0), raw.readUInt16LE(2)]).toEqual([60, 200]);
    expect(() => dev.resize('d', 1, 1)).toThrow(expect.objectContaining({ reason: 'NOT_A_CONSOLE_PORT' }));
    await drv.detach();
  });

  it('single-port mode: resize updates config cols/rows and signals a config change', async () => {
    const { dev, drv } = await boot({ multiport: false }, { size: true });
    expect(drv.flags & 0x04).toBe(0);
    expect(drv.portById(0)!.size).toEqual({ cols: 80, rows: 24 });
    dev.resize(0, 90, 30);
    await until(() => drv.portById(0)!.size?.cols === 90);
    expect(drv.portById(0)!.size).toEqual({ cols: 90, rows: 30 });
    expect(dev.getConfig(0, 4)).toEqual(new Uint8Array([90, 0, 30, 0]));
    await drv.detach();
  });

  it('emergency write: a byte written to emerg_wr reaches port 0 sinks at once', async () => {
    const sink = new SlowSink(Infinity);
    const dev = new ConsoleDevice({ ports: [{ name: 'c', console: true, sinks: [sink] }] });
    dev.setConfig(8, new Uint8Array([0x41, 0, 0, 0]));
    expect(Buffer.concat(sink.chunks).toString()).toBe('A');
    expect(dev.stats().emergencyBytes).toBe(1);
    expect(() => dev.getConfig(10, 4)).toThrow(expect.objectContaining({ reason: 'CONFIG_OUT_OF_RANGE' }));
  });

  it('options are validated', () => {
    expect(() => new ConsoleDevice({ ports: [{ name: 'a b' }] })).toThrow(expect.objectContaining({ reason: 'NAME_NOT_ASCII' }));
    expect(() => new ConsoleDevice({ ports: [{}, {}], multiport: false })).toThrow(expect.objectContaining({ reason: 'BAD_OPTIONS' }));
    expect(() => new ConsoleDevice({ ports: [{ name: 'a' }, { name: 'a' }] })).toThrow(expect.objectContaining({ reason: 'PORT_EXISTS' }));
    expect(() => new ConsoleDevice({ maxPorts: 0 })).toThrow(expect.objectContaining({ reason: 'BAD_OPTIONS' }));
  });

  it('offers up to 511 ports (QEMU\'s max_nr_ports, 1024 queues) and refuses 512 saying why', () => {
    const dev = new ConsoleDevice({ maxPorts: 511 });
    expect(dev.queueCount).toBe(1024);
    expect(decodeConfig(dev.getConfig(0, VIRTIO_CONSOLE_CONFIG_SIZE)).maxNrPorts).toBe(511);
    expect(() => new ConsoleDevice({ maxPorts: 512 })).toThrow(expect.objectContaining({ reason: 'BAD_OPTIONS', message: expect.stringMatching(/maxPorts 512 must be 1\.\.511/) }));
    expect(() => new ConsoleDevice({ ports: Array.from({ length: 512 }, (_, i) => ({ name: `p${i}` })) })).toThrow(expect.objectContaining({ reason: 'BAD_OPTIONS' }));
  });
});

describe('ConsoleDevice bad input', () => {
  it('unknown events, ids out of range, driver-only events and missing ports are logged; the device keeps working', async () => {
    const { dev, drv, logs } = await boot({ ports: [{ name: 'c', console: true }], maxPorts: 2 });
    await until(() => drv.portById(0)?.console === true);
    await drv.ctrlSendControl(0, 42, 1);
    await drv.ctrlSendControl(7, VIRTIO_CONSOLE_PORT_READY, 1);
    await drv.ctrlSendControl(0, VIRTIO_CONSOLE_RESIZE, 0);
    await drv.ctrlSendControl(0, VIRTIO_CONSOLE_DEVICE_ADD, 1);
    await drv.ctrlSendControl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
    await until(() => logs.length >= 5);
    const reasons = logs.map((l) => (l.obj as { reason?: string }).reason);
    expect(reasons).toEqual(['UNKNOWN_EVENT', 'PORT_ID_OUT_OF_RANGE', 'UNKNOWN_EVENT', 'UNKNOWN_EVENT', 'NO_SUCH_PORT']);
    const got: string[] = [];
    dev.on('data', (_p, b) => got.push(Buffer.from(b).toString()));
    await drv.portById(0)!.write('still alive');
    expect(got.join('')).toBe('still alive');
    await drv.detach();
  });

  it('a guest that never opens/posts: host bytes wait in a bounded backlog, then BACKLOG_FULL (nothing dropped silently)', async () => {
    const { dev, drv } = await boot({ ports: [{ name: 'c', console: true }, { name: 'never' }], backlogLimit: 1000 }, { failPortCreate: (id) => id === 1 });
    await until(() => drv.portById(0)?.console === true);
    dev.send('never', new Uint8Array(600));
    expect(() => dev.send('never', new Uint8Array(600))).toThrow(expect.objectContaining({ reason: 'BACKLOG_FULL' }));
    expect(dev.port('never')).toMatchObject({ backlogBytes: 600, refusedSends: 1, guestReady: false });
    await drv.detach();
  });

  it('a flooding guest against a slow sink is held back (backpressure), and nothing is lost', async () => {
    const sink = new SlowSink(4096);
    const { dev, drv } = await boot({ ports: [{ name: 'c', console: true, sinks: [sink] }] }, { txChunk: 512 });
    await until(() => drv.portById(0)?.console === true);
    const data = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
    let done = false;
    const w = drv.portById(0)!.write(data).then(() => { done = true; });
    await until(() => dev.port(0).paused);
    await settle();
    expect(done).toBe(false);
    expect(sink.bytes).toBeLessThan(data.length);
    sink.drain();
    await w;
    expect(Buffer.concat(sink.chunks).equals(Buffer.from(data))).toBe(true);
    expect(dev.port(0).paused).toBe(false);
    await drv.detach();
  });

  it('a broken transmitq (avail idx far ahead) is isolated: queue-error, other ports carry on', async () => {
    const { dev, drv } = await boot({ ports: [{ name: 'c', console: true }, { name: 'bad' }] });
    await until(() => drv.portByName('bad') !== null && drv.portById(0)?.console === true);
    const errs: string[] = [];
    dev.on('queue-error', (e) => errs.push(`${e.index}:${e.error.reason}`));
    const sc = (drv as unknown as { scports: { outvq: { queue: { config?: unknown }; kick(): void } }[] }).scports[1]!;
    // Corrupt port 1's transmitq: publish avail.idx 1000 ahead of what the device consumed.
    const cfg = (drv.handle as Loopback).memory;
    const ring = findAvail(drv);
    new DataView(cfg.view(ring, 4).buffer, cfg.view(ring, 4).byteOffset).setUint16(2, 1000, true);
    sc.outvq.kick();
    await until(() => errs.length === 1);
    expect(errs[0]).toBe('5:QUEUE_BROKEN');
    expect(dev.port('bad').error).toMatch(/AVAIL_IDX_TOO_FAR|QUEUE/);
    const got: string[] = [];
    dev.on('data', (_p, b) => got.push(Buffer.from(b).toString()));
    await drv.portById(0)!.write('ok');
    expect(got.join('')).toBe('ok');
    await drv.detach();
  });
});

/** Loopback lays queues out in index order; recompute queue 5's avail address the same way. */
function findAvail(drv: VtconDriver): number {
  const l = drv.handle as Loopback & { availOf?: (i: number) => number };
  return l.availOf!(5);
}
void featureBit; void VIRTIO_CONSOLE_F_MULTIPORT; void VIRTIO_F_VERSION_1;

/**
 * What QEMU 11.1.3 sends on a live connection when a Linux guest unbinds virtio_console (or
 * reboots), and again when the VM is only paused: SET_VRING_ENABLE 0 + GET_VRING_BASE for every
 * queue, no SET_STATUS 0, no RESET_DEVICE. Here the backend's stopQueue calls, in queue order.
 */
async function stopEveryQueue(dev: ConsoleDevice): Promise<Map<number, number>> {
  const bases = new Map<number, number>();
  for (let i = 0; i < dev.queueCount; i++) bases.set(i, (await dev.stopQueue(i)).lastAvailIdx);
  return bases;
}

describe('ConsoleDevice: every queue stopped on a live connection (guest reset or VM pause)', () => {
  it('a driver that unbinds and binds again: ports reported closed in between, then re-announced, no "second DEVICE_READY"', async () => {
    const { dev, drv, loop, logs } = await boot({ ports: [{ name: 'console', console: true }, { name: 'org.test.0' }], maxPorts: 4 });
    await until(() => drv.portByName('org.test.0') !== null);
    await drv.portByName('org.test.0')!.open();
    await until(() => dev.port(0).guestOpen && dev.port(1).guestOpen);
    const closed: string[] = [];
    dev.on('port-open', (p, open) => { if (!open) closed.push(p.name!); });

    await stopEveryQueue(dev);
    const st = dev.stats();
    expect(st.driverReady).toBe(false);
    expect(st.connected).toBe(true); // same connection: only the driver went
    expect(st.ports.map((p) => [p.name, p.guestReady, p.guestOpen])).toEqual([['console', false, false], ['org.test.0', false, false]]);
    expect(closed.sort()).toEqual(['console', 'org.test.0']);
    // Host→guest bytes while no driver is bound wait in the backlog.
    dev.send('console', 'held');
    expect(dev.port('console').backlogBytes).toBe(4);

    // Rebind: a fresh driver on fresh rings (indices 0), DEVICE_READY again.
    const drv2 = new VtconDriver(loop, {});
    await drv2.attach();
    await until(() => drv2.portByName('org.test.0') !== null && drv2.portByName('console') !== null);
    await until(() => dev.port(0).guestOpen);
    expect(dev.stats().driverReady).toBe(true);
    expect(logs.map((l) => l.msg)).not.toContain('second DEVICE_READY; announcing ports again');
    // The held bytes reach the new driver's console port (device side: taken from the backlog into
    // its rings); guest→host works too.
    await until(() => dev.port('console').bytesOut === 4 && dev.port('console').backlogBytes === 0);
    await drv2.portByName('org.test.0')!.open();
    await drv2.portByName('org.test.0')!.write('after-rebind');
    await until(() => dev.port('org.test.0').bytesIn === 12);
    await drv2.detach();
  });

  it('rings resumed where they stopped (VM paused and continued): the same driver keeps its ports open', async () => {
    const { dev, drv, loop, logs, started } = await boot({ ports: [{ name: 'console', console: true }, { name: 'org.test.0' }], maxPorts: 4 });
    await until(() => drv.portByName('org.test.0') !== null);
    await drv.portByName('org.test.0')!.open();
    await until(() => dev.port(1).guestOpen && dev.port(0).guestOpen);
    const bases = await stopEveryQueue(dev);
    expect(dev.stats().driverReady).toBe(false);
    dev.send('org.test.0', 'while-paused');
    dev.resize('console', 100, 30);
    // Resume as the backend does: SET_VRING_BASE = what GET_VRING_BASE returned, used.idx from guest memory.
    for (const [i, q] of [...started]) {
      const usedIdx = new DataView(loop.memory.view((q.config as QueueConfig).usedAddr + 2, 2).slice().buffer).getUint16(0, true);
      dev.startQueue(i, { ...q, lastAvailIdx: bases.get(i)!, usedIdx });
    }
    expect(dev.stats().driverReady).toBe(true);
    expect(dev.port('org.test.0').guestOpen).toBe(true);
    const got: string[] = [];
    drv.portByName('org.test.0')!.on('data', (b) => got.push(Buffer.from(b).toString('latin1')));
    await until(() => got.join('') === 'while-paused');
    await until(() => drv.portById(0)!.size?.cols === 100);
    expect(logs.map((l) => l.msg)).not.toContain('second DEVICE_READY; announcing ports again');
    await drv.detach();
  });

  it('an explicit reset (RESET_DEVICE / SET_STATUS 0) resets guest-side state at once, host-side state stays', async () => {
    const { dev, drv } = await boot({ ports: [{ name: 'console', console: true }] });
    await until(() => dev.port(0).guestOpen);
    dev.resize('console', 90, 20);
    dev.reset();
    expect(dev.stats()).toMatchObject({ driverReady: false, ports: [{ name: 'console', guestOpen: false, guestReady: false, size: { cols: 90, rows: 20 } }] });
    await drv.detach();
  });
});

