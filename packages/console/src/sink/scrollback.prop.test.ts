import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scrollback } from './scrollback.js';

/** Reference model: the whole stream as a string; the ring must hold its last `cap` bytes. */
describe('Scrollback (property)', () => {
  it('matches a reference model for read, lastLines and offsets under random writes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '\n'), maxLength: 40 }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 6 }),
        (cap, writes, n) => {
          const sb = new Scrollback({ capacityBytes: cap, indexEntries: 4 });
          let all = '';
          writes.forEach((w, i) => {
            sb.write(Buffer.from(w, 'latin1'), i);
            all += w;
          });
          const held = all.slice(Math.max(0, all.length - cap));
          expect(sb.endOffset).toBe(all.length);
          expect(sb.startOffset).toBe(all.length - held.length);
          expect(Buffer.from(sb.read(0).bytes).toString('latin1')).toBe(held);
          expect(sb.stats.bytesOverwritten).toBe(all.length - held.length);
          // lastLines(n): the model splits the held text into lines (a final LF ends a line).
          const body = held.endsWith('\n') ? held.slice(0, -1) : held;
          const lines = body.split('\n');
          const want = n === 0 || held === '' ? '' : lines.length <= n ? held : held.slice(held.length - (lines.slice(-n).join('\n').length + (held.endsWith('\n') ? 1 : 0)));
          expect(Buffer.from(sb.lastLines(n).bytes).toString('latin1')).toBe(want);
          // since(i) never misses a held byte written at or after time i.
          for (let t = 0; t <= writes.length; t++) {
            const fromT = writes.slice(t).join('');
            const mustHave = fromT.length <= held.length ? fromT : held;
            expect(Buffer.from(sb.since(t).bytes).toString('latin1').endsWith(mustHave)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
