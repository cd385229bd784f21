/**
 * In-process loopback between the driver model and a ConsoleDevice: both halves share one
 * SharedArrayBuffer "guest memory"; kicks and interrupts are delivered with setImmediate (never
 * re-entrantly, like eventfds). For unit tests and examples; the real path is frontend-handle.ts.
 */
import { DeviceQueue, DriverQueue, GuestMemory, layOutQueue, splitQueueLayout } from '@vtcon/ring';
import type { QueueBinding } from '../port/queue.js';
import type { StartedQueueLike, VhostUserDeviceLike } from '../device/vhost-device.js';
import type { DriverQueueBinding, VirtioHandle } from './virtio-handle.js';
import { type EventfdOps, makeBindQueue } from '../device/bind-queue.js';
import { CallFanout } from './frontend-handle.js';

/** Real eventfds for the loopback, so a worker thread can service its queues. */
export interface LoopbackEventfds extends EventfdOps { eventfdCreate(): number; close(fd: number): void }

const GPA_BASE = 0x10000;

class Signal {
  private cbs = new Set<() => void>();
  private pending = false;
  fire(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => { this.pending = false; for (const cb of [...this.cbs]) cb(); });
  }
  watch(cb: () => void): { stop(): void } {
    this.cbs.add(cb);
    return { stop: () => { this.cbs.delete(cb); } };
  }
}

export interface LoopbackOptions {
  memoryBytes?: number; queueSize?: number; eventIdx?: boolean; indirect?: boolean;
  /** Use real eventfds for kicks and interrupts (needed when a worker services queues). */
  eventfds?: LoopbackEventfds;
}

export class Loopback implements VirtioHandle {
  readonly memory: GuestMemory;
  private next: number;
  private readonly end: number;
  private device: VhostUserDeviceLike | null = null;
  private readonly kicks = new Map<number, Signal>();
  private readonly calls = new Map<number, Signal>();
  private configCb: (() => void) | null = null;
  private acked = 0n;
  private started: number[] = [];
  private readonly availAddrs = new Map<number, number>();

  /** Guest-physical avail ring address of queue i (tests corrupt rings through it). */
  availOf(i: number): number {
    const a = this.availAddrs.get(i);
    if (a === undefined) throw new Error(`no queue ${i}`);
    return a;
  }
  readonly queueSize: number;

  constructor(private readonly opts: LoopbackOptions = {}) {
    const bytes = opts.memoryBytes ?? 4 << 20;
    this.memory = new GuestMemory([{ guestPhysAddr: GPA_BASE, size: bytes, buffer: new SharedArrayBuffer(bytes) }]);
    this.next = GPA_BASE;
    this.end = GPA_BASE + bytes;
    this.queueSize = opts.queueSize ?? 64;
  }

  /** The device's bindQueue: DeviceQueue over the shared memory, kicks/calls via Signals. */
  private fds: number[] = [];
  private fanouts: CallFanout[] = [];

  readonly bindQueue = (index: number, q: StartedQueueLike): QueueBinding => this.opts.eventfds ? makeBindQueue(this.opts.eventfds)(index, q) : ({
    index,
    queue: new DeviceQueue(q.memory as GuestMemory, q.config as never, { lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx }),
    notify: () => this.sig(this.calls, index).fire(),
    watchKick: (cb) => this.sig(this.kicks, index).watch(cb),
  });

  connect(device: VhostUserDeviceLike): this {
    this.device = device;
    device.attachBackendChannel?.({ configChanged: () => { if (this.configCb) setImmediate(this.configCb); } });
    return this;
  }

  get deviceFeatures(): bigint { return this.dev().features; }

  async negotiate(wanted: bigint): Promise<bigint> {
    this.acked = wanted & this.dev().features;
    this.dev().setFeatures(this.acked);
    return this.acked;
  }

  async readConfig(offset: number, size: number): Promise<Uint8Array> { return this.dev().getConfig(offset, size); }

  allocBuffer(len: number): number {
    const addr = Math.ceil(this.next / 16) * 16;
    if (addr + len > this.end) throw new Error(`loopback guest memory exhausted (${len} bytes)`);
    this.next = addr + len;
    return addr;
  }

  async allocQueues(count: number): Promise<DriverQueueBinding[]> {
    const out: DriverQueueBinding[] = [];
    const eventIdx = this.opts.eventIdx ?? (this.acked & (1n << 29n)) !== 0n;
    const indirect = this.opts.indirect ?? false;
    for (let index = 0; index < count; index++) {
      const size = this.queueSize;
      const base = this.allocBuffer(splitQueueLayout(size).totalBytes + 64);
      const addrs = layOutQueue(this.memory, Math.ceil(base / 64) * 64, size);
      const config = { ...addrs, size, eventIdx, indirect };
      this.availAddrs.set(index, addrs.availAddr);
      const indirectArea = indirect ? { addr: this.allocBuffer(size * 8 * 16), bytes: size * 8 * 16 } : undefined;
      const queue = new DriverQueue(this.memory, indirectArea ? { ...config, indirectArea } : config);
      let kickFd = -1;
      let callFd = -1;
      const ev = this.opts.eventfds;
      if (ev) {
        kickFd = ev.eventfdCreate(); callFd = ev.eventfdCreate();
        this.fds.push(kickFd, callFd);
        const fan = new CallFanout(callFd, ev);
        this.fanouts.push(fan);
        const k = kickFd;
        out.push({ index, queue, kick: () => ev.eventfdWrite(k, 1), watchCall: (cb) => fan.add(cb) });
      } else {
        const kick = this.sig(this.kicks, index);
        out.push({ index, queue, kick: () => kick.fire(), watchCall: (cb) => this.sig(this.calls, index).watch(cb) });
      }
      this.dev().startQueue(index, { index, memory: this.memory, config, lastAvailIdx: 0, usedIdx: 0, kickFd, callFd, regionFds: [] });
      this.started.push(index);
    }
    return out;
  }

  onConfigChange(cb: () => void): void { this.configCb = cb; }

  async stop(): Promise<void> {
    const d = this.device;
    if (!d) return;
    for (const i of this.started) await d.stopQueue(i);
    this.started = [];
    d.disconnected();
    for (const f of this.fanouts) f.close();
    this.fanouts = [];
    for (const fd of this.fds.splice(0)) this.opts.eventfds?.close(fd);
  }

  private dev(): VhostUserDeviceLike {
    if (!this.device) throw new Error('Loopback: connect(device) first');
    return this.device;
  }

  private sig(m: Map<number, Signal>, i: number): Signal {
    let s = m.get(i);
    if (!s) { s = new Signal(); m.set(i, s); }
    return s;
  }
}
