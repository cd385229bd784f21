/**
 * EchoDevice: a trivial VhostUserDevice for tests, examples and benchmarks. Every chain the
 * driver puts on queue 1 (transmitq) is copied into the next buffer it posted on queue 0
 * (receiveq), in order. Runs on the main thread: kick eventfds are watched with uv_poll.
 *
 * Reconnect rules:
 * - With inflight tracking (StartedQueue.inflight): every popped chain is marked, every used
 *   one cleared (InflightQueue), and chains a dead predecessor left unused (StartedQueue.resubmit)
 *   are processed first. Nothing is rewound on stop: the marks are the record.
 * - Without it: a tx chain popped but not yet copied (no rx buffer) is "un-popped" on stop
 *   (lastAvailIdx - 1), so the next connection processes it again.
 *
 * `rxPool: n` makes the device take up to n receive buffers ahead and fill the most recently
 * taken first (LIFO), so receive buffers complete out of order, as they do in devices that hold
 * buffers for later input (a console waiting for host output). Restarting such a device from
 * used.idx alone would repeat some buffers and lose others; it needs inflight tracking.
 */
import { DeviceQueue, type DescriptorChain } from '@vtcon/ring';
import * as native from '../native.js';
import type { InflightQueue } from '../memory/inflight.js';
import { signalCall, type StartedQueue, type VhostUserDevice } from './device.js';

const VIRTIO_F_VERSION_1 = 1n << 32n;
const RX = 0;
const TX = 1;

interface Running {
  dq: DeviceQueue; q: StartedQueue; watch: { stop(): void } | null;
  inflight: InflightQueue | null;
  /** Heads to process before popping (inflight resubmission), oldest first. */
  backlog: number[];
}

export interface EchoDeviceOptions {
  queueCount?: number;
  features?: bigint;
  config?: Uint8Array;
  /** Receive buffers taken ahead and filled last-taken-first (see header). Default 0: in order. */
  rxPool?: number;
  /** Called after each echoed chain, between chains (tests use it to die at a known point). */
  onEcho?: (echoed: number) => void;
}

export class EchoDevice implements VhostUserDevice {
  readonly features: bigint;
  readonly queueCount: number;
  readonly configSize: number;
  readonly config: Uint8Array;
  acked = 0n;
  /** Chains echoed so far (tests). */
  echoed = 0;
  /** Chains taken from an inflight region's resubmit list (tests). */
  resubmitted = 0;
  private readonly running = new Map<number, Running>();
  private pendingTx: DescriptorChain | null = null;
  private readonly rxHeld: DescriptorChain[] = [];
  private readonly rxPool: number;
  private readonly onEcho: ((n: number) => void) | null;
  private configChanged: (() => void) | null = null;
  disconnects = 0;
  /** A malformed ring (guest's fault) stops the device instead of throwing out of a uv_poll callback. */
  broken: Error | null = null;

  constructor(opts: EchoDeviceOptions = {}) {
    this.queueCount = opts.queueCount ?? 2;
    this.features = opts.features ?? VIRTIO_F_VERSION_1;
    this.config = opts.config ?? new Uint8Array(8);
    this.configSize = this.config.byteLength;
    this.rxPool = opts.rxPool ?? 0;
    this.onEcho = opts.onEcho ?? null;
  }

  getConfig(offset: number, size: number): Uint8Array { return this.config.slice(offset, offset + size); }
  setConfig(offset: number, data: Uint8Array): void { this.config.set(data, offset); }
  setFeatures(acked: bigint): void { this.acked = acked; }
  attachBackendChannel(ch: { configChanged(): void }): void { this.configChanged = () => ch.configChanged(); }
  /** Test hook: change config and tell the front-end (BACKEND_CONFIG_CHANGE_MSG). */
  bumpConfig(): void { this.config[0] = (this.config[0]! + 1) & 0xff; this.configChanged?.(); }

  startQueue(index: number, q: StartedQueue): void {
    const dq = new DeviceQueue(q.memory, q.config, { lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx });
    const r: Running = { dq, q, watch: null, inflight: q.inflight ?? null, backlog: [...(q.resubmit ?? [])] };
    if (q.kickFd >= 0) {
      r.watch = native.watchFd(q.kickFd, 'readable', () => { native.eventfdRead(q.kickFd); this.pump(); }, (e) => this.fail(e));
    }
    this.running.set(index, r);
    this.pump();
  }

  stopQueue(index: number): { lastAvailIdx: number } {
    const r = this.running.get(index);
    if (!r) return { lastAvailIdx: 0 };
    r.watch?.stop();
    this.running.delete(index);
    let last = r.dq.lastAvailIdx;
    if (index === TX && this.pendingTx) {
      // With inflight tracking the chain stays marked and comes back as a resubmit.
      if (!r.inflight) last = (last - 1) & 0xffff;
      this.pendingTx = null;
    }
    if (index === RX) this.rxHeld.length = 0; // marked inflight (rxPool needs inflight to restart losslessly)
    return { lastAvailIdx: last };
  }

  reset(): void { this.pendingTx = null; this.rxHeld.length = 0; }
  disconnected(): void { this.pendingTx = null; this.rxHeld.length = 0; this.configChanged = null; this.disconnects++; }

  /** Next chain of a queue: resubmitted heads first, then the avail ring (marked inflight). */
  private next(r: Running): DescriptorChain | null {
    const head = r.backlog.shift();
    if (head !== undefined) { this.resubmitted++; return r.dq.readChain(head); }
    const c = r.dq.popAvailable();
    if (!c) return null;
    r.inflight?.popped(c.head);
    // popAvailable returns a scratch object: copy what we keep past the next pop.
    return { ...c, readable: [...c.readable], writable: [...c.writable] };
  }

  private nextRx(rx: Running): DescriptorChain | null {
    if (this.rxPool === 0) return this.next(rx);
    while (this.rxHeld.length < this.rxPool) {
      const c = this.next(rx);
      if (!c) break;
      this.rxHeld.push(c);
    }
    return this.rxHeld.pop() ?? null;
  }

  private pushUsed(r: Running, head: number, len: number): void {
    if (r.inflight) r.inflight.pushUsed(r.dq, head, len);
    else r.dq.pushUsed(head, len);
  }

  private pump(): void {
    if (this.broken) return;
    try { this.pumpOnce(); } catch (e) { this.fail(e); }
  }

  private fail(e: unknown): void {
    this.broken = e as Error;
    for (const r of this.running.values()) { r.watch?.stop(); r.watch = null; }
  }

  /** Copy tx chains into rx buffers while both are available; signal each side once per batch. */
  private pumpOnce(): void {
    const rx = this.running.get(RX);
    const tx = this.running.get(TX);
    if (!rx || !tx) return;
    let usedRx = 0; let usedTx = 0;
    for (let guard = 0; guard < 4096; guard++) {
      const txChain = this.pendingTx ?? this.next(tx);
      if (!txChain) break;
      const r = this.nextRx(rx);
      if (!r) { this.pendingTx = txChain; break; }
      this.pendingTx = null;
      let w = 0; let wi = 0; let woff = 0;
      for (const src of txChain.readable) {
        let s = 0;
        while (s < src.byteLength && wi < r.writable.length) {
          const dst = r.writable[wi]!;
          const n = Math.min(src.byteLength - s, dst.byteLength - woff);
          dst.set(src.subarray(s, s + n), woff);
          s += n; woff += n; w += n;
          if (woff === dst.byteLength) { wi++; woff = 0; }
        }
      }
      this.pushUsed(rx, r.head, w); usedRx++;
      this.pushUsed(tx, txChain.head, 0); usedTx++;
      this.echoed++;
      this.onEcho?.(this.echoed);
    }
    if (usedRx > 0 && rx.dq.needsNotification()) signalCall(rx.q);
    if (usedTx > 0 && tx.dq.needsNotification()) signalCall(tx.q);
  }
}
