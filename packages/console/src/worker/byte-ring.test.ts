import { describe, expect, it } from 'vitest';
import { RECORD_COMPLETE, RingReader, RingWriter, createRingBuffer } from './byte-ring.js';

function write(w: RingWriter, dev: number, port: number, bytes: Uint8Array, flags = RECORD_COMPLETE | 1): boolean {
  const at = w.reserve(bytes.length);
  if (at < 0) return false;
  w.data.set(bytes, at);
  w.commit(dev, port, bytes.length, flags);
  return true;
}

/** A whole chain of `port`, as the worker writes one (may share the port's open record). */
function writeChain(w: RingWriter, dev: number, port: number, bytes: Uint8Array): boolean {
  const at = w.reserve(bytes.length, dev, port);
  if (at < 0) return false;
  w.data.set(bytes, at);
  w.commit(dev, port, bytes.length, RECORD_COMPLETE | 1);
  return true;
}

function drainAll(r: RingReader): { dev: number; port: number; bytes: number[]; flags: number }[] {
  const out: { dev: number; port: number; bytes: number[]; flags: number }[] = [];
  r.drain((dev, port, p, flags) => out.push({ dev, port, bytes: [...p], flags }));
  return out;
}

describe('shard byte ring', () => {
  it('rejects capacities that are not a power of two in range', () => {
    expect(() => createRingBuffer(5000)).toThrow(RangeError);
    expect(() => createRingBuffer(1024)).toThrow(RangeError);
    expect(createRingBuffer(4096).byteLength).toBe(4096 + 64);
  });

  it('shows the reader nothing until the writer publishes', () => {
    const sab = createRingBuffer(4096);
    const w = new RingWriter(sab); const r = new RingReader(sab);
    expect(write(w, 1, 2, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(drainAll(r)).toEqual([]);
    expect(w.publish()).toBe(true);
    expect(w.publish()).toBe(false); // nothing new
    expect(drainAll(r)).toEqual([{ dev: 1, port: 2, bytes: [1, 2, 3], flags: RECORD_COMPLETE | 1 }]);
    expect(r.used).toBe(0);
  });

  it('refuses a record when full (backpressure) and accepts it once the reader drained', () => {
    const sab = createRingBuffer(4096);
    const w = new RingWriter(sab); const r = new RingReader(sab);
    const piece = new Uint8Array(w.maxPiece).fill(7);
    let n = 0;
    while (write(w, 1, 0, piece)) n++;
    expect(n).toBe(4);
    w.publish();
    expect(w.waitForSpace(piece.length)).toBe(false); // asks to be told
    const got = drainAll(r);
    expect(got).toHaveLength(4);
    expect(got.every((g) => g.bytes.length === piece.length && g.bytes.every((b) => b === 7))).toBe(true);
    expect(write(w, 1, 0, piece)).toBe(true);
  });

  it('tells the writer about space only when it asked (drain returns the flag once)', () => {
    const sab = createRingBuffer(4096);
    const w = new RingWriter(sab); const r = new RingReader(sab);
    write(w, 1, 0, new Uint8Array(10)); w.publish();
    expect(r.drain(() => {})).toBe(false);
    const piece = new Uint8Array(w.maxPiece);
    while (write(w, 1, 0, piece));
    w.publish();
    expect(w.waitForSpace(piece.length)).toBe(false);
    expect(r.drain(() => {})).toBe(true);
    expect(r.drain(() => {})).toBe(false);
  });

  it('pads instead of wrapping a record and keeps bytes and order across many wraps', () => {
    const sab = createRingBuffer(4096);
    const w = new RingWriter(sab); const r = new RingReader(sab);
    const seen: number[] = [];
    let next = 0;
    for (let round = 0; round < 200; round++) {
      const len = 1 + ((round * 97) % 900);
      const bytes = new Uint8Array(len).map((_, i) => (round + i) & 0xff);
      expect(write(w, 9, round & 0xffff, bytes)).toBe(true);
      w.publish();
      r.drain((dev, port, p) => {
        expect(dev).toBe(9);
        expect(port).toBe(next);
        expect(p.length).toBe(1 + ((next * 97) % 900));
        expect(p.every((b, i) => b === ((next + i) & 0xff))).toBe(true);
        seen.push(next++);
      });
    }
    expect(seen).toHaveLength(200);
  });

  it('waitAsync resolves when the writer publishes after the reader went to sleep', async () => {
    const sab = createRingBuffer(4096);
    const w = new RingWriter(sab); const r = new RingReader(sab);
    const p = r.waitAsync();
    expect(p).not.toBeNull();
    write(w, 1, 1, new Uint8Array([5])); w.publish(); w.wakeReader();
    await p;
    expect(drainAll(r).map((g) => g.bytes)).toEqual([[5]]);
    // Published before the reader looked: no sleep.
    write(w, 1, 1, new Uint8Array([6])); w.publish();
    expect(r.waitAsync()).toBeNull();
  });

  it('puts consecutive chains of one port in one record until another port, a publish or the end of the ring', () => {
    const sab = createRingBuffer(4096);
    const w = new RingWriter(sab); const r = new RingReader(sab);
    for (const b of [[1, 2, 3], [4], [5, 6]]) expect(writeChain(w, 1, 7, Uint8Array.from(b))).toBe(true);
    expect(writeChain(w, 1, 8, Uint8Array.from([9]))).toBe(true); // another port: a new record
    expect(writeChain(w, 1, 7, Uint8Array.from([10]))).toBe(true); // port 7 again: not appended past port 8's
    expect(writeChain(w, 2, 7, Uint8Array.from([11]))).toBe(true); // another device
    w.publish();
    expect(writeChain(w, 2, 7, Uint8Array.from([12]))).toBe(true); // after a publish: a new record
    w.publish();
    expect(drainAll(r)).toEqual([
      { dev: 1, port: 7, bytes: [1, 2, 3, 4, 5, 6], flags: RECORD_COMPLETE | 3 },
      { dev: 1, port: 8, bytes: [9], flags: RECORD_COMPLETE | 1 },
      { dev: 1, port: 7, bytes: [10], flags: RECORD_COMPLETE | 1 },
      { dev: 2, port: 7, bytes: [11], flags: RECORD_COMPLETE | 1 },
      { dev: 2, port: 7, bytes: [12], flags: RECORD_COMPLETE | 1 },
    ]);
    // A record never grows past a piece, never wraps, never overtakes the reader.
    const big = new Uint8Array(1000).fill(3);
    let n = 0;
    while (writeChain(w, 1, 1, big)) n++;
    w.publish();
    const got = drainAll(r);
    expect(got.every((g) => g.bytes.length <= w.maxPiece && g.bytes.length === 1000 * (g.flags & 0xffff))).toBe(true);
    expect(got.reduce((a, g) => a + (g.flags & 0xffff), 0)).toBe(n);
    expect(n).toBeGreaterThanOrEqual(3);
  });
});
