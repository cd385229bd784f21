import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backlog } from './backlog.js';

describe('Backlog', () => {
  it('keeps bytes in order across partial takes', () => {
    const b = new Backlog(100);
    b.push(new Uint8Array([1, 2, 3]));
    b.push(new Uint8Array([4, 5]));
    const d = new Uint8Array(4);
    expect(b.takeInto(d)).toBe(4);
    expect([...d]).toEqual([1, 2, 3, 4]);
    expect(b.bytes).toBe(1);
    expect([...b.takeAll()]).toEqual([5]);
    expect(b.empty).toBe(true);
  });
  it('refuses a whole send that would exceed the limit, keeping what it had (no silent drop)', () => {
    const b = new Backlog(4);
    b.push(new Uint8Array(3));
    expect(() => b.push(new Uint8Array(2))).toThrow(expect.objectContaining({ reason: 'BACKLOG_FULL', scope: 'none' }));
    expect(b.bytes).toBe(3);
    b.push(new Uint8Array(1));
    expect(b.bytes).toBe(4);
  });
  it('copies on push so the caller may reuse its buffer', () => {
    const b = new Backlog(10);
    const src = new Uint8Array([7]);
    b.push(src); src[0] = 9;
    expect([...b.takeAll()]).toEqual([7]);
  });
  it('one-byte pushes share chunks: 64 Ki of them are a handful of chunks, not 64 Ki (each taken with an O(n) shift)', () => {
    const b = new Backlog(1 << 20);
    for (let i = 0; i < 65536; i++) b.push(new Uint8Array([i & 0xff]));
    expect((b as unknown as { chunks: unknown[] }).chunks.length).toBeLessThanOrEqual(2 * 65536 / 4096 + 1);
    const all = b.takeAll();
    expect(all.length).toBe(65536);
    expect(all.every((x, i) => x === (i & 0xff))).toBe(true);
  });
  it('any mix of pushes, takes, skips and peeks keeps the bytes in order (model: one array)', () => {
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 9000 }) }),
      fc.record({ take: fc.integer({ min: 0, max: 9000 }) }),
      fc.record({ skip: fc.integer({ min: 0, max: 9000 }) }),
      fc.constant({ peek: true }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const b = new Backlog(Number.MAX_SAFE_INTEGER);
      let model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if ('push' in o) {
          const c = Uint8Array.from({ length: o.push }, () => (next++ & 0xff));
          b.push(c);
          model.push(...c);
        } else if ('take' in o) {
          const d = new Uint8Array(o.take);
          const n = b.takeInto(d);
          expect(n).toBe(Math.min(o.take, model.length));
          expect([...d.subarray(0, n)]).toEqual(model.slice(0, n));
          model = model.slice(n);
        } else if ('skip' in o) {
          const n = b.skip(o.skip);
          expect(n).toBe(Math.min(o.skip, model.length));
          model = model.slice(n);
        } else {
          expect([...b.peekAll()]).toEqual(model);
        }
        expect(b.bytes).toBe(model.length);
      }
      expect([...b.takeAll()]).toEqual(model);
    }), { numRuns: 100 });
  });
});
