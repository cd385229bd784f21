/**
 * VirtqueueError: the ring layer's single error type.
 *
 * Every failure has a `reason` from a closed union so callers can match on a
 * string (classes do not survive postMessage to a worker; strings do). The
 * `scope` is always 'queue': a bad ring breaks that queue, never the
 * connection or the process. A DeviceQueue that raised one keeps it in
 * `broken` and rethrows the same object on every later call (fail fast, like
 * Linux's BAD_RING).
 */

export type VirtqueueErrorReason =
  /** A head or `next` index is ≥ the queue size (or ≥ the indirect table's entry count). Spec 2.7.5. */
  | 'DESC_INDEX_OUT_OF_RANGE'
  /** The chain visits more descriptors than the table holds: a loop. Spec 2.7.5.2 ("MUST NOT create a chain longer than the Queue Size"). */
  | 'CHAIN_TOO_LONG'
  /** A descriptor inside an indirect table has VIRTQ_DESC_F_INDIRECT set. Spec 2.7.5.3.1. */
  | 'INDIRECT_IN_INDIRECT'
  /** A descriptor has both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT. Spec 2.7.5.3.1. */
  | 'INDIRECT_WITH_NEXT'
  /** An indirect table's length is 0 or not a multiple of 16. Spec 2.7.5.3. */
  | 'INDIRECT_BAD_LENGTH'
  /** VIRTQ_DESC_F_INDIRECT used although VIRTIO_RING_F_INDIRECT_DESC was not negotiated. Spec 2.7.5.3.1. */
  | 'INDIRECT_NOT_NEGOTIATED'
  /** A device-readable descriptor follows a device-writable one. Spec 2.7.4.2. */
  | 'READABLE_AFTER_WRITABLE'
  /** [addr, addr+len) is not inside exactly one memory region. */
  | 'ADDR_OUT_OF_RANGE'
  /** addr + len overflows 64 bits. */
  | 'ADDR_OVERFLOW'
  /** The available index is more than `size` ahead of the last one consumed. Spec 2.7.6. */
  | 'AVAIL_IDX_TOO_FAR'
  /** (driver side) the used index is more than the number of outstanding chains ahead. Spec 2.7.8. */
  | 'USED_IDX_TOO_FAR'
  /** (driver side) a used element names a head that is not outstanding. Spec 2.7.8.1. */
  | 'USED_ID_INVALID'
  /** A ring part violates the alignment of spec 2.7 (desc 16, avail 2, used 4) or the backing offset is misaligned. */
  | 'RING_MISALIGNED'
  /** Queue size is not a power of two in [1, 32768]. Spec 2.7. */
  | 'INVALID_QUEUE_SIZE'
  /** A restored ring state (lastAvailIdx / usedIdx) is not a 16-bit index. */
  | 'INVALID_STATE'
  /** Memory regions are empty, overlap, or do not fit in their buffers. */
  | 'INVALID_REGION'
  /** A caller broke the API contract (e.g. pushUsed of a head that is out of range). */
  | 'INVALID_ARGUMENT'
  /** An operation on a queue that is already broken (wrapping no other reason). */
  | 'QUEUE_BROKEN';

export class VirtqueueError extends Error {
  override readonly name = 'VirtqueueError';
  readonly reason: VirtqueueErrorReason;
  readonly scope = 'queue' as const;

  constructor(reason: VirtqueueErrorReason, message: string, options?: { cause?: unknown }) {
    super(`${reason}: ${message}`, options);
    this.reason = reason;
  }
}

/** Shape guard that works across realms / copies of the library (no instanceof). */
export function isVirtqueueError(e: unknown): e is VirtqueueError {
  return (
    typeof e === 'object' &&
    e !== null &&
    (e as { name?: unknown }).name === 'VirtqueueError' &&
    typeof (e as { reason?: unknown }).reason === 'string'
  );
}
