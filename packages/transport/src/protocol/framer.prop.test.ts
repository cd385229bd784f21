import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MessageFramer } from './framer.js';
import { encodeMessage } from './message.js';
import { FrontendRequest } from './codes.js';

/** A stream of valid-looking messages, each with a number of fds (as if sent with one sendmsg). */
const msgArb = fc.record({
  request: fc.constantFrom(FrontendRequest.GET_FEATURES, FrontendRequest.SET_FEATURES, FrontendRequest.SET_VRING_ADDR, FrontendRequest.GET_CONFIG),
  nfds: fc.integer({ min: 0, max: 3 }),
  fill: fc.integer({ min: 0, max: 255 }),
}).map(({ request, nfds, fill }) => {
  const payload = request === FrontendRequest.GET_FEATURES ? { kind: 'none' as const }
    : request === FrontendRequest.SET_FEATURES ? { kind: 'u64' as const, value: BigInt(fill) }
    : request === FrontendRequest.GET_CONFIG ? { kind: 'config' as const, config: { offset: 0, size: fill % 32, flags: 0, data: new Uint8Array(fill % 32).fill(fill) } }
    : { kind: 'vringAddr' as const, addr: { index: fill, flags: 0, descUserAddr: 1n, usedUserAddr: 2n, availUserAddr: 3n, logGuestAddr: 4n } };
  return { bytes: encodeMessage({ request, flags: 1, payload }), nfds };
});

describe('MessageFramer', () => {
  it('reassembles the same messages (with their fds) from any split that respects sendmsg boundaries for fds', () => {
    fc.assert(fc.property(fc.array(msgArb, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), (msgs, cuts) => {
      // Build a byte stream; recvmsg may return any prefix, but (kernel rule) a chunk never
      // extends past the first byte-run that carries fds, and fds come with the message's first byte.
      let nextFd = 100;
      const sent = msgs.map((m) => ({ bytes: m.bytes, fds: Array.from({ length: m.nfds }, () => nextFd++) }));
      const framer = new MessageFramer('request');
      const out: { bytes: number[]; fds: number[] }[] = [];
      let ci = 0;
      for (const s of sent) {
        let pos = 0;
        let first = true;
        while (pos < s.bytes.byteLength) {
          const n = Math.min(cuts[ci++ % cuts.length]!, s.bytes.byteLength - pos);
          const r = framer.push(s.bytes.subarray(pos, pos + n), first ? s.fds : []);
          first = false; pos += n;
          expect(r.error).toBeUndefined();
          for (const m of r.messages) out.push({ bytes: [...encodeHeaderOf(m.header), ...m.payload], fds: m.fds });
        }
      }
      expect(out.map((o) => o.bytes)).toEqual(sent.map((s) => [...s.bytes]));
      expect(out.map((o) => o.fds)).toEqual(sent.map((s) => s.fds));
      expect(framer.midMessage).toBe(false);
    }), { numRuns: 300 });
  });

  it('arbitrary splits of a byte stream (no fds) reassemble the same messages, also when chunks span messages', () => {
    fc.assert(fc.property(fc.array(msgArb, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 30 }), (msgs, cuts) => {
      const all = Buffer.concat(msgs.map((m) => m.bytes));
      const framer = new MessageFramer('request');
      const got: number[][] = [];
      let pos = 0; let ci = 0;
      while (pos < all.byteLength) {
        const n = Math.min(cuts[ci++ % cuts.length]!, all.byteLength - pos);
        for (const m of framer.push(all.subarray(pos, pos + n)).messages) got.push([...encodeHeaderOf(m.header), ...m.payload]);
        pos += n;
      }
      expect(got).toEqual(msgs.map((m) => [...m.bytes]));
    }), { numRuns: 300 });
  });

  it('fds arriving in a chunk that holds a tail, whole messages and a new header go to the last message starting there', () => {
    const a = encodeMessage({ request: 2, flags: 1, payload: { kind: 'u64', value: 1n } });
    const b = encodeMessage({ request: 1, flags: 1, payload: { kind: 'none' } });
    const c = encodeMessage({ request: 2, flags: 1, payload: { kind: 'u64', value: 3n } });
    const f = new MessageFramer('request');
    expect(f.push(a.subarray(0, 5)).messages).toHaveLength(0);
    const r = f.push(Buffer.concat([a.subarray(5), b, c.subarray(0, 14)]), [42]);
    expect(r.messages.map((m) => m.fds)).toEqual([[], []]);
    const r2 = f.push(c.subarray(14));
    expect(r2.messages[0]!.fds).toEqual([42]);
  });

  it('an oversized header breaks the framer before the payload is buffered; held fds are returned', () => {
    const f = new MessageFramer('request');
    const h = new Uint8Array(12); h[0] = 8; h[4] = 1; h[8] = 0xff; h[9] = 0xff; // SET_VRING_NUM size 65535
    const r = f.push(h, [5, 6]);
    expect(r.error?.reason).toBe('PAYLOAD_TOO_LARGE');
    expect(f.takeHeldFds().sort()).toEqual([5, 6]);
    expect(f.push(new Uint8Array(4), [7]).error?.reason).toBe('PAYLOAD_TOO_LARGE');
    expect(f.takeHeldFds()).toEqual([7]);
  });

  it('EOF mid-header → HEADER_SHORT, mid-payload → PAYLOAD_SHORT, between messages → none', () => {
    const f = new MessageFramer('request');
    expect(f.eofError()).toBeNull();
    f.push(new Uint8Array([2, 0, 0]));
    expect(f.eofError()?.reason).toBe('HEADER_SHORT');
    f.push(new Uint8Array([0, 1, 0, 0, 0, 8, 0, 0, 0, 1]));
    expect(f.eofError()?.reason).toBe('PAYLOAD_SHORT');
  });
});

function encodeHeaderOf(h: { request: number; flags: number; size: number }): number[] {
  const b = Buffer.alloc(12); b.writeUInt32LE(h.request, 0); b.writeUInt32LE(h.flags, 4); b.writeUInt32LE(h.size, 8);
  return [...b];
}
