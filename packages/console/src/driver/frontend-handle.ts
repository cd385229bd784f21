/**
 * FrontendHandle: the VirtioHandle of a driver model running over a real vhost-user connection,
 * i.e. @vtcon/transport's VhostUserFrontend (stated structurally here; pass the real one).
 * Queues are set up and enabled in index order, like QEMU; kicks and interrupts are the eventfds.
 * Main thread only.
 */
import type { DriverQueue, GuestMemory, QueueConfig } from '@vtcon/ring';
import type { EventfdOps } from '../device/bind-queue.js';
import type { DriverQueueBinding, VirtioHandle } from './virtio-handle.js';

/** The part of VhostUserFrontend the driver model uses. */
export interface FrontendLike {
  negotiate(o: { features?: bigint; memory: number[] }): Promise<{ features: bigint }>;
  getConfig(offset: number, size: number): Promise<Uint8Array>;
  setupQueue(index: number, size: number, o?: { eventIdx?: boolean }): Promise<{ index: number; driver: DriverQueue; config: QueueConfig; kickFd: number; callFd: number }>;
  enableQueue(index: number, enable?: boolean): Promise<void>;
  alloc(len: number, align?: number): number;
  readonly memory: GuestMemory | null;
  close(): void;
}

export interface FrontendHandleOptions {
  /**
   * Guest RAM region sizes. Default [16 MiB, 8 MiB]: VhostUserFrontend lays the rings out at the
   * top of the LAST region (64 KiB per queue: 66 queues for 32 ports = 4.1 MiB) and hands out
   * buffers from region 0, so with two regions buffers can never run into rings. (memfd pages
   * are only allocated when touched.)
   */
  memory?: number[];
  queueSize?: number;
}

/** One uv_poll per eventfd, fanned out to any number of waiters (a fd may only be polled once). */
export class CallFanout {
  private cbs = new Set<() => void>();
  private watch: { stop(): void } | null = null;
  constructor(private readonly fd: number, private readonly ops: EventfdOps) {}
  add(cb: () => void): { stop(): void } {
    this.cbs.add(cb);
    if (!this.watch) {
      this.watch = this.ops.watchFd(this.fd, 'readable', () => {
        this.ops.eventfdRead(this.fd);
        for (const c of [...this.cbs]) c();
      });
    }
    return { stop: () => { this.cbs.delete(cb); } };
  }
  close(): void { this.watch?.stop(); this.watch = null; this.cbs.clear(); }
}

const PROTOCOL_FEATURES_BIT = 1n << 30n;

export class FrontendHandle implements VirtioHandle {
  deviceFeatures = 0n;
  private front: FrontendLike | null = null;
  private configCb: (() => void) | null = null;
  private fanouts: CallFanout[] = [];
  private readonly memorySizes: number[];
  private readonly queueSize: number;
  private eventIdx = false;

  /**
   * @param connect opens the frontend; it receives the config-change callback to install
   *   (VhostUserFrontend.connect(path, { onConfigChange })).
   */
  constructor(private readonly connect: (onConfigChange: () => void) => FrontendLike, private readonly ops: EventfdOps, opts: FrontendHandleOptions = {}) {
    this.memorySizes = opts.memory ?? [16 << 20, 8 << 20];
    this.queueSize = opts.queueSize ?? 64;
  }

  get memory(): GuestMemory {
    const m = this.front?.memory;
    if (!m) throw new Error('FrontendHandle: not negotiated');
    return m;
  }

  async negotiate(wanted: bigint): Promise<bigint> {
    this.front = this.connect(() => { if (this.configCb) this.configCb(); });
    const r = await this.front.negotiate({ features: wanted | PROTOCOL_FEATURES_BIT, memory: this.memorySizes });
    const acked = r.features & ~PROTOCOL_FEATURES_BIT;
    this.deviceFeatures = acked;
    this.eventIdx = (acked & (1n << 29n)) !== 0n;
    return acked;
  }

  readConfig(offset: number, size: number): Promise<Uint8Array> { return this.f().getConfig(offset, size); }

  async allocQueues(count: number): Promise<DriverQueueBinding[]> {
    const f = this.f();
    const out: DriverQueueBinding[] = [];
    for (let i = 0; i < count; i++) {
      const q = await f.setupQueue(i, this.queueSize, { eventIdx: this.eventIdx });
      const fan = new CallFanout(q.callFd, this.ops);
      this.fanouts.push(fan);
      const kickFd = q.kickFd;
      out.push({ index: i, queue: q.driver, kick: () => this.ops.eventfdWrite(kickFd, 1), watchCall: (cb) => fan.add(cb) });
    }
    for (let i = 0; i < count; i++) await f.enableQueue(i, true);
    return out;
  }

  allocBuffer(len: number): number { return this.f().alloc(len, 16); }
  onConfigChange(cb: () => void): void { this.configCb = cb; }

  async stop(): Promise<void> {
    for (const f of this.fanouts) f.close();
    this.fanouts = [];
    this.front?.close();
    this.front = null;
  }

  private f(): FrontendLike {
    if (!this.front) throw new Error('FrontendHandle: negotiate first');
    return this.front;
  }
}
