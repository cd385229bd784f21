/**
 * DeviceQueue: the device (backend) half of a split virtqueue, virtio 1.2
 * section 2.7. It pops chains the driver made available and pushes used
 * entries back. It is the only code that reads guest-written ring memory,
 * and it treats every byte of it as untrusted (see chain.ts).
 *
 * Caller contract: one DeviceQueue per queue, driven by one thread at a time
 * (one producer of used entries, one consumer of available ones). No locks;
 * it never waits — the caller decides how to wait for kicks.
 *
 * Memory ordering (ECMAScript memory model; all Atomics are SeqCst):
 * - avail.idx is read with Atomics.load. The driver wrote descriptors and
 *   avail.ring[] with plain stores *before* its Atomics.store of avail.idx,
 *   so once we observe that idx (synchronizes-with), every entry it covers is
 *   visible to our plain loads that follow. We never read a ring slot or a
 *   descriptor before loading the idx that publishes it.
 * - used.ring[] entries are written with plain stores, then used.idx is
 *   published with Atomics.store, so the driver's Atomics.load of used.idx
 *   makes them (and the payload we wrote into writable buffers) visible.
 * - Notification decisions need store→load ordering (publish used.idx, then
 *   read used_event / avail.flags; publish avail_event / used.flags, then
 *   re-read avail.idx). Both accesses are Atomics, and SeqCst atomics are in
 *   one total order, so the pair cannot be reordered: either the driver sees
 *   our store or we see its. That is the "no lost notification" argument.
 * - Racy guest writes to descriptors cannot cause out-of-range access: each
 *   field is read once and checked before use.
 * On a non-shared ArrayBuffer the same Atomics calls are ordinary accesses
 * (single thread), so one code path serves both.
 */
import { ChainWalker, RawChain, type DescriptorChain } from './chain.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY, vringNeedEvent } from './descriptor.js';
import { isVirtqueueError, VirtqueueError } from './errors.js';
import type { GuestMemory } from './guest-memory.js';
import type { QueueConfig } from './layout.js';
import { AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, ringViews, USED_FLAGS, USED_IDX } from './ring-views.js';


export interface DeviceQueueState {
  /** Next avail.ring slot to consume (free-running 16-bit index). */
  lastAvailIdx: number;
  /** Next used.ring slot to fill (free-running 16-bit index). */
  usedIdx: number;
}

export class DeviceQueue {
  readonly size: number;
  readonly eventIdx: boolean;
  readonly #mask: number;
  readonly #availU16: Uint16Array;
  readonly #usedU16: Uint16Array;
  readonly #usedElemU32: Uint32Array;
  readonly #usedEventIdx: number;
  readonly #availEventIdx: number;
  readonly #walker: ChainWalker;
  /** Scratch chain for popAvailable(). */
  readonly #scratch = new RawChain();

  #lastAvailIdx: number;
  /** Last avail.idx loaded; while it is ahead of #lastAvailIdx no reload is needed. */
  #availIdxCache: number;
  #usedIdx: number;
  #publishedUsedIdx: number;
  /** used.idx at the last needsNotification(): the "old" of vring_need_event. */
  #signalledUsedIdx: number;
  #usedFlags = 0;
  #broken: VirtqueueError | null = null;

  /**
   * @param state ring position to resume from (SET_VRING_BASE / inflight);
   *   untrusted, checked to be 16-bit indices. Default: a fresh queue.
   * @throws VirtqueueError for bad sizes, addresses, alignment or state.
   */
  constructor(memory: GuestMemory, config: QueueConfig, state?: DeviceQueueState) {
    const v = ringViews(memory, config);
    const lastAvailIdx = state?.lastAvailIdx ?? 0;
    const usedIdx = state?.usedIdx ?? lastAvailIdx;
    for (const [k, x] of [['lastAvailIdx', lastAvailIdx], ['usedIdx', usedIdx]] as const) {
      if (!Number.isInteger(x) || x < 0 || x > 0xffff) throw new VirtqueueError('INVALID_STATE', `${k} ${x} is not a 16-bit index`);
    }
    this.size = config.size;
    this.eventIdx = config.eventIdx;
    this.#mask = config.size - 1;
    this.#availU16 = v.availU16;
    this.#usedU16 = v.usedU16;
    this.#usedElemU32 = v.usedElemU32;
    this.#usedEventIdx = AVAIL_RING + config.size;
    this.#availEventIdx = 2 + 4 * config.size;
    this.#walker = new ChainWalker(memory, config.size, v.descU32, v.descU16, config.indirect ?? false);
    this.#lastAvailIdx = lastAvailIdx;
    this.#availIdxCache = lastAvailIdx;
    this.#usedIdx = usedIdx;
    this.#publishedUsedIdx = usedIdx;
    this.#signalledUsedIdx = usedIdx;
  }

  get lastAvailIdx(): number {
    return this.#lastAvailIdx;
  }
  get usedIdx(): number {
    return this.#usedIdx;
  }
  /** The error that broke the queue, or null. A broken queue rethrows it from every call. */
  get broken(): VirtqueueError | null {
    return this.#broken;
  }

  #fail(e: unknown): never {
    const err = isVirtqueueError(e) ? e : new VirtqueueError('QUEUE_BROKEN', 'unexpected failure while reading the ring', { cause: e });
    this.#broken = err;
    throw err;
  }

  /**
   * Number of chains the driver has published and we have not popped yet
   * (loads avail.idx). @throws VirtqueueError('AVAIL_IDX_TOO_FAR') and breaks the queue.
   */
  availableCount(): number {
    if (this.#broken !== null) throw this.#broken;
    const avail = Atomics.load(this.#availU16, AVAIL_IDX);
    const n = (avail - this.#lastAvailIdx) & 0xffff;
    if (n > this.size) {
      this.#fail(new VirtqueueError('AVAIL_IDX_TOO_FAR', `avail.idx ${avail} is ${n} ahead of last_avail_idx ${this.#lastAvailIdx}, more than size ${this.size} (spec 2.7.6)`));
    }
    this.#availIdxCache = avail;
    return n;
  }

  /**
   * Pop the next available chain into `out` (reused, no allocation).
   * @returns false if the ring is empty.
   * @throws VirtqueueError on malformed input; the queue is then broken.
   */
  popAvailableInto(out: RawChain): boolean {
    if (this.#broken !== null) throw this.#broken;
    const last = this.#lastAvailIdx;
    if (this.#availIdxCache === last && this.availableCount() === 0) return false;
    // avail.ring[] slot is read only after avail.idx was loaded (see header).
    const head = this.#availU16[AVAIL_RING + (last & this.#mask)]!;
    try {
      this.#walker.walk(head, out);
    } catch (e) {
      this.#fail(e);
    }
    this.#lastAvailIdx = (last + 1) & 0xffff;
    return true;
  }

  /**
   * Pop the next available chain as views into guest memory.
   * @returns null if the ring is empty.
   * @throws VirtqueueError on malformed input; the queue is then broken.
   */
  popAvailable(): DescriptorChain | null {
    return this.popAvailableInto(this.#scratch) ? this.#scratch.toDescriptorChain() : null;
  }

  /**
   * Re-read the chain at `head` without touching the avail ring: inflight
   * resubmission (vhost-user "Inflight I/O tracking") after a back-end
   * restart, for heads a previous back-end popped but never used. The head
   * must not be in use by this queue already (the caller's inflight record
   * says so); lastAvailIdx already counts it.
   * @throws VirtqueueError on malformed input; the queue is then broken.
   */
  readChainInto(head: number, out: RawChain): void {
    if (this.#broken !== null) throw this.#broken;
    try {
      this.#walker.walk(head, out);
    } catch (e) {
      this.#fail(e);
    }
  }

  /** readChainInto as views into guest memory (allocates; recovery path only). */
  readChain(head: number): DescriptorChain {
    const out = new RawChain();
    this.readChainInto(head, out);
    return out.toDescriptorChain();
  }

  /**
   * Write a used entry without publishing it (batching: call publishUsed()
   * once after several addUsed()). `head` must be a head this queue popped.
   */
  addUsed(head: number, writtenLen: number): void {
    if (this.#broken !== null) throw this.#broken;
    if (!(head >= 0 && head < this.size && writtenLen >= 0 && writtenLen <= 0xffff_ffff)) {
      throw new VirtqueueError('INVALID_ARGUMENT', `addUsed(${head}, ${writtenLen}): head must be < ${this.size} and len a u32`);
    }
    const slot = (this.#usedIdx & this.#mask) << 1;
    this.#usedElemU32[slot] = head;
    this.#usedElemU32[slot + 1] = writtenLen;
    this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
  }

  /** Publish every used entry added so far (one Atomics.store of used.idx). */
  publishUsed(): void {
    if (this.#publishedUsedIdx === this.#usedIdx) return;
    // Release: the used.ring entries and written payload above become visible
    // to a driver that loads this idx.
    Atomics.store(this.#usedU16, USED_IDX, this.#usedIdx);
    this.#publishedUsedIdx = this.#usedIdx;
  }

  /** addUsed + publishUsed. */
  pushUsed(head: number, writtenLen: number): void {
    this.addUsed(head, writtenLen);
    this.publishUsed();
  }

  /**
   * After a batch of pushUsed: must the driver be signalled (call fd)?
   * EVENT_IDX: used_event inside the entries published since the last call
   * (spec 2.7.7.2); otherwise: avail.flags lacks VIRTQ_AVAIL_F_NO_INTERRUPT
   * and something was published since the last call.
   */
  needsNotification(): boolean {
    if (this.#broken !== null) throw this.#broken;
    this.publishUsed();
    const old = this.#signalledUsedIdx;
    const now = this.#publishedUsedIdx;
    this.#signalledUsedIdx = now;
    // Atomics.load after the SeqCst store of used.idx in publishUsed(): cannot be hoisted above it.
    if (this.eventIdx) return vringNeedEvent(Atomics.load(this.#availU16, this.#usedEventIdx), now, old);
    if (old === now) return false;
    return (Atomics.load(this.#availU16, AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /**
   * Ask the driver for kicks again (spec 2.7.10): EVENT_IDX writes
   * avail_event = lastAvailIdx, otherwise clears VIRTQ_USED_F_NO_NOTIFY.
   * @returns true if chains became available meanwhile — pop again before sleeping.
   */
  enableNotification(): boolean {
    if (this.#broken !== null) throw this.#broken;
    if (this.eventIdx) {
      Atomics.store(this.#usedU16, this.#availEventIdx, this.#lastAvailIdx);
    } else {
      this.#usedFlags &= ~VIRTQ_USED_F_NO_NOTIFY;
      Atomics.store(this.#usedU16, USED_FLAGS, this.#usedFlags);
    }
    // SeqCst store above, then load: a driver that published after our load sees our store and kicks.
    return this.availableCount() !== 0;
  }

  /**
   * Ask the driver not to kick (while we are polling anyway). Without
   * EVENT_IDX sets VIRTQ_USED_F_NO_NOTIFY; with it, leaving avail_event
   * behind lastAvailIdx already suppresses kicks.
   */
  disableNotification(): void {
    if (this.eventIdx) return;
    this.#usedFlags |= VIRTQ_USED_F_NO_NOTIFY;
    Atomics.store(this.#usedU16, USED_FLAGS, this.#usedFlags);
  }

  /** Ring position for GET_VRING_BASE / handing the queue to another thread. */
  state(): DeviceQueueState {
    return { lastAvailIdx: this.#lastAvailIdx, usedIdx: this.#usedIdx };
  }
}
