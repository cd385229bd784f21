/**
 * Driver-model tests, one per seed branch; each names the seed function (shared/seed/
 * virtio_console.c) it covers. The device side is a ScriptedDevice over the in-process loopback.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Loopback } from './loopback.js';
import { ScriptedDevice } from './scripted-device.js';
import { VtconDriver, VTCON_FLAG_MULTIPORT, VTCON_FLAG_SIZE } from './vtcon-driver.js';
import {
  featureBit, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_DEVICE_READY, VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_SIZE, VIRTIO_CONSOLE_PORT_ADD, VIRTIO_CONSOLE_PORT_NAME, VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY, VIRTIO_CONSOLE_PORT_REMOVE, VIRTIO_CONSOLE_RESIZE, VIRTIO_F_VERSION_1, VTCON_BULK_BUFSZ,
} from '../control/constants.js';
import { encodeResize } from '../control/resize.js';
import { until } from '../test-support/until.js';

const ALL = featureBit(VIRTIO_CONSOLE_F_SIZE) | featureBit(VIRTIO_CONSOLE_F_MULTIPORT) | featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE) | featureBit(VIRTIO_F_VERSION_1);

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 15));

async function setup(o: { features?: bigint; maxNrPorts?: number; driver?: ConstructorParameters<typeof VtconDriver>[1] } = {}) {
  const loop = new Loopback({ queueSize: 16 });
  const maxNr = o.maxNrPorts ?? 4;
  const features = o.features ?? ALL;
  const mp = (features & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n;
  const dev = new ScriptedDevice(features, mp ? 2 + 2 * Math.max(1, Math.min(maxNr, o.driver?.maxPorts ?? 32)) : 2, loop.bindQueue);
  dev.config.maxNrPorts = maxNr;
  loop.connect(dev);
  const logs: string[] = [];
  const drv = new VtconDriver(loop, o.driver);
  drv.on('log', (m) => logs.push(m));
  await drv.attach();
  return { loop, dev, drv, logs };
}
const events = (dev: ScriptedDevice, id: number, event: number) => dev.received.filter((m) => m.id === id && m.event === event);
const ascii = (s: string) => new TextEncoder().encode(s);

describe('VtconDriver (seed model)', () => {
  afterEach(() => { vi.useRealTimers(); });
  it('vtcon_determine_max_ports: min(max_nr_ports, 32), 0 → 1, 1 without multiport', async () => {
    const { drv } = await setup({ maxNrPorts: 100 });
    expect(drv.maxPorts).toBe(32);
    drv.determineMaxPorts(0); expect(drv.maxPorts).toBe(1);
    drv.determineMaxPorts(7); expect(drv.maxPorts).toBe(7);
    const single = await setup({ features: featureBit(VIRTIO_F_VERSION_1) });
    expect(single.drv.maxPorts).toBe(1);
    await drv.detach(); await single.drv.detach();
  });

  it('vtcon_determine_max_ports with a raised cap (a Linux guest): max_nr_ports up to the cap', async () => {
    const { drv } = await setup({ maxNrPorts: 100, driver: { maxPorts: 511 } });
    expect(drv.maxPorts).toBe(100);
    drv.determineMaxPorts(511); expect(drv.maxPorts).toBe(511);
    drv.determineMaxPorts(4096); expect(drv.maxPorts).toBe(511);
    await drv.detach();
  });

  it('vtcon_setup_features: MULTIPORT always, SIZE/EMERG_WRITE only when asked (options the seed lacks)', async () => {
    const plain = await setup();
    expect(plain.dev.acked & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)).not.toBe(0n);
    expect(plain.dev.acked & featureBit(VIRTIO_CONSOLE_F_SIZE)).toBe(0n);
    expect(plain.drv.flags & VTCON_FLAG_MULTIPORT).toBeTruthy();
    expect(plain.drv.flags & VTCON_FLAG_SIZE).toBe(0);
    const opt = await setup({ driver: { size: true, emergWrite: true } });
    expect(opt.dev.acked & featureBit(VIRTIO_CONSOLE_F_SIZE)).not.toBe(0n);
    expect(opt.dev.acked & featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE)).not.toBe(0n);
    expect(opt.drv.flags & VTCON_FLAG_SIZE).toBeTruthy();
    await plain.drv.detach(); await opt.drv.detach();
  });

  it('vtcon_alloc_virtqueues: port 0 at 0/1, control at 2/3, port N at 2N+2/2N+3', async () => {
    const { drv, dev } = await setup({ maxNrPorts: 3 });
    const sc = (drv as unknown as { scports: { invq: { index: number }; outvq: { index: number } }[] }).scports;
    expect(sc.map((s) => [s.invq.index, s.outvq.index])).toEqual([[0, 1], [4, 5], [6, 7]]);
    expect(dev.queueCount).toBe(8);
    await drv.detach();
  });

  it('vtcon_attach: ends by sending DEVICE_READY(BAD_ID, 1); vtcon_ctrl_event_populate fills the control receiveq', async () => {
    const { drv, dev } = await setup();
    expect(dev.received.at(-1)).toMatchObject({ id: VIRTIO_CONSOLE_BAD_ID, event: VIRTIO_CONSOLE_DEVICE_READY, value: 1 });
    expect(dev.availableOn(2)).toBe(16);
    await drv.detach();
  });

  it('vtcon_ctrl_port_add_event: creates the port, posts 128-byte buffers (vtcon_port_populate), answers PORT_READY(1)', async () => {
    const { drv, dev } = await setup();
    dev.inject(1, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => events(dev, 1, VIRTIO_CONSOLE_PORT_READY).length === 1);
    expect(events(dev, 1, VIRTIO_CONSOLE_PORT_READY)[0]!.value).toBe(1);
    expect(drv.portById(1)).not.toBeNull();
    expect(dev.availableOn(4)).toBe(16);
    await drv.detach();
  });

  it('vtcon_ctrl_port_add_event: a duplicate add is logged and ignored', async () => {
    const { drv, dev, logs } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => logs.some((l) => l.includes('already exists')));
    await settle();
    expect(events(dev, 0, VIRTIO_CONSOLE_PORT_READY)).toHaveLength(1);
    await drv.detach();
  });

  it('vtcon_ctrl_port_add_event: vtcon_port_create failure answers PORT_READY(0)', async () => {
    const { drv, dev } = await setup({ driver: { failPortCreate: (id) => id === 2 } });
    dev.inject(2, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => events(dev, 2, VIRTIO_CONSOLE_PORT_READY).length === 1);
    expect(events(dev, 2, VIRTIO_CONSOLE_PORT_READY)[0]!.value).toBe(0);
    expect(drv.portById(2)).toBeNull();
    await drv.detach();
  });

  it('vtcon_ctrl_process_event: ids ≥ max ports are rejected and logged', async () => {
    const { drv, dev, logs } = await setup({ maxNrPorts: 2 });
    dev.inject(2, VIRTIO_CONSOLE_PORT_ADD, 1);
    dev.inject(0xfffffffe, VIRTIO_CONSOLE_PORT_NAME, 1, ascii('x'));
    await until(() => logs.filter((l) => l.includes('invalid port ID')).length === 2);
    expect(drv.ports).toHaveLength(0);
    await drv.detach();
  });

  it('vtcon_ctrl_process_event: unknown events are ignored; vtcon_ctrl_task_cb requeues the buffer', async () => {
    const { drv, dev } = await setup();
    dev.inject(0, 99, 1);
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    await settle();
    expect(dev.availableOn(2)).toBe(16);
    await drv.detach();
  });

  it('vtcon_ctrl_port_remove_event: tears the port down (GONE); a missing port is logged', async () => {
    const { drv, dev, logs } = await setup();
    dev.inject(1, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(1) !== null);
    const port = drv.portById(1)!;
    dev.inject(1, VIRTIO_CONSOLE_PORT_REMOVE, 0);
    await until(() => port.gone);
    expect(drv.portById(1)).toBeNull();
    await expect(port.open()).rejects.toMatchObject({ reason: 'NO_SUCH_PORT' });
    dev.inject(1, VIRTIO_CONSOLE_PORT_REMOVE, 0);
    await until(() => logs.some((l) => l.includes('remove port 1, but does not exist')));
    await drv.detach();
  });

  it('vtcon_ctrl_port_console_event: marks the console and answers PORT_OPEN(1); a missing port is logged', async () => {
    const { drv, dev, logs } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    dev.inject(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
    await until(() => events(dev, 0, VIRTIO_CONSOLE_PORT_OPEN).length === 1);
    expect(drv.portById(0)!.console).toBe(true);
    expect(events(dev, 0, VIRTIO_CONSOLE_PORT_OPEN)[0]!.value).toBe(1);
    dev.inject(3, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
    await until(() => logs.some((l) => l.includes('console port 3, but does not exist')));
    await drv.detach();
  });

  it('vtcon_ctrl_port_open_event: records the host side open; a missing port is logged', async () => {
    const { drv, dev, logs } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    dev.inject(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    await until(() => drv.portById(0)!.hostOpen);
    dev.inject(2, VIRTIO_CONSOLE_PORT_OPEN, 1);
    await until(() => logs.some((l) => l.includes('open port 2, but does not exist')));
    await drv.detach();
  });

  it('vtcon_ctrl_port_name_event: trailing NUL trimmed, set once (ALIAS), empty ignored, missing port logged', async () => {
    const { drv, dev, logs } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    dev.inject(0, VIRTIO_CONSOLE_PORT_NAME, 1, new Uint8Array([0]));
    dev.inject(0, VIRTIO_CONSOLE_PORT_NAME, 1, ascii('org.qemu.guest_agent.0\0'));
    await until(() => drv.portById(0)!.name !== null);
    expect(drv.portById(0)!.name).toBe('org.qemu.guest_agent.0');
    dev.inject(0, VIRTIO_CONSOLE_PORT_NAME, 1, ascii('second'));
    dev.inject(1, VIRTIO_CONSOLE_PORT_NAME, 1, ascii('nobody'));
    await until(() => logs.some((l) => l.includes('name port 1, but does not exist')));
    expect(drv.portById(0)!.name).toBe('org.qemu.guest_agent.0');
    await drv.detach();
  });

  it('vtcon_port_dev_alias: non-ASCII names are refused', async () => {
    const { drv, dev } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    dev.inject(0, VIRTIO_CONSOLE_PORT_NAME, 1, new Uint8Array([0x63, 0x61, 0x66, 0xc3, 0xa9]));
    dev.inject(0, VIRTIO_CONSOLE_PORT_NAME, 1, ascii('ok'));
    await until(() => drv.portById(0)!.name !== null);
    expect(drv.portById(0)!.name).toBe('ok');
    await drv.detach();
  });

  it('vtcon_port_in: bytes reach the tty, buffers are requeued', async () => {
    const { drv, dev } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    const got: Uint8Array[] = [];
    drv.portById(0)!.on('data', (b) => got.push(b));
    const payload = new Uint8Array(1000).map((_, i) => i & 0xff);
    dev.send(0, payload);
    await until(() => got.reduce((n, b) => n + b.length, 0) === 1000);
    expect(Buffer.concat(got).equals(Buffer.from(payload))).toBe(true);
    expect(got.every((b) => b.length <= VTCON_BULK_BUFSZ)).toBe(true);
    await until(() => dev.availableOn(0) === 16);
    await drv.detach();
  });

  it('vtcon_port_out / vtcon_tty_outwakeup: writes go out in 128-byte chains, one at a time', async () => {
    const { drv, dev } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    await drv.portById(0)!.write(new Uint8Array(300).fill(7));
    expect(dev.portChains.get(0)).toBe(3);
    expect(Buffer.concat(dev.portBytes.get(0)!).length).toBe(300);
    await drv.detach();
  });

  it('vtcon_port_out: waits on the call eventfd (vtcon_vq_intr), no timer poll; an unsignalled used entry is found only at the pollTimeoutMs bound', async () => {
    const { drv, dev } = await setup({ driver: { pollTimeoutMs: 500 } });
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    await drv.portById(0)!.write('signalled'); // the call eventfd wakes the writer
    dev.silentCalls.add(1);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let done = false;
    const w = drv.portById(0)!.write('x').then(() => { done = true; });
    const turns = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r)); };
    await turns();
    expect(dev.portChains.get(0)).toBe(2); // the device used the chain but did not signal
    vi.advanceTimersByTime(50); // a 1 ms safety poll would have found it by now
    await turns();
    expect(done).toBe(false);
    vi.advanceTimersByTime(500);
    await w;
    expect(done).toBe(true);
    await drv.detach();
  });

  it('vtcon_detach: a writer sleeping on the call eventfd is woken at once (no timer needed)', async () => {
    const { drv, dev } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    dev.silentCalls.add(1);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const w = drv.portById(0)!.write('x');
    await new Promise<void>((r) => setImmediate(r));
    await drv.detach();
    await w; // resolves without advancing the fake clock
    expect(drv.portById(0)).toBeNull();
  });

  it('vtcon_tty_open / vtcon_tty_close: PORT_OPEN(1) / PORT_OPEN(0)', async () => {
    const { drv, dev } = await setup();
    dev.inject(1, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(1) !== null);
    await drv.portById(1)!.open();
    await drv.portById(1)!.close();
    expect(events(dev, 1, VIRTIO_CONSOLE_PORT_OPEN).map((m) => m.value)).toEqual([1, 0]);
    await drv.detach();
  });

  it('RESIZE: the seed ignores it; the model records it on console ports only (extension)', async () => {
    const { drv, dev } = await setup({ driver: { resizeOrder: 'cols-rows' } });
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    dev.inject(1, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.ports.length === 2);
    dev.inject(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
    dev.inject(0, VIRTIO_CONSOLE_RESIZE, 0, encodeResize({ cols: 132, rows: 43 }));
    dev.inject(1, VIRTIO_CONSOLE_RESIZE, 0, encodeResize({ cols: 10, rows: 10 }));
    await until(() => drv.portById(0)!.size !== null);
    await settle();
    expect(drv.portById(0)!.size).toEqual({ cols: 132, rows: 43 });
    expect(drv.portById(1)!.size).toBeNull();
    await drv.detach();
  });

  it('single port (no MULTIPORT): port 0 created at attach, vtcon_ctrl_send_control sends nothing, vtcon_config_change reads the size', async () => {
    const { drv, dev, loop } = await setup({ features: featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_CONSOLE_F_SIZE), driver: { size: true } });
    expect(drv.portById(0)).not.toBeNull();
    expect(drv.portById(0)!.size).toEqual({ cols: 80, rows: 25 });
    expect(dev.received).toHaveLength(0);
    dev.config.cols = 100; dev.config.rows = 30;
    await drv.configChange();
    expect(drv.portById(0)!.size).toEqual({ cols: 100, rows: 30 });
    void loop;
    await drv.detach();
  });

  it('vtcon_detach: ports torn down, later control events are not processed', async () => {
    const { drv, dev } = await setup();
    dev.inject(0, VIRTIO_CONSOLE_PORT_ADD, 1);
    await until(() => drv.portById(0) !== null);
    const port = drv.portById(0)!;
    await drv.detach();
    expect(port.gone).toBe(true);
    dev.inject(1, VIRTIO_CONSOLE_PORT_ADD, 1);
    await settle();
    expect(drv.ports).toHaveLength(0);
  });
});
