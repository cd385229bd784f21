import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RECORD_COMPLETE, RingReader, RingWriter, createRingBuffer } from './byte-ring.js';

/** Writes of 0..1008 bytes for ports 0..maxPort, publishes and drains, in any order. */
const ringOps = (maxPort: number) => fc.array(fc.oneof(
  fc.record({ op: fc.constant('write' as const), len: fc.integer({ min: 0, max: 1008 }), port: fc.integer({ min: 0, max: maxPort }) }),
  fc.record({ op: fc.constant('publish' as const) }),
  fc.record({ op: fc.constant('drain' as const) }),
), { maxLength: 300 });

describe('shard byte ring (property)', () => {
  it('delivers every accepted record exactly once, in order, byte-exact, whatever the interleaving', () => {
    fc.assert(fc.property(
      ringOps(31),
      (ops) => {
        const sab = createRingBuffer(4096);
        const w = new RingWriter(sab); const r = new RingReader(sab);
        const sent: { port: number; bytes: Uint8Array }[] = [];
        const got: { port: number; bytes: Uint8Array }[] = [];
        let committed = 0;
        let published = 0;
        let seq = 0;
        const drain = (): void => { r.drain((_d, port, p, flags) => { expect(flags).toBe(RECORD_COMPLETE | 1); got.push({ port, bytes: p.slice() }); }); };
        for (const o of ops) {
          if (o.op === 'write') {
            const bytes = new Uint8Array(o.len).map((_, i) => (seq * 7 + i) & 0xff);
            seq++;
            const at = w.reserve(o.len);
            if (at < 0) continue; // full: the writer would wait (not an error)
            w.data.set(bytes, at);
            w.commit(3, o.port, o.len, RECORD_COMPLETE | 1);
            sent.push({ port: o.port, bytes });
            committed++;
          } else if (o.op === 'publish') { w.publish(); published = committed; } else drain();
          expect(got.length).toBeLessThanOrEqual(published);
        }
        w.publish(); drain();
        expect(got.length).toBe(sent.length);
        got.forEach((g, i) => { expect(g.port).toBe(sent[i]!.port); expect([...g.bytes]).toEqual([...sent[i]!.bytes]); });
      },
    ), { numRuns: 200 });
  });

  it('chains sharing records (reserve with the port) arrive whole, in order, with their count', () => {
    fc.assert(fc.property(
      ringOps(2),
      (ops) => {
        const sab = createRingBuffer(4096);
        const w = new RingWriter(sab); const r = new RingReader(sab);
        const sent: { port: number; bytes: number[] }[] = [];
        const got: { port: number; bytes: number[]; chains: number }[] = [];
        let seq = 0;
        const drain = (): void => { r.drain((_d, port, p, flags) => { expect(flags & RECORD_COMPLETE).toBe(RECORD_COMPLETE); got.push({ port, bytes: [...p], chains: flags & 0xffff }); }); };
        for (const o of ops) {
          if (o.op === 'write') {
            const bytes = new Uint8Array(o.len).map((_, i) => (seq * 7 + i) & 0xff);
            seq++;
            const at = w.reserve(o.len, 3, o.port);
            if (at < 0) continue;
            w.data.set(bytes, at);
            w.commit(3, o.port, o.len, RECORD_COMPLETE | 1);
            sent.push({ port: o.port, bytes: [...bytes] });
          } else if (o.op === 'publish') w.publish(); else drain();
        }
        w.publish(); drain();
        // Split each record back into its chains: the same sequence as written.
        let i = 0;
        for (const g of got) {
          const mine = sent.slice(i, i + g.chains);
          expect(mine.every((m) => m.port === g.port)).toBe(true);
          expect(g.bytes).toEqual(mine.flatMap((m) => m.bytes));
          expect(g.bytes.length).toBeLessThanOrEqual(w.maxPiece);
          i += g.chains;
        }
        expect(i).toBe(sent.length);
      },
    ), { numRuns: 300 });
  });
});
