import { describe, expect, it } from 'vitest';
import { Scrollback } from './scrollback.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('Scrollback', () => {
  it('keeps offsets monotonic across wraparound and reports overwritten bytes', () => {
    const sb = new Scrollback({ capacityBytes: 8 });
    sb.write(enc('abcdef'), 1);
    expect(sb.startOffset).toBe(0);
    expect(sb.endOffset).toBe(6);
    sb.write(enc('ghijk'), 2); // wraps: holds "defghijk"
    expect(sb.startOffset).toBe(3);
    expect(sb.endOffset).toBe(11);
    expect(dec(sb.read(0).bytes)).toBe('defghijk');
    expect(sb.read(0).skipped).toBe(3);
    expect(sb.read(0).fromOffset).toBe(3);
    expect(sb.stats).toMatchObject({ bytesIn: 11, chunksIn: 2, bytesOverwritten: 3 });
    const r = sb.read(5, 3);
    expect(dec(r.bytes)).toBe('fgh');
    expect(r.nextOffset).toBe(8);
    expect(dec(sb.read(r.nextOffset).bytes)).toBe('ijk');
    expect(sb.read(11).bytes.length).toBe(0);
    expect(() => sb.read(12)).toThrowError(expect.objectContaining({ reason: 'OFFSET_IN_FUTURE' }));
  });

  it('keeps only the tail of a chunk larger than the ring', () => {
    const sb = new Scrollback({ capacityBytes: 4 });
    sb.write(enc('xy'), 1);
    sb.write(enc('0123456789'), 2);
    expect(dec(sb.read(0).bytes)).toBe('6789');
    expect(sb.startOffset).toBe(8);
    expect(sb.stats.bytesOverwritten).toBe(8);
  });

  it('resumable reads see every byte exactly once when the reader keeps up', () => {
    const sb = new Scrollback({ capacityBytes: 7 });
    let off = 0;
    let got = '';
    let want = '';
    for (let i = 0; i < 200; i++) {
      const s = `${i % 10}`.repeat((i % 5) + 1);
      want += s;
      sb.write(enc(s), i);
      const r = sb.read(off);
      expect(r.skipped).toBe(0);
      got += dec(r.bytes);
      off = r.nextOffset;
    }
    expect(got).toBe(want);
  });

  it('copies the chunk (caller may reuse guest memory)', () => {
    const sb = new Scrollback({ capacityBytes: 16 });
    const buf = enc('hello');
    sb.write(buf, 1);
    buf.fill(0);
    expect(dec(sb.read(0).bytes)).toBe('hello');
  });

  it('lastLines: trailing LF, partial last line, fewer lines than asked, wrapped ring', () => {
    const sb = new Scrollback({ capacityBytes: 64 });
    sb.write(enc('one\ntwo\nthree\n'), 1);
    expect(dec(sb.lastLines(1).bytes)).toBe('three\n');
    expect(dec(sb.lastLines(2).bytes)).toBe('two\nthree\n');
    expect(dec(sb.lastLines(10).bytes)).toBe('one\ntwo\nthree\n');
    expect(sb.lastLines(0).bytes.length).toBe(0);
    sb.write(enc('fo'), 2);
    expect(dec(sb.lastLines(1).bytes)).toBe('fo');
    expect(dec(sb.lastLines(2).bytes)).toBe('three\nfo');
    expect(sb.lastLines(2).nextOffset).toBe(sb.endOffset);

    const small = new Scrollback({ capacityBytes: 10 });
    small.write(enc('aaaa\nbbbb\ncc\ndd\n'), 1); // holds "bb\ncc\ndd\n" + 1 more byte
    expect(dec(small.read(0).bytes)).toBe('bbb\ncc\ndd\n');
    expect(dec(small.lastLines(2).bytes)).toBe('cc\ndd\n');
    expect(dec(small.lastLines(5).bytes)).toBe('bbb\ncc\ndd\n');
  });

  it('since(t) returns the bytes written at or after t', () => {
    const sb = new Scrollback({ capacityBytes: 1024 });
    sb.write(enc('a1'), 100);
    sb.write(enc('a2'), 100); // same ms: same entry
    sb.write(enc('b'), 200);
    sb.write(enc('c'), 300);
    expect(dec(sb.since(0).bytes)).toBe('a1a2bc');
    expect(dec(sb.since(100).bytes)).toBe('a1a2bc');
    expect(dec(sb.since(101).bytes)).toBe('bc');
    expect(dec(sb.since(300).bytes)).toBe('c');
    expect(sb.since(301).bytes.length).toBe(0);
    expect(sb.oldestAt).toBe(100);
  });

  it('since(t) stays conservative (never misses bytes) after index thinning and overwrite', () => {
    const sb = new Scrollback({ capacityBytes: 50, indexEntries: 4 });
    const written: { at: number; s: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const s = String.fromCharCode(97 + (i % 26));
      sb.write(enc(s + s), 1000 + i * 10);
      written.push({ at: 1000 + i * 10, s: s + s });
    }
    expect(sb.stats.indexThinnings).toBeGreaterThan(0);
    const held = dec(sb.read(0).bytes);
    for (const t of [0, 1005, 1200, 1250, 1301, 1390, 1391]) {
      const got = dec(sb.since(t).bytes);
      const wantAll = written.filter((w) => w.at >= t).map((w) => w.s).join('');
      // Every held byte written at or after t is returned: got ends with the held part of wantAll.
      const mustHave = held.endsWith(wantAll) ? wantAll : held;
      expect(got.endsWith(mustHave)).toBe(true);
      expect(held.endsWith(got)).toBe(true);
    }
    expect(sb.since(1391).bytes.length).toBe(0);
  });

  it('rejects bad options and write after close', async () => {
    expect(() => new Scrollback({ capacityBytes: 0 })).toThrowError(expect.objectContaining({ reason: 'BAD_OPTION' }));
    const sb = new Scrollback({ capacityBytes: 4 });
    await sb.close();
    expect(() => sb.write(enc('x'), 1)).toThrowError(expect.objectContaining({ reason: 'SINK_CLOSED' }));
  });
});
