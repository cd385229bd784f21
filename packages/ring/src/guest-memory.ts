/**
 * GuestMemory: guest-physical address space as a set of regions, each backed
 * by a SharedArrayBuffer (the guest's memfd mapped by the transport) or a
 * plain ArrayBuffer (single-thread tests and examples).
 *
 * Thread contract: immutable after construction; any thread holding the
 * buffers may build its own GuestMemory over them. Translation never returns
 * a view that reaches outside one region: every lookup checks
 * [addr, addr+len) against a region's bounds before a view is made.
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

export class MemoryRegion {
  readonly guestPhysAddr: number;
  readonly size: number;
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  readonly offset: number;
  readonly userAddr: number | undefined;
  /** The whole region as bytes; `bytes[0]` is guest-physical `guestPhysAddr`. */
  readonly bytes: Uint8Array;
  /** The whole region as a DataView, for unaligned little-endian reads (indirect tables). */
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
    if (init.userAddr !== undefined && (!Number.isSafeInteger(init.userAddr) || init.userAddr < 0)) {
      throw new VirtqueueError('INVALID_REGION', `userAddr ${init.userAddr} is not a non-negative safe integer`);
    }
    this.guestPhysAddr = guestPhysAddr;
    this.size = size;
    this.buffer = buffer;
    this.offset = offset;
    this.userAddr = init.userAddr;
    this.bytes = new Uint8Array(buffer, offset, size);
    this.data = new DataView(buffer, offset, size);
    this.words = offset % 4 === 0 ? new Int32Array(buffer, offset, size >>> 2) : null;
    this.end = guestPhysAddr + size;
  }

  /** True if [addr, addr+len) lies inside this region. */
  contains(addr: number, len: number): boolean {
    return addr >= this.guestPhysAddr && len >= 0 && addr + len <= this.end;
  }
}

export class GuestMemory {
  readonly regions: readonly MemoryRegion[];
  /** Last region that satisfied a lookup: chains mostly hit the same region. */
  #lastHit: MemoryRegion;

  constructor(regions: MemoryRegionInit[]) {
    if (regions.length === 0) throw new VirtqueueError('INVALID_REGION', 'at least one region is required');
    const built = regions.map((r) => new MemoryRegion(r)).sort((a, b) => a.guestPhysAddr - b.guestPhysAddr);
    for (let i = 1; i < built.length; i++) {
      if (built[i]!.guestPhysAddr < built[i - 1]!.end) {
        throw new VirtqueueError('INVALID_REGION', `regions at 0x${built[i - 1]!.guestPhysAddr.toString(16)} and 0x${built[i]!.guestPhysAddr.toString(16)} overlap`);
      }
    }
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
    const regions = this.regions;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      if (addr >= r.guestPhysAddr && addr + len <= r.end) {
        this.#lastHit = r;
        return r;
      }
    }
    return null;
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
    for (const r of this.regions) {
      if (r.userAddr === undefined) continue;
      if (uaddr >= r.userAddr && len >= 0 && uaddr + len <= r.userAddr + r.size) {
        return r.guestPhysAddr + (uaddr - r.userAddr);
      }
    }
    throw new VirtqueueError('ADDR_OUT_OF_RANGE', `user address 0x${uaddr.toString(16)} +${len} is not mapped by any region`);
  }
}
