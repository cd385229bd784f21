/**
 * Typed-array views over one queue's three parts, built once per queue so
 * the hot paths index arrays instead of translating addresses.
 *
 * Typed arrays use the host's byte order while the ring is little-endian;
 * vtcon runs on little-endian hosts only (x86-64, aarch64), checked at load.
 * Atomics need naturally aligned element offsets into the buffer, so each
 * part's absolute byte offset must be aligned (spec 2.7 alignment plus a
 * region whose buffer offset keeps it); otherwise RING_MISALIGNED.
 */
import { VirtqueueError } from './errors.js';
import type { GuestMemory, MemoryRegion } from './guest-memory.js';
import {
  assertQueueSize,
  VIRTQ_AVAIL_ALIGN,
  VIRTQ_AVAIL_FLAGS,
  VIRTQ_AVAIL_IDX,
  VIRTQ_AVAIL_RING,
  VIRTQ_DESC_ALIGN,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_ALIGN,
  VIRTQ_USED_ELEM_SIZE,
  VIRTQ_USED_FLAGS,
  VIRTQ_USED_IDX,
  VIRTQ_USED_RING,
  type QueueConfig,
} from './layout.js';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('@vtcon/ring requires a little-endian host');
}

/** Element indices into RingViews' availU16 / usedU16 (the layout's byte offsets / 2). */
export const AVAIL_FLAGS = VIRTQ_AVAIL_FLAGS / 2;
export const AVAIL_IDX = VIRTQ_AVAIL_IDX / 2;
export const AVAIL_RING = VIRTQ_AVAIL_RING / 2;
export const USED_FLAGS = VIRTQ_USED_FLAGS / 2;
export const USED_IDX = VIRTQ_USED_IDX / 2;

export interface RingViews {
  /** Descriptor table as u32 words (addr lo/hi, len) and u16 halves (flags, next). */
  descU32: Uint32Array;
  descU16: Uint16Array;
  /** Available ring as u16: [0]=flags, [1]=idx, [2+i]=ring[i], [2+size]=used_event. */
  availU16: Uint16Array;
  /** Used ring as u16: [0]=flags, [1]=idx, [2+4*size]=avail_event. */
  usedU16: Uint16Array;
  /** Used ring elements as u32 pairs: [2*i]=id, [2*i+1]=len. */
  usedElemU32: Uint32Array;
}

function partRegion(memory: GuestMemory, addr: number, bytes: number, align: number, what: string): { region: MemoryRegion; abs: number } {
  if (!Number.isSafeInteger(addr) || addr < 0) {
    throw new VirtqueueError('ADDR_OUT_OF_RANGE', `${what} address ${addr} is not a guest-physical address`);
  }
  if (addr % align !== 0) {
    throw new VirtqueueError('RING_MISALIGNED', `${what} at 0x${addr.toString(16)} is not ${align}-byte aligned (spec 2.7)`);
  }
  const region = memory.findRegion(addr, bytes);
  if (region === null) {
    throw new VirtqueueError('ADDR_OUT_OF_RANGE', `${what} [0x${addr.toString(16)}, +${bytes}) is not inside one memory region`);
  }
  const abs = region.offset + (addr - region.guestPhysAddr);
  if (abs % align !== 0) {
    throw new VirtqueueError('RING_MISALIGNED', `${what} lands at buffer offset ${abs}, not ${align}-byte aligned`);
  }
  return { region, abs };
}

export function ringViews(memory: GuestMemory, config: QueueConfig): RingViews {
  const size = config.size;
  assertQueueSize(size);
  const d = partRegion(memory, config.descAddr, VIRTQ_DESC_SIZE * size, VIRTQ_DESC_ALIGN, 'descriptor table');
  const a = partRegion(memory, config.availAddr, 6 + 2 * size, VIRTQ_AVAIL_ALIGN, 'available ring');
  const u = partRegion(memory, config.usedAddr, 6 + VIRTQ_USED_ELEM_SIZE * size, VIRTQ_USED_ALIGN, 'used ring');
  return {
    descU32: new Uint32Array(d.region.buffer, d.abs, 4 * size),
    descU16: new Uint16Array(d.region.buffer, d.abs, 8 * size),
    availU16: new Uint16Array(a.region.buffer, a.abs, 3 + size),
    usedU16: new Uint16Array(u.region.buffer, u.abs, 3 + 4 * size),
    usedElemU32: new Uint32Array(u.region.buffer, u.abs + VIRTQ_USED_RING, 2 * size),
  };
}
