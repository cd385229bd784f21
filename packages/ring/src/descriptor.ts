/**
 * Descriptor flags (virtio 1.2 section 2.7.5) and ring flags (2.7.6, 2.7.8),
 * plus the event-index comparison both sides use (2.7.7, 2.7.10).
 */

/** This descriptor continues via the `next` field. */
export const VIRTQ_DESC_F_NEXT = 1;
/** Device-writable buffer (otherwise device-readable). */
export const VIRTQ_DESC_F_WRITE = 2;
/** The buffer holds a table of indirect descriptors. */
export const VIRTQ_DESC_F_INDIRECT = 4;

/** avail.flags: the driver asks not to be interrupted (without EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags: the device asks not to be notified (without EVENT_IDX). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Feature bits that change the ring's behaviour. */
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;

/**
 * vring_need_event (spec 2.7.7.2 / 2.7.10): with EVENT_IDX, the other side
 * wants a notification iff `eventIdx` lies in the window of indices published
 * since the last notification, (old, new]. All arithmetic is modulo 2^16.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
