/**
 * GuestMemory: guest-physical address space as a set of regions, each backed
 * by a SharedArrayBuffer (the guest's memfd mapped by the transport) or a
 * plain ArrayBuffer (single-thread tests and examples).
 *
 * Thread contract: immutable after construction; any thread holding the
 * buffers may build its own GuestMemory over them. Translation never returns
 * a view that reaches outside one region: every lookup checks
 * [addr, addr+len) against a region's bounds before a view is made.
 *
 * Windows: Node.js 20 views at most 4 GiB as one typed array, and QEMU sends
 * all RAM above 4 GiB as one region. A region longer than WINDOW_STRIDE +
 * WINDOW_OVERLAP is viewed through overlapping windows (window k starts
 * k × WINDOW_STRIDE into it and is WINDOW_STRIDE + WINDOW_OVERLAP long, the
 * last one clipped), each a MemoryRegion of its own. Any range of at most
 * WINDOW_OVERLAP bytes lies inside one window wherever it is, so a lookup
 * is "the view that holds the whole range". A longer range that crosses a
 * window boundary is ADDR_OUT_OF_RANGE: nothing the device side views is that
 * long. Rings are ≤ 512 KiB (16 × 32768), an indirect table the ring accepts
 * is a few hundred KiB at most (16 × queue size; QEMU ≤ 16 × 1024), a console
 * port's chain is ≤ MAX_PORT_CHAIN_BYTES (4 MiB) in all and Linux posts
 * page-sized buffers; a guest descriptor longer than 16 MiB that straddles a
 * window boundary is refused like any other bad range (the queue stops).
 */
import { VirtqueueError } from './errors.js';

export interface MemoryRegionInit {
  /** Guest-physical base address of the region. */
  guestPhysAddr: number;
  size: number;
  buffer: SharedArrayBuffer | ArrayBuffer;
  /** Byte offset of the region's first byte inside `buffer` (default 0). */
  offset?: number;
  /** Frontend (QEMU) virtual address of the region, used by SET_VRING_ADDR. */
  userAddr?: number;
}

/** Distance between the starts of two windows of one large region. */
export const WINDOW_STRIDE = 2 ** 30;
/** Bytes two neighbouring windows share: the longest range always inside one window. */
export const WINDOW_OVERLAP = 16 * 2 ** 20;
/** The longest region viewed as one MemoryRegion (longer ones are windowed). */
export const MAX_WINDOW_BYTES = WINDOW_STRIDE + WINDOW_OVERLAP;

/** A region init with its default offset filled in. */
export interface RegionInit extends MemoryRegionInit { offset: number }

function checkInit(init: MemoryRegionInit): RegionInit {
  const offset = init.offset ?? 0;
  const { guestPhysAddr, size, buffer } = init;
  if (!Number.isSafeInteger(guestPhysAddr) || guestPhysAddr < 0) {
    throw new VirtqueueError('INVALID_REGION', `guestPhysAddr ${guestPhysAddr} is not a non-negative safe integer`);
  }
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new VirtqueueError('INVALID_REGION', `region size ${size} must be a positive integer`);
  }
  if (!Number.isSafeInteger(guestPhysAddr + size)) {
    throw new VirtqueueError('INVALID_REGION', 'region end is beyond 2^53');
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > buffer.byteLength) {
    throw new VirtqueueError('INVALID_REGION', `region [${offset}, +${size}) does not fit its ${buffer.byteLength}-byte buffer`);
  }
  if (init.userAddr !== undefined && (!Number.isSafeInteger(init.userAddr) || init.userAddr < 0 || !Number.isSafeInteger(init.userAddr + size))) {
    throw new VirtqueueError('INVALID_REGION', `userAddr ${init.userAddr} is not a non-negative safe integer`);
  }
  return { guestPhysAddr, size, buffer, offset, userAddr: init.userAddr };
}

/** The MemoryRegions that view `r`: itself, or its overlapping windows when it is long. */
function windowsOf(r: RegionInit): MemoryRegion[] {
  if (r.size <= MAX_WINDOW_BYTES) return [new MemoryRegion(r)];
  const out: MemoryRegion[] = [];
  for (let at = 0; at < r.size; at += WINDOW_STRIDE) {
    out.push(new MemoryRegion({
      guestPhysAddr: r.guestPhysAddr + at,
      size: Math.min(MAX_WINDOW_BYTES, r.size - at),
      buffer: r.buffer,
      offset: r.offset + at,
      userAddr: r.userAddr === undefined ? undefined : r.userAddr + at,
    }));
    // The window just built reaches the end: another would lie wholly inside it.
    if (at + MAX_WINDOW_BYTES >= r.size) break;
  }
  return out;
}

/**
 * One contiguous view of guest memory: a whole region, or one window of a
 * region longer than MAX_WINDOW_BYTES (then GuestMemory builds the windows).
 */
export class MemoryRegion {
  readonly guestPhysAddr: number;
  readonly size: number;
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  readonly offset: number;
  readonly userAddr: number | undefined;
  /** The whole view as bytes; `bytes[0]` is guest-physical `guestPhysAddr`. */
  readonly bytes: Uint8Array;
  /** The whole view as a DataView, for unaligned little-endian reads (indirect tables). */
  readonly data: DataView;
  /**
   * The region as 32-bit words when its buffer offset is 4-aligned (else
   * null): word copies are several times faster than byte copies for short
   * payloads on SharedArrayBuffers.
   */
  readonly words: Int32Array | null;
  /** One past the last guest-physical address of the region. */
  readonly end: number;

  constructor(init: MemoryRegionInit) {
    const { guestPhysAddr, size, buffer, offset } = checkInit(init);
    if (size > MAX_WINDOW_BYTES) {
      throw new VirtqueueError('INVALID_REGION', `a MemoryRegion views at most ${MAX_WINDOW_BYTES} bytes; GuestMemory windows a ${size}-byte region`);
    }
    this.guestPhysAddr = guestPhysAddr;
    this.size = size;
    this.buffer = buffer;
    this.offset = offset;
    this.userAddr = init.userAddr;
    this.bytes = new Uint8Array(buffer, offset, size);
    this.data = new DataView(buffer, offset, size);
    this.words = offset % 4 === 0 ? new Int32Array(buffer, offset, Math.floor(size / 4)) : null;
    this.end = guestPhysAddr + size;
  }

  /** True if [addr, addr+len) lies inside this region. */
  contains(addr: number, len: number): boolean {
    return addr >= this.guestPhysAddr && len >= 0 && addr + len <= this.end;
  }
}

export class GuestMemory {
  /**
   * The views lookups search, by guest-physical address: one per region, or
   * the overlapping windows of a long one. Build another GuestMemory from
   * `inits`, not from these.
   */
  readonly regions: readonly MemoryRegion[];
  /** The regions as given (offset filled in), by guest-physical address: what to post to another thread. */
  readonly inits: readonly Readonly<RegionInit>[];
  /** Last region that satisfied a lookup: chains mostly hit the same region. */
  #lastHit: MemoryRegion;

  constructor(regions: MemoryRegionInit[]) {
    if (regions.length === 0) throw new VirtqueueError('INVALID_REGION', 'at least one region is required');
    const inits = regions.map(checkInit).sort((a, b) => a.guestPhysAddr - b.guestPhysAddr);
    // Between regions, not between the windows of one (those overlap on purpose).
    for (let i = 1; i < inits.length; i++) {
      const prev = inits[i - 1]!;
      if (inits[i]!.guestPhysAddr < prev.guestPhysAddr + prev.size) {
        throw new VirtqueueError('INVALID_REGION', `regions at 0x${prev.guestPhysAddr.toString(16)} and 0x${inits[i]!.guestPhysAddr.toString(16)} overlap`);
      }
    }
    const built = inits.flatMap(windowsOf);
    this.inits = Object.freeze(inits.map((r) => Object.freeze(r)));
    this.regions = Object.freeze(built);
    this.#lastHit = built[0]!;
  }

  /**
   * The region holding all of [addr, addr+len), or null. Never throws; the
   * caller decides which error to raise. `len` may be 0 (the address must
   * still be inside a region or at its end).
   */
  findRegion(addr: number, len: number): MemoryRegion | null {
    const hit = this.#lastHit;
    if (addr >= hit.guestPhysAddr && addr + len <= hit.end) return hit;
    // Binary search (a 1 TiB region is 1024 windows): the last view starting at or below addr.
    // Starts and ends both ascend (regions do not overlap; a region's windows end in order), so
    // that view has the furthest end of all that start at or below addr: if it cannot hold the
    // range, none can.
    const regions = this.regions;
    if (addr < regions[0]!.guestPhysAddr) return null;
    let lo = 0;
    let hi = regions.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (regions[mid]!.guestPhysAddr <= addr) lo = mid;
      else hi = mid - 1;
    }
    const r = regions[lo]!;
    if (addr + len > r.end) return null;
    this.#lastHit = r;
    return r;
  }

  /**
   * Guest-physical range → view into the backing buffer (no copy).
   * @throws VirtqueueError('ADDR_OUT_OF_RANGE') unless the range is inside one region.
   */
  view(addr: number, len: number): Uint8Array {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len < 0) {
      throw new VirtqueueError('ADDR_OUT_OF_RANGE', `bad range 0x${addr.toString(16)} +${len}`);
    }
    const r = this.findRegion(addr, len);
    if (r === null) {
      throw new VirtqueueError('ADDR_OUT_OF_RANGE', `range 0x${addr.toString(16)} +${len} is not inside one memory region`);
    }
    return new Uint8Array(r.buffer, r.offset + (addr - r.guestPhysAddr), len);
  }

  /**
   * Frontend virtual address (vhost-user SET_VRING_ADDR carries these) →
   * guest-physical address.
   * @throws VirtqueueError('ADDR_OUT_OF_RANGE') if no region maps all of [uaddr, uaddr+len).
   */
  userToGuestPhys(uaddr: number, len: number): number {
    // The regions as given: a ring's user range may straddle two windows' boundary.
    for (const r of this.inits) {
      if (r.userAddr === undefined) continue;
      if (uaddr >= r.userAddr && len >= 0 && uaddr + len <= r.userAddr + r.size) {
        return r.guestPhysAddr + (uaddr - r.userAddr);
      }
    }
    throw new VirtqueueError('ADDR_OUT_OF_RANGE', `user address 0x${uaddr.toString(16)} +${len} is not mapped by any region`);
  }
}
