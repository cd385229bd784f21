/**
 * Split virtqueue memory layout (virtio 1.2 section 2.7).
 *
 *   Descriptor Table  align 16   16 * size bytes            (2.7.5)
 *   Available Ring    align 2    6 + 2 * size bytes         (2.7.6)
 *   Used Ring         align 4    6 + 8 * size bytes         (2.7.8)
 *
 * All fields are little-endian. The constants below are byte offsets inside
 * each structure; ring code indexes typed arrays with them, so they are the
 * single place the wire layout is written down.
 */
import type { GuestMemory } from './guest-memory.js';
import { VirtqueueError } from './errors.js';

/** Largest split queue size (spec 2.7: "Queue Size ... maximum 32768"). */
export const VIRTQ_MAX_SIZE = 32768;

// struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; }  (2.7.5)
export const VIRTQ_DESC_SIZE = 16;
export const VIRTQ_DESC_ADDR = 0;
export const VIRTQ_DESC_LEN = 8;
export const VIRTQ_DESC_FLAGS = 12;
export const VIRTQ_DESC_NEXT = 14;

// struct virtq_avail { le16 flags; le16 idx; le16 ring[size]; le16 used_event; }  (2.7.6)
export const VIRTQ_AVAIL_FLAGS = 0;
export const VIRTQ_AVAIL_IDX = 2;
export const VIRTQ_AVAIL_RING = 4;
/** Offset of used_event (only meaningful with VIRTIO_F_EVENT_IDX). */
export const virtqAvailUsedEvent = (size: number): number => VIRTQ_AVAIL_RING + 2 * size;

// struct virtq_used { le16 flags; le16 idx; struct virtq_used_elem ring[size]; le16 avail_event; }  (2.7.8)
// struct virtq_used_elem { le32 id; le32 len; }
export const VIRTQ_USED_FLAGS = 0;
export const VIRTQ_USED_IDX = 2;
export const VIRTQ_USED_RING = 4;
export const VIRTQ_USED_ELEM_SIZE = 8;
export const VIRTQ_USED_ELEM_ID = 0;
export const VIRTQ_USED_ELEM_LEN = 4;
/** Offset of avail_event (only meaningful with VIRTIO_F_EVENT_IDX). */
export const virtqUsedAvailEvent = (size: number): number => VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * size;

/** Alignments required by spec 2.7 ("Queue Part Alignment"). */
export const VIRTQ_DESC_ALIGN = 16;
export const VIRTQ_AVAIL_ALIGN = 2;
export const VIRTQ_USED_ALIGN = 4;

/**
 * Where layOutQueue puts the used ring. The spec only needs 4; 64 keeps the
 * used ring (written by the device) off the cache line of the available ring
 * (written by the driver), so the two threads do not false-share.
 */
export const USED_RING_PLACEMENT_ALIGN = 64;

export interface QueueAddresses {
  /** Guest-physical addresses of the three parts. */
  descAddr: number;
  availAddr: number;
  usedAddr: number;
}

export interface QueueConfig extends QueueAddresses {
  size: number;
  /** VIRTIO_F_EVENT_IDX negotiated: used_event / avail_event replace the flags. */
  eventIdx: boolean;
  /** VIRTIO_RING_F_INDIRECT_DESC negotiated. */
  indirect?: boolean;
}

export interface SplitQueueLayout {
  descOffset: 0;
  availOffset: number;
  usedOffset: number;
  totalBytes: number;
  descBytes: number;
  availBytes: number;
  usedBytes: number;
}

export function isValidQueueSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= VIRTQ_MAX_SIZE && (size & (size - 1)) === 0;
}

export function assertQueueSize(size: number): void {
  if (!isValidQueueSize(size)) {
    throw new VirtqueueError('INVALID_QUEUE_SIZE', `queue size ${size} is not a power of two in [1, ${VIRTQ_MAX_SIZE}]`);
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Sizes and offsets of the three parts when laid out contiguously from an address aligned to 64. */
export function splitQueueLayout(size: number): SplitQueueLayout {
  assertQueueSize(size);
  const descBytes = VIRTQ_DESC_SIZE * size;
  const availBytes = 6 + 2 * size;
  const usedBytes = 6 + VIRTQ_USED_ELEM_SIZE * size;
  const availOffset = descBytes; // already 16-aligned, satisfies align 2
  const usedOffset = alignUp(availOffset + availBytes, USED_RING_PLACEMENT_ALIGN);
  return { descOffset: 0, availOffset, usedOffset, totalBytes: usedOffset + usedBytes, descBytes, availBytes, usedBytes };
}

/**
 * Lay a queue out at `baseGpa` (must be 16-aligned and inside one region),
 * zero its bytes, and return the part addresses.
 */
export function layOutQueue(memory: GuestMemory, baseGpa: number, size: number): QueueAddresses {
  const l = splitQueueLayout(size);
  if (baseGpa % VIRTQ_DESC_ALIGN !== 0) {
    throw new VirtqueueError('RING_MISALIGNED', `queue base 0x${baseGpa.toString(16)} is not 16-byte aligned`);
  }
  memory.view(baseGpa, l.totalBytes).fill(0);
  return { descAddr: baseGpa, availAddr: baseGpa + l.availOffset, usedAddr: baseGpa + l.usedOffset };
}
