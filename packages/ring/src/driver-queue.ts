/**
 * DriverQueue: the driver (guest) half of a split virtqueue, virtio 1.2
 * section 2.7, modelled on Linux virtio_ring.c's split functions. vtcon uses
 * it for simulated guests, the vhost-user frontend and benchmarks.
 *
 * Caller contract: one thread at a time; addChain/kickPrepare/getUsed/
 * enable/disableCallbacks must not run concurrently with each other.
 *
 * Memory ordering (mirror of device-queue.ts; all Atomics are SeqCst):
 * - addChain writes descriptors and avail.ring[] with plain stores;
 *   kickPrepare publishes them all with one Atomics.store of avail.idx, so a
 *   device that loads that idx sees them (batching the publish is what makes
 *   large batches cheap).
 * - kickPrepare then Atomics.loads avail_event / used.flags. SeqCst orders
 *   that load after the idx store, so either the device sees the new idx when
 *   it re-checks after enabling notifications, or we see its request to be
 *   notified: a kick is never lost.
 * - getUsed reads used.ring[] only after Atomics.load of used.idx.
 *   enableCallbacks stores used_event / avail.flags, then loads used.idx,
 *   returning "more pending" if entries raced in (seed: virtqueue_enable_intr).
 * The device is not trusted either: used ids and used.idx are checked.
 */
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY, vringNeedEvent } from './descriptor.js';
import { VirtqueueError } from './errors.js';
import type { GuestMemory } from './guest-memory.js';
import { VIRTQ_DESC_SIZE, type QueueConfig } from './layout.js';
import { AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, ringViews, USED_FLAGS, USED_IDX } from './ring-views.js';

export interface BufferSegment {
  /** Guest-physical address. */
  addr: number;
  len: number;
}

export interface IndirectArea {
  /** Guest-physical address of memory reserved for indirect tables. */
  addr: number;
  bytes: number;
}

export interface UsedBuffer {
  token: unknown;
  /** Bytes the device wrote into the chain's writable part. */
  len: number;
}

/** Sentinel returned by DriverQueue.getUsedToken() when no used entry is pending. */
export const NO_USED: unique symbol = Symbol('NO_USED');

const TWO_POW_32 = 0x1_0000_0000;

export class DriverQueue {
  readonly size: number;
  readonly eventIdx: boolean;
  readonly #mask: number;
  readonly #descU32: Uint32Array;
  readonly #descU16: Uint16Array;
  readonly #availU16: Uint16Array;
  readonly #usedU16: Uint16Array;
  readonly #usedElemU32: Uint32Array;
  readonly #usedEventIdx: number;
  readonly #availEventIdx: number;

  /** Shadow of desc.next for free descriptors (the device must not steer our free list). */
  readonly #nextFree: Uint16Array;
  /** Per head: descriptors the chain occupies in the table (0 = not outstanding). */
  readonly #chainDescs: Uint16Array;
  readonly #tokens: unknown[];
  #freeHead = 0;
  #numFree: number;

  /** Indirect tables: one fixed slot of `#slotDescs` entries per head. */
  readonly #indirectDv: DataView | null = null;
  readonly #indirectBase: number = 0;
  readonly #indirectAddr: number = 0;
  readonly #slotDescs: number = 0;

  #availIdx = 0;
  #publishedAvailIdx = 0;
  #lastUsedIdx = 0;
  #usedIdxCache = 0;
  #availFlags = 0;
  #broken: VirtqueueError | null = null;

  constructor(memory: GuestMemory, config: QueueConfig & { indirectArea?: IndirectArea }) {
    const v = ringViews(memory, config);
    const size = config.size;
    this.size = size;
    this.eventIdx = config.eventIdx;
    this.#mask = size - 1;
    this.#descU32 = v.descU32;
    this.#descU16 = v.descU16;
    this.#availU16 = v.availU16;
    this.#usedU16 = v.usedU16;
    this.#usedElemU32 = v.usedElemU32;
    this.#usedEventIdx = AVAIL_RING + size;
    this.#availEventIdx = 2 + 4 * size;
    this.#nextFree = new Uint16Array(size);
    for (let i = 0; i < size; i++) this.#nextFree[i] = i + 1;
    this.#chainDescs = new Uint16Array(size);
    this.#tokens = new Array<unknown>(size).fill(undefined);
    this.#numFree = size;
    const area = config.indirectArea;
    if (config.indirect && area !== undefined) {
      const slotDescs = Math.floor(area.bytes / size / VIRTQ_DESC_SIZE);
      if (slotDescs >= 2) {
        const r = memory.findRegion(area.addr, area.bytes);
        if (r === null) throw new VirtqueueError('ADDR_OUT_OF_RANGE', `indirect area 0x${area.addr.toString(16)} +${area.bytes} is not inside one region`);
        this.#indirectDv = r.data;
        this.#indirectBase = area.addr - r.guestPhysAddr;
        this.#indirectAddr = area.addr;
        this.#slotDescs = slotDescs;
      }
    }
  }

  get numFree(): number {
    return this.#numFree;
  }
  get broken(): VirtqueueError | null {
    return this.#broken;
  }

  #writeDesc(i: number, addr: number, len: number, flags: number, next: number): void {
    const w = i << 2;
    this.#descU32[w] = addr >>> 0;
    // Addresses below 4 GiB are the common case: skip the float division.
    this.#descU32[w + 1] = addr < TWO_POW_32 ? 0 : Math.floor(addr / TWO_POW_32);
    this.#descU32[w + 2] = len;
    const h = i << 3;
    this.#descU16[h + 6] = flags;
    this.#descU16[h + 7] = next;
  }

  /**
   * Add a chain: `readable` segments (device reads) then `writable` ones
   * (device writes). Not visible to the device until kickPrepare().
   * Uses an indirect table when negotiated, an indirect area was given and
   * the chain has more than one segment.
   * @returns the head index, or null if the ring has no room.
   */
  addChain(readable: readonly BufferSegment[], writable: readonly BufferSegment[], token: unknown): number | null {
    if (this.#broken !== null) throw this.#broken;
    const n = readable.length + writable.length;
    if (n === 0) throw new VirtqueueError('INVALID_ARGUMENT', 'a chain needs at least one segment');
    if (this.#numFree === 0) return null;
    const head = this.#freeHead;
    if (n > 1 && n <= this.#slotDescs) {
      const dv = this.#indirectDv!;
      const base = this.#indirectBase + head * this.#slotDescs * VIRTQ_DESC_SIZE;
      for (let k = 0; k < n; k++) {
        const w = k >= readable.length;
        const seg = w ? writable[k - readable.length]! : readable[k]!;
        const o = base + k * VIRTQ_DESC_SIZE;
        dv.setUint32(o, seg.addr >>> 0, true);
        dv.setUint32(o + 4, Math.floor(seg.addr / TWO_POW_32), true);
        dv.setUint32(o + 8, seg.len, true);
        dv.setUint16(o + 12, (w ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0), true);
        dv.setUint16(o + 14, k + 1 < n ? k + 1 : 0, true);
      }
      this.#writeDesc(head, this.#indirectAddr + head * this.#slotDescs * VIRTQ_DESC_SIZE, n * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT, this.#nextFree[head]!);
      this.#freeHead = this.#nextFree[head]!;
      this.#numFree--;
      this.#chainDescs[head] = 1;
    } else {
      if (this.#numFree < n) return null;
      let i = head;
      for (let k = 0; k < n; k++) {
        const w = k >= readable.length;
        const seg = w ? writable[k - readable.length]! : readable[k]!;
        const next = this.#nextFree[i]!;
        this.#writeDesc(i, seg.addr, seg.len, (w ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0), next);
        i = next;
      }
      this.#freeHead = i;
      this.#numFree -= n;
      this.#chainDescs[head] = n;
    }
    this.#tokens[head] = token;
    this.#availU16[AVAIL_RING + (this.#availIdx & this.#mask)] = head;
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    return head;
  }

  /**
   * Single-segment fast path of addChain (no segment objects).
   * @returns the head index, or null if the ring is full.
   */
  addBuffer(addr: number, len: number, deviceWritable: boolean, token: unknown): number | null {
    if (this.#broken !== null) throw this.#broken;
    if (this.#numFree === 0) return null;
    const head = this.#freeHead;
    const next = this.#nextFree[head]!;
    this.#writeDesc(head, addr, len, deviceWritable ? VIRTQ_DESC_F_WRITE : 0, next);
    this.#freeHead = next;
    this.#numFree--;
    this.#chainDescs[head] = 1;
    this.#tokens[head] = token;
    this.#availU16[AVAIL_RING + (this.#availIdx & this.#mask)] = head;
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    return head;
  }

  /**
   * Publish the chains added since the last call (Atomics.store of avail.idx)
   * and say whether the device must be notified (kick fd): EVENT_IDX
   * vring_need_event on avail_event (spec 2.7.10.2), else used.flags lacks
   * VIRTQ_USED_F_NO_NOTIFY.
   */
  kickPrepare(): boolean {
    const old = this.#publishedAvailIdx;
    const now = this.#availIdx;
    if (old === now) return false;
    // Release: descriptors and avail.ring[] slots written in addChain become visible with this idx.
    Atomics.store(this.#availU16, AVAIL_IDX, now);
    this.#publishedAvailIdx = now;
    // SeqCst load after the SeqCst store: pairs with DeviceQueue.enableNotification.
    if (this.eventIdx) return vringNeedEvent(Atomics.load(this.#usedU16, this.#availEventIdx), now, old);
    return (Atomics.load(this.#usedU16, USED_FLAGS) & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  #fail(reason: 'USED_IDX_TOO_FAR' | 'USED_ID_INVALID', msg: string): never {
    this.#broken = new VirtqueueError(reason, msg);
    throw this.#broken;
  }

  /**
   * Collect the next used chain and free its descriptors.
   * @returns null when no used entry is pending.
   * @throws VirtqueueError if the device wrote an impossible used entry (the queue is then broken).
   */
  getUsed(): UsedBuffer | null {
    const token = this.getUsedToken();
    return token === NO_USED ? null : { token, len: this.lastUsedLen };
  }

  /** Written length of the entry returned by the last getUsedToken()/getUsed(). */
  lastUsedLen = 0;

  /**
   * Allocation-free getUsed: returns the token (length in `lastUsedLen`), or
   * the NO_USED sentinel when nothing is pending.
   */
  getUsedToken(): unknown {
    if (this.#broken !== null) throw this.#broken;
    const last = this.#lastUsedIdx;
    if (this.#usedIdxCache === last) {
      // Acquire: used.ring[] entries are read only after this load.
      const used = Atomics.load(this.#usedU16, USED_IDX);
      if (used === last) return NO_USED;
      const outstanding = (this.#publishedAvailIdx - last) & 0xffff;
      if (((used - last) & 0xffff) > outstanding) {
        this.#fail('USED_IDX_TOO_FAR', `used.idx ${used} is ahead of the ${outstanding} outstanding chains (spec 2.7.8)`);
      }
      this.#usedIdxCache = used;
    }
    const slot = (last & this.#mask) << 1;
    const id = this.#usedElemU32[slot]!;
    const len = this.#usedElemU32[slot + 1]!;
    if (id >= this.size || this.#chainDescs[id] === 0) {
      this.#fail('USED_ID_INVALID', `used entry ${last} names head ${id}, which is not outstanding (spec 2.7.8.1)`);
    }
    const token = this.#tokens[id];
    this.#tokens[id] = undefined;
    // Return the chain's descriptors to the free list (the shadow, not the device-visible next fields).
    let tail = id;
    const n = this.#chainDescs[id]!;
    for (let k = 1; k < n; k++) tail = this.#nextFree[tail]!;
    this.#nextFree[tail] = this.#freeHead;
    this.#freeHead = id;
    this.#numFree += n;
    this.#chainDescs[id] = 0;
    this.#lastUsedIdx = (last + 1) & 0xffff;
    this.lastUsedLen = len;
    if (this.eventIdx && (this.#availFlags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0) {
      // Callbacks on: ask for an interrupt at the next entry (Linux virtqueue_get_buf_ctx_split).
      Atomics.store(this.#availU16, this.#usedEventIdx, this.#lastUsedIdx);
    }
    return token;
  }

  /**
   * Turn used-buffer notifications on (seed: virtqueue_enable_intr).
   * @returns true ("more pending") if used entries are already waiting:
   *   the caller must poll again, as no interrupt may come for them.
   */
  enableCallbacks(): boolean {
    if (this.#broken !== null) throw this.#broken;
    this.#availFlags &= ~VIRTQ_AVAIL_F_NO_INTERRUPT;
    if (this.eventIdx) Atomics.store(this.#availU16, this.#usedEventIdx, this.#lastUsedIdx);
    else Atomics.store(this.#availU16, AVAIL_FLAGS, this.#availFlags);
    // SeqCst load after the store above: pairs with DeviceQueue.needsNotification.
    return Atomics.load(this.#usedU16, USED_IDX) !== this.#lastUsedIdx;
  }

  /** Turn used-buffer notifications off (best effort: the device may still signal once). */
  disableCallbacks(): void {
    this.#availFlags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
    // With EVENT_IDX the flag is ignored by the device; a stale used_event suppresses instead.
    if (!this.eventIdx) Atomics.store(this.#availU16, AVAIL_FLAGS, this.#availFlags);
  }
}
