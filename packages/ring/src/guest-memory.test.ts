import fc from 'fast-check';
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
  it('findRegion finds a region exactly when one holds the whole range (any number of regions, any order)', () => {
    const layout = fc.array(fc.tuple(fc.integer({ min: 0, max: 0x3000 }), fc.integer({ min: 1, max: 0x3000 })), { minLength: 1, maxLength: 12 });
    // Anywhere, or near a region's start or end (where an off-by-one would show).
    const probe = fc.tuple(fc.nat(), fc.boolean(), fc.integer({ min: -8, max: 8 }), fc.integer({ min: 0, max: 12 * 0x6000 }), fc.integer({ min: 0, max: 0x4000 }));
    fc.assert(fc.property(layout, fc.array(probe, { minLength: 1, maxLength: 40 }), (gaps, probes) => {
      let at = 0;
      const inits = gaps.map(([gap, size]) => { const r = { guestPhysAddr: at + gap, size, buffer: new ArrayBuffer(size) }; at += gap + size; return r; });
      const m = new GuestMemory([...inits].reverse());
      for (const [i, atEnd, delta, anywhere, len0] of probes) {
        const r = inits[i % inits.length]!;
        const near = i % 3 !== 0;
        const addr = near ? Math.max(0, (atEnd ? r.guestPhysAddr + r.size : r.guestPhysAddr) + delta) : anywhere;
        const len = near && atEnd ? Math.max(0, -delta) + (len0 % 2) : len0;
        const holder = inits.find((r) => addr >= r.guestPhysAddr && addr + len <= r.guestPhysAddr + r.size);
        expect(m.findRegion(addr, len)?.buffer ?? null).toBe(holder?.buffer ?? null);
      }
    }));
  });
});
