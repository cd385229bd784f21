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
 */
export const INFLIGHT_REGION_HEADER = 16;
export const INFLIGHT_DESC_STATE = 16;
export const INFLIGHT_VERSION = 1;
const ALIGN = 64;

export function inflightQueueRegionSize(queueSize: number): number {
  const raw = INFLIGHT_REGION_HEADER + INFLIGHT_DESC_STATE * queueSize;
  return Math.ceil(raw / ALIGN) * ALIGN;
}

export function inflightBufferSize(numQueues: number, queueSize: number): number {
  return numQueues * inflightQueueRegionSize(queueSize);
}

/** Write version 1 headers into a zeroed buffer (fresh memfd). */
export function initInflightBuffer(buf: Uint8Array, numQueues: number, queueSize: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const per = inflightQueueRegionSize(queueSize);
  for (let q = 0; q < numQueues; q++) {
    const base = q * per;
    dv.setBigUint64(base, 0n, true); // features
    dv.setUint16(base + 8, INFLIGHT_VERSION, true);
    dv.setUint16(base + 10, queueSize, true);
    dv.setUint16(base + 12, 0, true); // last_batch_head
    dv.setUint16(base + 14, 0, true); // used_idx
  }
}

/** Heads marked inflight for queue q, ordered by their fetch counter (resubmission order). */
export function inflightHeads(buf: Uint8Array, q: number, queueSize: number): number[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const base = q * inflightQueueRegionSize(queueSize);
  if (base + inflightQueueRegionSize(queueSize) > buf.byteLength || dv.getUint16(base + 8, true) !== INFLIGHT_VERSION) return [];
  const out: { head: number; counter: bigint }[] = [];
  for (let i = 0; i < queueSize; i++) {
    const d = base + INFLIGHT_REGION_HEADER + i * INFLIGHT_DESC_STATE;
    if (dv.getUint8(d) === 1) out.push({ head: i, counter: dv.getBigUint64(d + 8, true) });
  }
  return out.sort((a, b) => (a.counter < b.counter ? -1 : a.counter > b.counter ? 1 : 0)).map((e) => e.head);
}
