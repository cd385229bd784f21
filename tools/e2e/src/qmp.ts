// A minimal QMP client (QEMU Machine Protocol: JSON over a Unix socket) and the boot path that
// needs it: a vhost-user console device whose chardev has reconnect-ms.
//
// Why: QEMU 11's vhost-user-base (hw/virtio/vhost-user-base.c) realizes the device without
// waiting for its chardev, and a socket chardev with reconnect-ms connects asynchronously, so
// `-chardev socket,...,reconnect-ms=N -device vhost-user-test-device-pci,...` on the command line
// always fails at start-up ("Failed to set msg fds", the first GET_FEATURES cannot be sent).
// Instead QEMU starts paused (-S) with the chardev and a PCIe root port; once the chardev has
// connected, QMP device_add puts the device behind the root port and `cont` starts the guest,
// which then finds the device at boot like a cold-plugged one.
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { consoleQueueCount, CONSOLE_CONFIG_SIZE } from './qemu-args.js';
import type { BootOptions, Guest } from './qemu.js';

export class QmpClient {
  private buf = '';
  private readonly waiting: ((msg: Record<string, unknown>) => void)[] = [];

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ('event' in msg) continue; // asynchronous events are not replies
        this.waiting.shift()?.(msg);
      }
    });
  }

  /** Connects (waiting up to timeoutMs for QEMU to create the socket) and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs = 20_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = existsSync(path)
        ? await new Promise<Socket | null>((resolve) => {
          const c = connect(path);
          c.once('connect', () => resolve(c));
          c.once('error', () => resolve(null));
        })
        : null;
      if (s) {
        const q = new QmpClient(s);
        await q.next(); // greeting
        await q.execute('qmp_capabilities');
        return q;
      }
      if (Date.now() > deadline) throw new Error(`QMP socket ${path} not reachable within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Runs a command; rejects with QEMU's error description. */
  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = this.next();
    this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    const msg = await reply;
    if ('error' in msg) throw new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`);
    return msg.return;
  }

  close(): void {
    this.sock.destroy();
  }
}

export interface ReconnectingDevice {
  socketPath: string;
  numPorts: number;
  reconnectMs: number;
}

/**
 * Boots a guest whose vhost-user console chardev reconnects (for backend restarts). `dir` holds
 * the QMP socket. The backend must listen (the chardev connects in the background; device_add is
 * retried until it is connected).
 */
export async function bootReconnecting(
  boot: (opts: BootOptions) => Guest,
  dir: string,
  dev: ReconnectingDevice,
  opts: Omit<BootOptions, 'socketPath' | 'numPorts' | 'reconnectMs' | 'extraArgs'>,
): Promise<Guest> {
  if (/,/.test(dev.socketPath)) throw new RangeError('socketPath must not contain ","');
  const qmpPath = join(dir, `qmp-${Date.now()}-${Math.floor(Math.random() * 1e6)}.sock`);
  const g = boot({
    ...opts,
    extraArgs: [
      '-S',
      '-qmp', `unix:${qmpPath},server=on,wait=off`,
      '-chardev', `socket,id=vu,path=${dev.socketPath},reconnect-ms=${dev.reconnectMs}`,
      '-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1',
    ],
  });
  const qmp = await QmpClient.connect(qmpPath);
  try {
    const device = {
      driver: 'vhost-user-test-device-pci', id: 'vcon', bus: 'rp1', chardev: 'vu',
      'virtio-id': 3, num_vqs: consoleQueueCount(dev.numPorts), config_size: CONSOLE_CONFIG_SIZE,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await qmp.execute('device_add', device);
        break;
      } catch (err) {
        // not connected yet: the first vhost-user message could not be sent
        if (attempt >= 100 || !g.running) throw err;
        await sleep(100);
      }
    }
    await qmp.execute('cont');
  } finally {
    qmp.close();
  }
  return g;
}
