/**
 * EchoDevice: a trivial VhostUserDevice for tests, examples and benchmarks. Every chain the
 * driver puts on queue 1 (transmitq) is copied into the next buffer it posted on queue 0
 * (receiveq), in order. Runs on the main thread: kick eventfds are watched with uv_poll.
 *
 * Reconnect rule: a tx chain popped but not yet copied (no rx buffer) is "un-popped" on stop
 * (lastAvailIdx - 1), so a new connection processes it again and nothing acknowledged is lost.
 */
import { DeviceQueue, type DescriptorChain } from '@vtcon/ring';
import * as native from '../native.js';
import type { StartedQueue, VhostUserDevice } from './device.js';

const VIRTIO_F_VERSION_1 = 1n << 32n;
const RX = 0;
const TX = 1;

interface Running { dq: DeviceQueue; q: StartedQueue; watch: { stop(): void } | null }

export class EchoDevice implements VhostUserDevice {
  readonly features: bigint;
  readonly queueCount: number;
  readonly configSize: number;
  readonly config: Uint8Array;
  acked = 0n;
  /** Chains echoed so far (tests). */
  echoed = 0;
  private readonly running = new Map<number, Running>();
  private pendingTx: DescriptorChain | null = null;
  private configChanged: (() => void) | null = null;
  disconnects = 0;

  constructor(opts: { queueCount?: number; features?: bigint; config?: Uint8Array } = {}) {
    this.queueCount = opts.queueCount ?? 2;
    this.features = opts.features ?? VIRTIO_F_VERSION_1;
    this.config = opts.config ?? new Uint8Array(8);
    this.configSize = this.config.byteLength;
  }

  getConfig(offset: number, size: number): Uint8Array { return this.config.slice(offset, offset + size); }
  setConfig(offset: number, data: Uint8Array): void { this.config.set(data, offset); }
  setFeatures(acked: bigint): void { this.acked = acked; }
  attachBackendChannel(ch: { configChanged(): void }): void { this.configChanged = () => ch.configChanged(); }
  /** Test hook: change config and tell the front-end (BACKEND_CONFIG_CHANGE_MSG). */
  bumpConfig(): void { this.config[0] = (this.config[0]! + 1) & 0xff; this.configChanged?.(); }

  startQueue(index: number, q: StartedQueue): void {
    const dq = new DeviceQueue(q.memory, q.config, { lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx });
    const r: Running = { dq, q, watch: null };
    if (q.kickFd >= 0) {
      r.watch = native.watchFd(q.kickFd, 'readable', () => { native.eventfdRead(q.kickFd); this.pump(); });
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
    if (index === TX && this.pendingTx) { last = (last - 1) & 0xffff; this.pendingTx = null; }
    return { lastAvailIdx: last };
  }

  reset(): void { this.pendingTx = null; }
  disconnected(): void { this.pendingTx = null; this.configChanged = null; this.disconnects++; }

  /** Copy tx chains into rx buffers while both are available; signal each side once per batch. */
  private pump(): void {
    const rx = this.running.get(RX);
    const tx = this.running.get(TX);
    if (!rx || !tx) return;
    let usedRx = 0; let usedTx = 0;
    for (let guard = 0; guard < 4096; guard++) {
      const t = this.pendingTx ?? tx.dq.popAvailable();
      if (!t) break;
      // popAvailable returns a scratch object: copy the views we need before the next pop.
      const txChain: DescriptorChain = this.pendingTx ?? { ...t, readable: [...t.readable], writable: [...t.writable] };
      const r = rx.dq.popAvailable();
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
      rx.dq.pushUsed(r.head, w); usedRx++;
      tx.dq.pushUsed(txChain.head, 0); usedTx++;
      this.echoed++;
    }
    if (usedRx > 0 && rx.dq.needsNotification() && rx.q.callFd >= 0) native.eventfdWrite(rx.q.callFd, 1);
    if (usedTx > 0 && tx.dq.needsNotification() && tx.q.callFd >= 0) native.eventfdWrite(tx.q.callFd, 1);
  }
}
