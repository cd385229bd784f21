/**
 * ScriptedDevice: a hand-driven virtio-console device for driver-model tests. It records every
 * control message the driver sends and lets a test inject arbitrary (also malformed) control
 * messages, which a well-behaved ConsoleDevice never would.
 */
import type { QueueBinding } from '../port/queue.js';
import type { StartedQueueLike, VhostUserDeviceLike } from '../device/vhost-device.js';
import { decodeControl, encodeControl, type ControlMessage } from '../control/message.js';
import { encodeConfig } from '../device/config.js';
import { drainTransmitq } from '../port/transmit.js';
import { fillReceiveq } from '../port/receive.js';
import { Backlog } from '../port/backlog.js';
import { CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, roleOf } from '../device/queue-map.js';

export class ScriptedDevice implements VhostUserDeviceLike {
  readonly configSize = 12;
  config = { cols: 80, rows: 25, maxNrPorts: 4, emergWr: 0 };
  acked = 0n;
  readonly received: ControlMessage[] = [];
  readonly portBytes = new Map<number, Uint8Array[]>();
  readonly portChains = new Map<number, number>();
  private readonly queues = new Map<number, QueueBinding>();
  private readonly pending = new Map<number, Backlog>();
  private ctrlOut: Uint8Array[] = [];
  /** Port transmitq indexes whose used buffers are published without a call (a lost interrupt). */
  readonly silentCalls = new Set<number>();

  constructor(readonly features: bigint, readonly queueCount: number, private readonly bind: (i: number, q: StartedQueueLike) => QueueBinding) {}

  getConfig(offset: number, size: number): Uint8Array { return encodeConfig(this.config).slice(offset, offset + size); }
  setFeatures(acked: bigint): void { this.acked = acked; }
  startQueue(index: number, q: StartedQueueLike): void {
    const b = this.bind(index, q);
    this.queues.set(index, b);
    b.watchKick(() => this.service(index), (e) => { throw e; }); // a test device: fail loudly
  }
  stopQueue(index: number): { lastAvailIdx: number } { return { lastAvailIdx: this.queues.get(index)?.queue.lastAvailIdx ?? 0 }; }
  disconnected(): void {}

  /** Send a raw control buffer (header + payload) to the driver. */
  inject(id: number, event: number, value: number, payload?: Uint8Array): void {
    this.ctrlOut.push(encodeControl(id, event, value, payload));
    this.service(CONTROL_RECEIVEQ);
  }
  injectRaw(bytes: Uint8Array): void { this.ctrlOut.push(bytes); this.service(CONTROL_RECEIVEQ); }

  /** host→guest bytes on a port. */
  send(port: number, bytes: Uint8Array): void {
    let b = this.pending.get(port);
    if (!b) { b = new Backlog(1 << 24); this.pending.set(port, b); }
    b.push(bytes);
    this.service(port === 0 ? 0 : 2 * port + 2);
  }

  availableOn(index: number): number {
    const b = this.queues.get(index);
    if (!b) return 0;
    const q = b.queue as unknown as { availableCount(): number };
    return q.availableCount();
  }

  private service(index: number): void {
    const b = this.queues.get(index);
    if (!b) return;
    if (index === CONTROL_TRANSMITQ) {
      const t = drainTransmitq(b.queue, () => b.notify());
      if (t.error !== null) throw t.error;
      for (let off = 0; off + 8 <= t.bytes.length; off += 8) this.received.push(decodeControl(t.bytes.subarray(off, off + 8)));
      return;
    }
    if (index === CONTROL_RECEIVEQ) {
      while (this.ctrlOut.length > 0) {
        const msg = this.ctrlOut[0]!;
        const r = fillReceiveq(b.queue, { get bytes() { return msg.length; }, takeInto: (d) => { d.set(msg.subarray(0, d.length)); return Math.min(d.length, msg.length); } }, () => b.notify(), 1);
        if (r.chains === 0) return;
        this.ctrlOut.shift();
      }
      return;
    }
    const role = roleOf(index);
    if (role.kind !== 'port') return;
    if (role.dir === 'transmitq') {
      const t = drainTransmitq(b.queue, () => { if (!this.silentCalls.has(index)) b.notify(); });
      if (t.chains > 0) {
        const list = this.portBytes.get(role.port) ?? [];
        list.push(t.bytes);
        this.portBytes.set(role.port, list);
        this.portChains.set(role.port, (this.portChains.get(role.port) ?? 0) + t.chains);
      }
      if (t.error !== null) throw t.error;
    } else {
      const src = this.pending.get(role.port);
      if (src) fillReceiveq(b.queue, src, () => b.notify());
    }
  }
}
