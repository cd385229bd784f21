/**
 * Property "garbage": random bytes in the descriptor table, the rings and
 * the indirect tables fed to the device side yield only well-formed chains
 * whose views lie inside a region, or a VirtqueueError — never another
 * exception and never an out-of-range view.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RawChain } from './chain.js';
import { DeviceQueue } from './device-queue.js';
import { DriverQueue } from './driver-queue.js';
import { isVirtqueueError } from './errors.js';
import { GuestMemory } from './guest-memory.js';
import { layOutQueue, splitQueueLayout } from './layout.js';
import { makeTestQueue } from './testing.js';

const MEM_BASE = 0x4000;
const MEM_SIZE = 4096;

const descArb = fc.record({
  // Addresses biased towards guest memory so that some chains are valid.
  addr: fc.oneof(fc.integer({ min: MEM_BASE - 64, max: MEM_BASE + MEM_SIZE + 64 }), fc.integer({ min: 0, max: 0xffff_ffff })),
  addrHi: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) }),
  len: fc.oneof(fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 0xffff_ffff })),
  flags: fc.integer({ min: 0, max: 7 }),
  next: fc.oneof(fc.integer({ min: 0, max: 17 }), fc.integer({ min: 0, max: 0xffff })),
});

describe('device side on garbage', () => {
  it('returns valid chains or VirtqueueError, with every view inside a region', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4, 16),
        fc.boolean(),
        fc.uint8Array({ minLength: MEM_SIZE, maxLength: MEM_SIZE }),
        fc.array(descArb, { minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 0xffff }),
        (size, indirect, bytes, descs, availIdx) => {
          const buffer = new ArrayBuffer(MEM_SIZE);
          const memory = new GuestMemory([{ guestPhysAddr: MEM_BASE, size: MEM_SIZE, buffer }]);
          const addrs = layOutQueue(memory, MEM_BASE, size);
          const ringBytes = splitQueueLayout(size).totalBytes;
          new Uint8Array(buffer).set(bytes); // garbage everywhere: rings, tables, data
          const dv = new DataView(buffer);
          for (let i = 0; i < size; i++) {
            const d = descs[i]!;
            dv.setUint32(16 * i, d.addr, true);
            dv.setUint32(16 * i + 4, d.addrHi, true);
            dv.setUint32(16 * i + 8, d.len, true);
            dv.setUint16(16 * i + 12, d.flags, true);
            dv.setUint16(16 * i + 14, d.next, true);
          }
          // Some runs get a sane avail.idx so the walker gets exercised, others a random one.
          dv.setUint16(addrs.availAddr - MEM_BASE + 2, availIdx % 3 === 0 ? availIdx : availIdx % (size + 1), true);
          expect(ringBytes).toBeLessThan(MEM_SIZE);
          const dev = new DeviceQueue(memory, { ...addrs, size, eventIdx: false, indirect });
          for (let i = 0; i <= size + 1; i++) {
            let c;
            try {
              c = dev.popAvailable();
            } catch (e) {
              expect(isVirtqueueError(e)).toBe(true);
              expect(dev.broken).toBe(e);
              return;
            }
            if (c === null) return;
            expect(c.head).toBeLessThan(size);
            for (const v of [...c.readable, ...c.writable]) {
              expect(v.buffer).toBe(buffer);
              expect(v.byteOffset).toBeGreaterThanOrEqual(0);
              expect(v.byteOffset + v.byteLength).toBeLessThanOrEqual(MEM_SIZE);
            }
            expect(c.readableBytes).toBe(c.readable.reduce((a, v) => a + v.length, 0));
            expect(c.writableBytes).toBe(c.writable.reduce((a, v) => a + v.length, 0));
            dev.pushUsed(c.head, 0);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('RawChain.copyReadable', () => {
  // The word-loop path (short, 4-aligned segments, dstWords given) must copy
  // exactly what the TypedArray.set path copies, tails and clipping included.
  it('word path and set path copy the same bytes', () => {
    const segArb = fc.record({ off: fc.integer({ min: 0, max: 1024 }), len: fc.integer({ min: 1, max: 300 }) });
    fc.assert(
      fc.property(
        fc.array(segArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 64, max: 1400 }),
        fc.boolean(),
        (segs, dstOffset, dstLen, shared) => {
          const t = makeTestQueue({ size: 8, eventIdx: false, shared });
          const data = t.alloc.alloc(2048, 64);
          const src = t.memory.view(data, 2048);
          for (let i = 0; i < src.length; i++) src[i] = (i * 131 + 7) & 0xff;
          const drv = new DriverQueue(t.memory, t.config);
          const dev = new DeviceQueue(t.memory, t.config);
          expect(drv.addChain(segs.map((s) => ({ addr: data + s.off, len: s.len })), [], 0)).not.toBeNull();
          drv.kickPrepare();
          const chain = new RawChain();
          expect(dev.popAvailableInto(chain)).toBe(true);
          const a = new Uint8Array(dstLen);
          const b = new Uint8Array(dstLen);
          const na = chain.copyReadable(a, dstOffset, new Int32Array(a.buffer, 0, dstLen >>> 2));
          const nb = chain.copyReadable(b, dstOffset);
          const expected: number[] = [];
          for (const s of segs) for (let i = 0; i < s.len; i++) expected.push(src[s.off + i]!);
          const n = Math.min(expected.length, Math.max(0, dstLen - dstOffset));
          expect(na).toBe(n);
          expect(nb).toBe(n);
          expect([...a]).toEqual([...b]);
          expect([...a.subarray(dstOffset, dstOffset + n)]).toEqual(expected.slice(0, n));
        },
      ),
      { numRuns: 300 },
    );
  });
});
