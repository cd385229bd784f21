import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_DATA, FrameDecoder, MAX_FRAME_PAYLOAD, encodeAttachRequest, encodeDataFrames, encodeFrame,
  encodeResizeFrame, parseAttachReply, parseAttachRequest, type AttachFrame,
} from './attach-protocol.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('attach protocol', () => {
  it('round-trips data and resize frames through arbitrary splits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ kind: 'data' as const, b })),
          fc.record({ cols: fc.integer({ min: 1, max: 0xffff }), rows: fc.integer({ min: 1, max: 0xffff }) })
            .map((s) => ({ kind: 'resize' as const, s })),
        ), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }),
        (items, cuts) => {
          const wire = Buffer.concat(items.map((i) => (i.kind === 'data' ? encodeDataFrames(i.b) : encodeResizeFrame(i.s))));
          const d = new FrameDecoder();
          const frames: AttachFrame[] = [];
          for (let off = 0, k = 0; off < wire.length; k++) {
            const n = cuts[k % cuts.length]!;
            frames.push(...d.push(wire.subarray(off, off + n)));
            off += n;
          }
          expect(d.pendingBytes).toBe(0);
          expect(frames.map((f) => (f.type === 'data' ? { kind: 'data', b: Buffer.from(f.bytes) } : { kind: 'resize', s: f.size })))
            .toEqual(items.map((i) => (i.kind === 'data' ? { kind: 'data', b: Buffer.from(i.b) } : i)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('splits large input into MAX_FRAME_PAYLOAD frames', () => {
    const big = new Uint8Array(MAX_FRAME_PAYLOAD * 2 + 5).fill(7);
    const frames = new FrameDecoder().push(encodeDataFrames(big));
    expect(frames.map((f) => (f.type === 'data' ? f.bytes.length : -1))).toEqual([MAX_FRAME_PAYLOAD, MAX_FRAME_PAYLOAD, 5]);
  });

  it('rejects unknown types, oversized lengths and bad resize payloads', () => {
    expect(() => new FrameDecoder().push(encodeFrame(7, enc('x')))).toThrowError(expect.objectContaining({ reason: 'ATTACH_PROTOCOL', scope: 'connection' }));
    const huge = new Uint8Array([FRAME_DATA, 0xff, 0xff, 0xff, 0xff]);
    expect(() => new FrameDecoder().push(huge)).toThrowError(expect.objectContaining({ reason: 'ATTACH_PROTOCOL' }));
    expect(() => new FrameDecoder().push(encodeFrame(1, enc('{"cols":0,"rows":5}')))).toThrowError(/1..65535/);
    expect(() => new FrameDecoder().push(encodeFrame(1, enc('nope')))).toThrowError(/not JSON/);
    // 64 KiB of brackets as a resize: refused by its length, never handed to JSON.parse.
    const brackets = enc('['.repeat(32 * 1024) + ']'.repeat(32 * 1024));
    expect(() => new FrameDecoder().push(encodeFrame(1, brackets))).toThrowError(/resize frame length 65536 > 256/);
    expect(() => encodeFrame(0, new Uint8Array(MAX_FRAME_PAYLOAD + 1))).toThrowError(/payload/);
  });

  it('handshake request and reply lines', () => {
    const line = Buffer.from(encodeAttachRequest({ role: 'force-writer', replay: 5, name: 'op@host' })).toString();
    expect(line).toBe('VTCON-ATTACH {"role":"force-writer","replay":5,"name":"op@host"}\n');
    expect(parseAttachRequest(line.slice('VTCON-ATTACH '.length, -1))).toEqual({ role: 'force-writer', replay: 5, name: 'op@host' });
    expect(parseAttachRequest('{"role":"spectator"}')).toEqual({ role: 'spectator', replay: 0, name: '' });
    for (const bad of ['{"role":"root"}', '[]', 'x', '{"role":"writer","replay":-1}', '{"role":"writer","name":"a\\u0007"}']) {
      expect(() => parseAttachRequest(bad)).toThrowError(expect.objectContaining({ reason: 'ATTACH_PROTOCOL' }));
    }
    expect(parseAttachReply('VTCON-OK {"protocol":1,"id":2,"role":"writer","writer":"a","replayed":0}'))
      .toEqual({ ok: true, reply: { protocol: 1, id: 2, role: 'writer', writer: 'a', replayed: 0 } });
    expect(parseAttachReply('VTCON-ERR {"reason":"R","message":"m"}')).toEqual({ ok: false, error: { reason: 'R', message: 'm' } });
    expect(() => parseAttachReply('hello')).toThrowError(expect.objectContaining({ reason: 'ATTACH_PROTOCOL' }));
  });
});
