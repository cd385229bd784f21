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
});
