/**
 * Inflight I/O tracking buffer (vhost-user.rst "Inflight I/O tracking", split virtqueue layout):
 *
 *   per queue: QueueRegionSplit { u64 features; u16 version; u16 desc_num; u16 last_batch_head;
 *              u16 used_idx; DescStateSplit desc[desc_num] }   (16-byte header)
 *   DescStateSplit { u8 inflight; u8 padding[5]; u16 next; u64 counter }   (16 bytes)
 *
 * Each queue region is rounded up to 64 bytes so regions never share a cache line. The layout
 * only has to agree with itself: the front-end treats the buffer as opaque and hands it back
 * with SET_INFLIGHT_FD after a back-end restart.
 *
 * Lifecycle (as libvhost-user): GET_INFLIGHT_FD hands out a zeroed buffer (version 0 = "no
 * state yet"); the first start of a queue stamps its region with version 1; every later start
 * of that queue, in this back-end or a restarted one, recovers from it.
 *
 * Thread contract: one InflightQueue per started queue, used by whichever thread drives that
 * queue's DeviceQueue, in the same order as its ring operations (see each method).
 */
import type { DeviceQueue } from '@vtcon/ring';

export const INFLIGHT_REGION_HEADER = 16;
export const INFLIGHT_DESC_STATE = 16;
export const INFLIGHT_VERSION = 1;
const ALIGN = 64;

// Field offsets inside a queue region / a DescStateSplit.
const F_VERSION = 8;
const F_DESC_NUM = 10;
const F_LAST_BATCH_HEAD = 12;
const F_USED_IDX = 14;
const D_INFLIGHT = 0;
const D_NEXT = 6;
const D_COUNTER = 8;

export function inflightQueueRegionSize(queueSize: number): number {
  const raw = INFLIGHT_REGION_HEADER + INFLIGHT_DESC_STATE * queueSize;
  return Math.ceil(raw / ALIGN) * ALIGN;
}

export function inflightBufferSize(numQueues: number, queueSize: number): number {
  return numQueues * inflightQueueRegionSize(queueSize);
}

/** Heads marked inflight in a queue region, ordered by their fetch counter (resubmission order). */
export function inflightHeads(buf: Uint8Array, q: number, queueSize: number): number[] {
  const per = inflightQueueRegionSize(queueSize);
  if ((q + 1) * per > buf.byteLength) return [];
  return new InflightQueue(buf.subarray(q * per, (q + 1) * per), queueSize).heads();
}

/** What a queue start learned from its inflight region. */
export interface InflightRecovery {
  /** true: the region carried state from an earlier start (not a fresh buffer). */
  recovered: boolean;
  /** Heads popped by an earlier back-end and never used, oldest first: process these first. */
  resubmit: number[];
  /** used.idx + resubmit.length: where popping from the avail ring resumes. */
  lastAvailIdx: number;
}

/**
 * One queue's region. The device calls `popped(head)` for each chain it takes from the avail
 * ring, and completes chains through `pushUsed`/`addUsed`+`publishUsed` here instead of on the
 * DeviceQueue directly, so the region is updated in the order the spec requires:
 *   before used.idx moves: desc[head].next = last_batch_head; last_batch_head = head;
 *   after used.idx moves:  desc[i].inflight = 0 for the batch; used_idx = used.idx.
 * A crash anywhere leaves a region that recover() turns back into exactly the unused chains.
 * Cost per chain: a handful of typed-array stores, no allocation.
 */
export class InflightQueue {
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  readonly queueSize: number;
  /** Next fetch counter (u64 in memory; a JS number is exact up to 2^53 pops). */
  private counter = 1;
  /** Heads added since the last publish, for clearing after used.idx moved. */
  private readonly batch: number[] = [];

  /** @param region this queue's slice of the buffer, at least inflightQueueRegionSize(queueSize) bytes, 8-aligned. */
  constructor(region: Uint8Array, queueSize: number) {
    if (region.byteLength < inflightQueueRegionSize(queueSize) || region.byteOffset % 8 !== 0) {
      throw new RangeError(`inflight region of ${region.byteLength} bytes at offset ${region.byteOffset} is too small or misaligned for ${queueSize} descriptors`);
    }
    this.queueSize = queueSize;
    const n = inflightQueueRegionSize(queueSize);
    this.u8 = new Uint8Array(region.buffer, region.byteOffset, n);
    this.u16 = new Uint16Array(region.buffer, region.byteOffset, n / 2);
    this.u32 = new Uint32Array(region.buffer, region.byteOffset, n / 4);
  }

  private desc(head: number): number { return INFLIGHT_REGION_HEADER + head * INFLIGHT_DESC_STATE; }

  /**
   * At queue start. `usedIdx` is the used ring's idx in guest memory. A fresh region (version 0,
   * or another queue size) is stamped and nothing is resubmitted (the caller keeps the
   * SET_VRING_BASE position); otherwise the spec's reconnect steps run: if used_idx lags the used
   * ring, the last batch was published but not cleared, so its entries are cleared; then every
   * entry still inflight is resubmitted in counter order.
   */
  recover(usedIdx: number, setVringBase: number): InflightRecovery {
    const u16 = this.u16;
    if (u16[F_VERSION / 2] !== INFLIGHT_VERSION || u16[F_DESC_NUM / 2] !== this.queueSize) {
      this.u8.fill(0);
      u16[F_VERSION / 2] = INFLIGHT_VERSION;
      u16[F_DESC_NUM / 2] = this.queueSize;
      u16[F_USED_IDX / 2] = usedIdx;
      return { recovered: false, resubmit: [], lastAvailIdx: setVringBase };
    }
    const stale = (usedIdx - u16[F_USED_IDX / 2]!) & 0xffff;
    if (stale !== 0) {
      // Walk the last batch's list (bounded by its size and by the queue size: the region is
      // the front-end's memory, so a loop or a bad index must not hang or throw).
      let head = u16[F_LAST_BATCH_HEAD / 2]!;
      for (let i = 0; i < stale && i < this.queueSize && head < this.queueSize; i++) {
        const d = this.desc(head);
        this.u8[d + D_INFLIGHT] = 0;
        head = u16[(d + D_NEXT) / 2]!;
      }
      u16[F_USED_IDX / 2] = usedIdx;
    }
    const found: { head: number; counter: number }[] = [];
    let max = 0;
    for (let head = 0; head < this.queueSize; head++) {
      const d = this.desc(head);
      if (this.u8[d + D_INFLIGHT] !== 1) continue;
      const c = this.u32[(d + D_COUNTER) / 4]! + this.u32[(d + D_COUNTER) / 4 + 1]! * 0x1_0000_0000;
      found.push({ head, counter: c });
      if (c > max) max = c;
    }
    found.sort((a, b) => a.counter - b.counter);
    this.counter = max + 1;
    const resubmit = found.map((f) => f.head);
    return { recovered: true, resubmit, lastAvailIdx: (usedIdx + resubmit.length) & 0xffff };
  }

  /** Heads marked inflight, oldest first (read-only; tests and diagnostics). */
  heads(): number[] {
    const out: { head: number; counter: number }[] = [];
    for (let head = 0; head < this.queueSize; head++) {
      const d = this.desc(head);
      if (this.u8[d + D_INFLIGHT] === 1) out.push({ head, counter: this.u32[(d + D_COUNTER) / 4]! + this.u32[(d + D_COUNTER) / 4 + 1]! * 0x1_0000_0000 });
    }
    return out.sort((a, b) => a.counter - b.counter).map((e) => e.head);
  }

  /** Right after popping `head` from the avail ring (before acting on it). */
  popped(head: number): void {
    const d = this.desc(head);
    const c = this.counter++;
    this.u32[(d + D_COUNTER) / 4] = c >>> 0;
    this.u32[(d + D_COUNTER) / 4 + 1] = Math.floor(c / 0x1_0000_0000);
    this.u8[d + D_INFLIGHT] = 1;
  }

  /**
   * Give back a chain that was popped but not acted on (the device rewinds lastAvailIdx by one
   * when it stops, so the avail ring hands it out again).
   */
  unpopped(head: number): void { this.u8[this.desc(head) + D_INFLIGHT] = 0; }

  /** dq.addUsed(head, len), linked into the current batch first. */
  addUsed(dq: DeviceQueue, head: number, writtenLen: number): void {
    const d = this.desc(head);
    this.u16[(d + D_NEXT) / 2] = this.u16[F_LAST_BATCH_HEAD / 2]!;
    this.u16[F_LAST_BATCH_HEAD / 2] = head;
    dq.addUsed(head, writtenLen);
    this.batch.push(head);
  }

  /** dq.publishUsed(), then the batch leaves the inflight set and used_idx catches up. */
  publishUsed(dq: DeviceQueue): void {
    dq.publishUsed();
    const batch = this.batch;
    for (let i = 0; i < batch.length; i++) this.u8[this.desc(batch[i]!) + D_INFLIGHT] = 0;
    batch.length = 0;
    this.u16[F_USED_IDX / 2] = dq.usedIdx;
  }

  /** addUsed + publishUsed for one chain. */
  pushUsed(dq: DeviceQueue, head: number, writtenLen: number): void {
    this.addUsed(dq, head, writtenLen);
    this.publishUsed(dq);
  }
}
