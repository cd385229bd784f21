import { describe, expect, it } from 'vitest';
import * as L from './layout.js';
import { makeGuestMemory } from './testing.js';

describe('split virtqueue layout (virtio 1.2 section 2.7)', () => {
  it('virtq_desc fields: le64 addr @0, le32 len @8, le16 flags @12, le16 next @14, 16 bytes', () => {
    expect([L.VIRTQ_DESC_ADDR, L.VIRTQ_DESC_LEN, L.VIRTQ_DESC_FLAGS, L.VIRTQ_DESC_NEXT, L.VIRTQ_DESC_SIZE]).toEqual([0, 8, 12, 14, 16]);
  });
  it('virtq_avail fields: flags @0, idx @2, ring @4, used_event after ring[size]', () => {
    expect([L.VIRTQ_AVAIL_FLAGS, L.VIRTQ_AVAIL_IDX, L.VIRTQ_AVAIL_RING]).toEqual([0, 2, 4]);
    expect(L.virtqAvailUsedEvent(256)).toBe(4 + 2 * 256);
  });
  it('virtq_used fields: flags @0, idx @2, ring @4 of {le32 id, le32 len}, avail_event after ring[size]', () => {
    expect([L.VIRTQ_USED_FLAGS, L.VIRTQ_USED_IDX, L.VIRTQ_USED_RING]).toEqual([0, 2, 4]);
    expect([L.VIRTQ_USED_ELEM_ID, L.VIRTQ_USED_ELEM_LEN, L.VIRTQ_USED_ELEM_SIZE]).toEqual([0, 4, 8]);
    expect(L.virtqUsedAvailEvent(256)).toBe(4 + 8 * 256);
  });
  it('part sizes and alignments', () => {
    for (const size of [1, 2, 256, 32768]) {
      const l = L.splitQueueLayout(size);
      expect(l.descBytes).toBe(16 * size);
      expect(l.availBytes).toBe(6 + 2 * size);
      expect(l.usedBytes).toBe(6 + 8 * size);
      expect(l.descOffset).toBe(0);
      expect(l.availOffset % L.VIRTQ_AVAIL_ALIGN).toBe(0);
      expect(l.availOffset).toBeGreaterThanOrEqual(l.descBytes);
      expect(l.usedOffset % L.VIRTQ_USED_ALIGN).toBe(0);
      expect(l.usedOffset).toBeGreaterThanOrEqual(l.availOffset + l.availBytes);
      expect(l.totalBytes).toBe(l.usedOffset + l.usedBytes);
    }
  });
  it('rejects sizes that are not powers of two up to 32768', () => {
    for (const bad of [0, 3, 100, 65536, -1, 1.5]) {
      expect(() => L.splitQueueLayout(bad)).toThrow(expect.objectContaining({ reason: 'INVALID_QUEUE_SIZE' }));
    }
  });
  it('layOutQueue zeroes the queue and returns part addresses', () => {
    const mem = makeGuestMemory(1 << 16, { shared: false });
    const base = mem.regions[0]!.guestPhysAddr + 0x100;
    mem.view(base, 4096).fill(0xaa);
    const a = L.layOutQueue(mem, base, 16);
    const l = L.splitQueueLayout(16);
    expect(a).toEqual({ descAddr: base, availAddr: base + l.availOffset, usedAddr: base + l.usedOffset });
    expect(mem.view(base, l.totalBytes).every((b) => b === 0)).toBe(true);
    expect(() => L.layOutQueue(mem, base + 8, 16)).toThrow(expect.objectContaining({ reason: 'RING_MISALIGNED' }));
  });
});
