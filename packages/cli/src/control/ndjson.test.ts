import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NdjsonSplitter, nestsDeeperThan } from './ndjson.js';

/** Feeds `wire` to a fresh splitter in pieces of the given sizes (cycled). */
function split(wire: Buffer, cuts: number[], maxLine?: number): string[] {
  const s = new NdjsonSplitter(maxLine);
  const out: string[] = [];
  for (let off = 0, k = 0; off < wire.length; k++) {
    const n = cuts[k % cuts.length]!;
    out.push(...s.push(wire.subarray(off, off + n)));
    off += n;
  }
  return out;
}

describe('NdjsonSplitter', () => {
  it('gives the same lines whatever the chunking (multi-byte UTF-8 split anywhere)', () => {
    const line = fc.string({ unit: fc.oneof(fc.constantFrom('a', '{', '"', 'é', '€', '😀'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })), maxLength: 40 })
      .map((s) => s.replace(/\n/g, ''));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }), (lines, cuts) => {
        const wire = Buffer.from(lines.map((l) => l + '\n').join(''), 'utf8');
        expect(split(wire, cuts)).toEqual(lines.filter((l) => l.length > 0));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps an unfinished line until its LF', () => {
    const s = new NdjsonSplitter();
    expect(s.push(Buffer.from('{"id":1'))).toEqual([]);
    expect(s.pendingBytes).toBe(7);
    expect(s.push(Buffer.from('}\n{"id"'))).toEqual(['{"id":1}']);
    expect(s.pendingBytes).toBe(5);
  });

  it('refuses a line longer than maxLine, whether it arrives whole or in pieces, holding at most maxLine', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), (max, extra, cuts) => {
        const wire = Buffer.alloc(max + extra, 0x61);
        const s = new NdjsonSplitter(max);
        let threw = false;
        for (let off = 0, k = 0; off < wire.length && !threw; k++) {
          const n = cuts[k % cuts.length]!;
          try {
            s.push(wire.subarray(off, off + n));
          } catch (e) {
            expect(e).toMatchObject({ code: 'BAD_REQUEST', reason: 'LINE_TOO_LONG' });
            threw = true;
          }
          expect(s.pendingBytes).toBeLessThanOrEqual(max);
          off += n;
        }
        expect(threw).toBe(true);
      }),
      { numRuns: 200 },
    );
    // Exactly maxLine bytes is still a line.
    expect(new NdjsonSplitter(4).push(Buffer.from('abcd\n'))).toEqual(['abcd']);
  });
});

/** Nesting depth of a parsed JSON value (the reference for nestsDeeperThan). */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const kids = Array.isArray(v) ? v : Object.values(v);
  return 1 + kids.reduce<number>((m, k) => Math.max(m, depthOf(k)), 0);
}

describe('nestsDeeperThan', () => {
  it('agrees with the parsed depth, strings with brackets, quotes and escapes included', () => {
    const text = fc.string({ unit: fc.constantFrom('a', '[', ']', '{', '}', '"', '\\', 'é') });
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(text, tie('node'), { maxKeys: 3 })),
    })).node;
    fc.assert(fc.property(value, fc.integer({ min: 0, max: 6 }), (v, max) => {
      expect(nestsDeeperThan(JSON.stringify(v), max)).toBe(depthOf(v) > max);
    }));
  });

  it('refuses a 1 MiB line of brackets before parsing it', () => {
    expect(nestsDeeperThan('['.repeat(500_000) + ']'.repeat(500_000))).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ id: 1, method: 'send', params: { vm: 'a', port: 'b', data: '[[[[' } }))).toBe(false);
  });
});
