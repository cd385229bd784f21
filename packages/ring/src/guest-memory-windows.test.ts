/**
 * A region longer than one typed array can view on Node.js 20 (4 GiB): GuestMemory views it
 * through overlapping windows. The buffers are lazy SharedArrayBuffers; the tests touch a few
 * pages only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RawChain } from './chain.js';
import { DeviceQueue } from './device-queue.js';
import { DriverQueue } from './driver-queue.js';
import { GuestMemory, WINDOW_OVERLAP, WINDOW_STRIDE } from './guest-memory.js';
import { layOutQueue, splitQueueLayout } from './layout.js';

const GiB = 2 ** 30;
// Like q35's RAM above 4 GiB: one region at guest-physical 4 GiB, here 6 GiB long and a page
// into its buffer (the region's offset must shift every window).
const GPA = 4 * GiB;
const SIZE = 6 * GiB;
const OFFSET = 4096;
const sab = new SharedArrayBuffer(OFFSET + SIZE);
const mem = new GuestMemory([
  { guestPhysAddr: GPA, size: SIZE, buffer: sab, offset: OFFSET, userAddr: 0x7f00_0000_0000 },
  { guestPhysAddr: 0, size: 4096, buffer: sab, offset: 0 },
]);

/** Writes a few marker bytes at both ends of [addr, addr+len) through small views of the buffer. */
function mark(addr: number, len: number, seed: number): void {
  const n = Math.min(len, 8);
  const at = OFFSET + addr - GPA;
  const head = new Uint8Array(sab, at, n);
  const tail = new Uint8Array(sab, at + len - n, n);
  for (let i = 0; i < n; i++) { head[i] = (seed + i) & 0xff; tail[i] = (seed * 7 + i + 1) & 0xff; }
}

describe('GuestMemory over a region longer than one typed array (Node.js 20: 4 GiB)', () => {
  // Addresses near the stride boundaries (where one window ends and the next begins) and anywhere.
  const nearBoundary = fc.tuple(fc.integer({ min: 1, max: SIZE / WINDOW_STRIDE - 1 }), fc.integer({ min: -WINDOW_OVERLAP, max: WINDOW_OVERLAP }))
    .map(([k, d]) => k * WINDOW_STRIDE + d);
  const relAddr = fc.oneof(nearBoundary, fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: SIZE - 2 * WINDOW_OVERLAP, max: SIZE - 1 }));

  it('views any range of ≤ WINDOW_OVERLAP bytes anywhere in it, at the buffer bytes of that offset', () => {
    fc.assert(fc.property(relAddr, fc.integer({ min: 0, max: WINDOW_OVERLAP }), fc.integer({ min: 0, max: 255 }), (rel, len0, seed) => {
      const len = Math.min(len0, SIZE - rel);
      const addr = GPA + rel;
      mark(addr, len, seed);
      const v = mem.view(addr, len);
      expect(v.buffer).toBe(sab);
      expect(v.byteOffset).toBe(OFFSET + rel);
      expect(v.length).toBe(len);
      // The markers as the buffer holds them (on a short range the tail's overwrite the head's).
      const n = Math.min(len, 8);
      expect([...v.subarray(0, n)]).toEqual([...new Uint8Array(sab, OFFSET + rel, n)]);
      expect([...v.subarray(len - n)]).toEqual([...new Uint8Array(sab, OFFSET + rel + len - n, n)]);
      if (len >= 16) expect([v[0], v[len - 1]]).toEqual([seed, (seed * 7 + 8) & 0xff]);
      const r = mem.findRegion(addr, len)!;
      expect(r.contains(addr, len)).toBe(true);
      if (len > 0) expect(r.bytes[addr - r.guestPhysAddr]).toBe(v[0]);
    }), { numRuns: 300 });
  });

  it('refuses ranges that leave the region (ADDR_OUT_OF_RANGE)', () => {
    const outside = fc.oneof(
      // Starts before the region (in the hole between the two regions) and runs into it or not.
      fc.tuple(fc.integer({ min: 4096, max: GPA - 1 }), fc.integer({ min: 1, max: WINDOW_OVERLAP })),
      // Runs past the region's end.
      fc.tuple(fc.integer({ min: GPA + SIZE - WINDOW_OVERLAP, max: GPA + SIZE + WINDOW_OVERLAP }), fc.integer({ min: 1, max: WINDOW_OVERLAP }))
        .filter(([a, l]) => a + l > GPA + SIZE),
    );
    fc.assert(fc.property(outside, ([addr, len]) => {
      expect(() => mem.view(addr, len)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
    }), { numRuns: 300 });
  });

  it('a range longer than WINDOW_OVERLAP across a stride boundary is refused; inside one window it is served', () => {
    const boundary = GPA + 2 * WINDOW_STRIDE;
    expect(() => mem.view(boundary - 1, WINDOW_OVERLAP + 2)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
    expect(mem.view(boundary, WINDOW_STRIDE).length).toBe(WINDOW_STRIDE);
  });

  it('keeps the regions as given in `inits` (another thread builds the same memory from them); user addresses translate across windows', () => {
    expect(mem.inits.map((r) => [r.guestPhysAddr, r.size, r.offset])).toEqual([[0, 4096, 0], [GPA, SIZE, OFFSET]]);
    expect(mem.regions.length).toBeGreaterThan(2);
    const again = new GuestMemory([...mem.inits]);
    expect(again.view(GPA + 5 * GiB, 16).byteOffset).toBe(OFFSET + 5 * GiB);
    // Any length: translation uses the region, not its windows.
    expect(mem.userToGuestPhys(0x7f00_0000_0000 + WINDOW_STRIDE - 8, 2 * WINDOW_OVERLAP)).toBe(GPA + WINDOW_STRIDE - 8);
    expect(() => mem.userToGuestPhys(0x7f00_0000_0000 + SIZE - 8, 16)).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
    // The windows of one region overlap on purpose; two regions still may not.
    expect(() => new GuestMemory([...mem.inits, { guestPhysAddr: GPA + SIZE - 4096, size: 8192, buffer: new SharedArrayBuffer(8192) }]))
      .toThrow(expect.objectContaining({ reason: 'INVALID_REGION' }));
  });

  it.each([false, true])('a DeviceQueue whose rings and buffers lie above 4 GiB serves a chain crossing stride boundaries byte-exact (indirect: %s)', (indirect) => {
    const size = 256;
    // Rings just below the boundary at 2 GiB into the region; the indirect table straddles it.
    const ring = GPA + 2 * WINDOW_STRIDE - Math.ceil(splitQueueLayout(size).totalBytes / 4096) * 4096 - (indirect ? 64 * 1024 : 1 << 20);
    const config = { ...layOutQueue(mem, ring, size), size, eventIdx: true, indirect };
    const area = { addr: GPA + 2 * WINDOW_STRIDE - 16 * 1024, bytes: size * 8 * 16 };
    const drv = new DriverQueue(mem, indirect ? { ...config, indirectArea: area } : config);
    const dev = new DeviceQueue(mem, config);
    // Readable: 100 KiB across the boundary at 3 GiB into the region, then 3000 bytes across the
    // one at 5 GiB; writable: 5000 bytes across the one at 4 GiB.
    const segs = [{ addr: GPA + 3 * WINDOW_STRIDE - 40_000, len: 100 * 1024 }, { addr: GPA + 5 * WINDOW_STRIDE - 1000, len: 3000 }];
    const wr = { addr: GPA + 4 * WINDOW_STRIDE - 2500, len: 5000 };
    const payload = new Uint8Array(segs[0]!.len + segs[1]!.len);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 8) + (indirect ? 1 : 0)) & 0xff;
    mem.view(segs[0]!.addr, segs[0]!.len).set(payload.subarray(0, segs[0]!.len));
    mem.view(segs[1]!.addr, segs[1]!.len).set(payload.subarray(segs[0]!.len));
    expect(drv.addChain(segs, [wr], 'c')).not.toBeNull();
    drv.kickPrepare();
    const chain = new RawChain();
    expect(dev.popAvailableInto(chain)).toBe(true);
    expect(chain.readableCount).toBe(2);
    const dst = new Uint8Array(payload.length);
    expect(chain.copyReadable(dst, 0, new Int32Array(dst.buffer, 0, dst.length >> 2))).toBe(payload.length);
    expect(Buffer.from(dst).equals(Buffer.from(payload))).toBe(true);
    const out = payload.subarray(1000, 1000 + wr.len);
    expect(chain.fillWritable(out)).toBe(wr.len);
    expect(Buffer.from(mem.view(wr.addr, wr.len)).equals(Buffer.from(out))).toBe(true);
    dev.pushUsed(chain.head, wr.len);
    expect(drv.getUsed()).toEqual({ token: 'c', len: wr.len });
    expect(dev.popAvailableInto(chain)).toBe(false);
  });
});
