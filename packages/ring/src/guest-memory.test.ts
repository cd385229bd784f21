import { describe, expect, it } from 'vitest';
import { GuestMemory } from './guest-memory.js';

describe('GuestMemory', () => {
  const buf = new SharedArrayBuffer(0x3000);
  const mem = new GuestMemory([
    { guestPhysAddr: 0x10000, size: 0x1000, buffer: buf, offset: 0x1000, userAddr: 0x7f0000 },
    { guestPhysAddr: 0x0, size: 0x1000, buffer: buf, offset: 0 },
  ]);

  it('translates a range inside one region to a view at the right buffer offset', () => {
    const v = mem.view(0x10010, 16);
    expect(v.buffer).toBe(buf);
    expect(v.byteOffset).toBe(0x1010);
    expect(v.length).toBe(16);
  });
  it('rejects ranges that cross a region end or lie outside every region', () => {
    expect(() => mem.view(0x10ff0, 0x20)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
    expect(() => mem.view(0x5000, 1)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
    expect(() => mem.view(-1, 1)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
    expect(() => mem.view(2 ** 60, 1)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
  });
  it('a range adjacent to two regions is still not inside one region', () => {
    const m = new GuestMemory([
      { guestPhysAddr: 0, size: 0x1000, buffer: new ArrayBuffer(0x1000) },
      { guestPhysAddr: 0x1000, size: 0x1000, buffer: new ArrayBuffer(0x1000) },
    ]);
    expect(() => m.view(0xff0, 0x20)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
    expect(m.view(0x1000, 0x1000).length).toBe(0x1000);
  });
  it('translates frontend user addresses', () => {
    expect(mem.userToGuestPhys(0x7f0010, 8)).toBe(0x10010);
    expect(() => mem.userToGuestPhys(0x7f0ff0, 0x20)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
  });
  it('validates regions: no overlap, size > 0, fits in buffer', () => {
    const b = new ArrayBuffer(0x2000);
    expect(() => new GuestMemory([])).toThrow(expect.objectContaining({ reason: 'INVALID_REGION' }));
    expect(() => new GuestMemory([{ guestPhysAddr: 0, size: 0, buffer: b }])).toThrow(expect.objectContaining({ reason: 'INVALID_REGION' }));
    expect(() => new GuestMemory([{ guestPhysAddr: 0, size: 0x1000, buffer: b, offset: 0x1800 }])).toThrow(expect.objectContaining({ reason: 'INVALID_REGION' }));
    expect(
      () =>
        new GuestMemory([
          { guestPhysAddr: 0, size: 0x1000, buffer: b },
          { guestPhysAddr: 0xfff, size: 0x10, buffer: b },
        ]),
    ).toThrow(expect.objectContaining({ reason: 'INVALID_REGION' }));
  });
});
