// The shared read buffers: bounded, reused once given back, and a forfeited buffer (its publish
// failed; the client may still send it by reference) is never lent again.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkPool } from './chunk-pool.js';

describe('ChunkPool', () => {
  it('lends at most maxBuffers, reuses what is given back and never a forfeited buffer', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.constantFrom('borrow', 'giveBack', 'forfeit'), { maxLength: 60 }), (max, ops) => {
      const pool = new ChunkPool(64, max);
      const lent: Buffer[] = [];
      const returned = new Set<Buffer>();
      const forfeited = new Set<Buffer>();
      for (const o of ops) {
        if (o === 'borrow') {
          const b = pool.borrow();
          if (lent.length >= max) { expect(b).toBeNull(); continue; }
          expect(b?.length).toBe(64);
          expect(forfeited.has(b!)).toBe(false);
          expect(lent.includes(b!)).toBe(false);
          if (returned.size > 0) expect(returned.has(b!)).toBe(true); // a warm one first
          returned.delete(b!);
          lent.push(b!);
        } else if (lent.length > 0) {
          const b = lent.shift()!;
          if (o === 'giveBack') { pool.giveBack(b); returned.add(b); } else { pool.forfeit(b); forfeited.add(b); }
        }
      }
    }));
  });
});
