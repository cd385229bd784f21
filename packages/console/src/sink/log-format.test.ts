import { describe, expect, it } from 'vitest';
import { LineStamper, checkRotationOptions, cutPoint, rotationRenames } from './log-format.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('log-format', () => {
  it('LineStamper stamps line starts only, one stamp per line across calls', () => {
    const s = new LineStamper();
    const t = Date.UTC(2024, 1, 29, 23, 59, 59, 1);
    const iso = new Date(t).toISOString();
    expect(dec(s.stamp(enc('a'), t))).toBe(`${iso} a`);
    expect(dec(s.stamp(enc('b\nc\n'), t + 5))).toBe(`b\n${new Date(t + 5).toISOString()} c\n`);
    expect(s.stamp(new Uint8Array(0), t).length).toBe(0);
    expect(dec(s.stamp(enc('\n'), t))).toBe(`${iso} \n`);
  });

  it('cutPoint: whole batch, last fitting LF if half full, else maxBytes, 0 when full', () => {
    expect(cutPoint(enc('abc'), 0, 10)).toBe(3);
    expect(cutPoint(enc('ab\ncdefgh'), 5, 10)).toBe(3); // 5 + 3 >= 5
    expect(cutPoint(enc('\nabcdefghij'), 0, 10)).toBe(10); // LF cut leaves the file 1/10 full
    expect(cutPoint(enc('abcdefghij'), 4, 10)).toBe(6);
    expect(cutPoint(enc('x'), 10, 10)).toBe(0);
    expect(cutPoint(enc('x'), 12, 10)).toBe(0);
    expect(cutPoint(enc('abcdefgh'), 6, 10, true)).toBe(0); // file ends at a line, >= half full
    expect(cutPoint(enc('abcdefgh'), 4, 10, true)).toBe(6); // not half full
    expect(cutPoint(enc('x'.repeat(100)), 0, Number.POSITIVE_INFINITY)).toBe(100);
  });

  it('rotationRenames: keep = 1 unlinks, else shifts names oldest first', () => {
    expect(rotationRenames('/l/c.log', 1)).toEqual({ unlink: '/l/c.log', renames: [] });
    expect(rotationRenames('/l/c.log', 3)).toEqual({
      renames: [['/l/c.log.1', '/l/c.log.2'], ['/l/c.log', '/l/c.log.1']],
    });
  });

  it('checkRotationOptions rejects maxBytes <= 0 and keep that is not an integer >= 1', () => {
    expect(() => checkRotationOptions(Number.NaN, 1)).toThrowError(expect.objectContaining({ reason: 'BAD_OPTION' }));
    expect(() => checkRotationOptions(1, 0)).toThrowError(expect.objectContaining({ reason: 'BAD_OPTION' }));
    expect(() => checkRotationOptions(Number.POSITIVE_INFINITY, 5)).not.toThrow();
  });
});
