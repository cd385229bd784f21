import { describe, expect, it } from 'vitest';
import { FrontendRequest } from './codes.js';
import { decodeMessage, encodeMessage } from './message.js';
import { checkHeader, decodeHeader, encodeHeader } from './message-header.js';
import { MAX_PAYLOAD_SIZE } from './message-layout.js';
import { isVhostUserError } from '../errors.js';

function reasonOf(f: () => unknown): string {
  try { f(); } catch (e) { if (isVhostUserError(e)) return e.reason; throw e; }
  return 'NO_ERROR';
}
const hdr = (request: number, size: number, flags = 1) => ({ request, flags, size });

describe('header', () => {
  it('is 12 little-endian bytes: request, flags, size', () => {
    const b = encodeHeader({ request: 5, flags: 9, size: 72 });
    expect([...b]).toEqual([5, 0, 0, 0, 9, 0, 0, 0, 72, 0, 0, 0]);
    expect(decodeHeader(b)).toEqual({ request: 5, flags: 9, size: 72 });
  });
  it('short header → HEADER_SHORT', () => {
    expect(reasonOf(() => decodeHeader(new Uint8Array(11)))).toBe('HEADER_SHORT');
  });
  it('version bits other than 1 → VERSION_MISMATCH', () => {
    expect(reasonOf(() => checkHeader(hdr(1, 0, 0x2), 'request'))).toBe('VERSION_MISMATCH');
    expect(reasonOf(() => checkHeader(hdr(1, 0, 0x0), 'request'))).toBe('VERSION_MISMATCH');
  });
  it('size above the request limit → PAYLOAD_TOO_LARGE before any payload is read', () => {
    expect(reasonOf(() => checkHeader(hdr(FrontendRequest.SET_VRING_NUM, 9), 'request'))).toBe('PAYLOAD_TOO_LARGE');
    expect(reasonOf(() => checkHeader(hdr(FrontendRequest.SET_MEM_TABLE, 265), 'request'))).toBe('PAYLOAD_TOO_LARGE');
    expect(reasonOf(() => checkHeader(hdr(999, MAX_PAYLOAD_SIZE + 1), 'request'))).toBe('PAYLOAD_TOO_LARGE');
    expect(reasonOf(() => checkHeader(hdr(999, 16), 'request'))).toBe('NO_ERROR');
  });
});

describe('per-request validators', () => {
  it('unknown request code → UNKNOWN_REQUEST (scope none: the stream stays in sync)', () => {
    let err: unknown;
    try { decodeMessage(hdr(200, 0), new Uint8Array(0), [], 'request'); } catch (e) { err = e; }
    expect(isVhostUserError(err) && err.reason).toBe('UNKNOWN_REQUEST');
    expect(isVhostUserError(err) && err.scope).toBe('none');
  });
  it('u64 request with 4 bytes → PAYLOAD_SIZE_MISMATCH', () => {
    expect(reasonOf(() => decodeMessage(hdr(FrontendRequest.SET_FEATURES, 4), new Uint8Array(4), [], 'request'))).toBe('PAYLOAD_SIZE_MISMATCH');
  });
  it('SET_VRING_KICK without fd → MISSING_FD; with the no-fd bit and an fd → UNEXPECTED_FD', () => {
    const m = encodeMessage({ request: FrontendRequest.SET_VRING_KICK, flags: 1, payload: { kind: 'u64', value: 0n } });
    expect(reasonOf(() => decodeMessage(decodeHeader(m), m.subarray(12), [], 'request'))).toBe('MISSING_FD');
    const nofd = encodeMessage({ request: FrontendRequest.SET_VRING_KICK, flags: 1, payload: { kind: 'u64', value: 0x100n } });
    expect(reasonOf(() => decodeMessage(decodeHeader(nofd), nofd.subarray(12), [7], 'request'))).toBe('UNEXPECTED_FD');
    expect(reasonOf(() => decodeMessage(decodeHeader(nofd), nofd.subarray(12), [], 'request'))).toBe('NO_ERROR');
  });
  it('GET_FEATURES with an fd → UNEXPECTED_FD', () => {
    expect(reasonOf(() => decodeMessage(hdr(1, 0), new Uint8Array(0), [3], 'request'))).toBe('UNEXPECTED_FD');
  });
  it('SET_MEM_TABLE with 0 regions → MEM_TABLE_EMPTY, 9 → MEM_TABLE_TOO_MANY, fd count must match', () => {
    const zero = new Uint8Array(8);
    expect(reasonOf(() => decodeMessage(hdr(5, 8), zero, [], 'request'))).toBe('MEM_TABLE_EMPTY');
    const nine = new Uint8Array(8); nine[0] = 9;
    expect(reasonOf(() => decodeMessage(hdr(5, 8), nine, [], 'request'))).toBe('MEM_TABLE_TOO_MANY');
    const r = { guestPhysAddr: 0n, memorySize: 4096n, userAddr: 0n, mmapOffset: 0n };
    const two = encodeMessage({ request: 5, flags: 1, payload: { kind: 'memTable', regions: [r, r] } });
    expect(reasonOf(() => decodeMessage(decodeHeader(two), two.subarray(12), [1], 'request'))).toBe('MISSING_FD');
    expect(reasonOf(() => decodeMessage(decodeHeader(two), two.subarray(12), [1, 2, 3], 'request'))).toBe('UNEXPECTED_FD');
    expect(reasonOf(() => decodeMessage(decodeHeader(two), two.subarray(12), [1, 2], 'request'))).toBe('NO_ERROR');
  });
  it('SET_MEM_TABLE accepts the full 8-slot form (264 bytes) with fewer regions', () => {
    const b = new Uint8Array(264); b[0] = 1; b[8 + 8] = 0x10; // size 4096
    const m = decodeMessage(hdr(5, 264), b, [9], 'request');
    expect(m.payload.kind === 'memTable' && m.payload.regions.length).toBe(1);
  });
  it('GET_CONFIG size field must agree with the message size', () => {
    const b = new Uint8Array(24); b[4] = 13; // claims 13 bytes, carries 12
    expect(reasonOf(() => decodeMessage(hdr(24, 24), b, [], 'request'))).toBe('PAYLOAD_SIZE_MISMATCH');
  });
  it('decodes the QEMU transcript SET_MEM_TABLE (size 72, 2 fds)', () => {
    const regions = [
      { guestPhysAddr: 0n, memorySize: 0xa0000n, userAddr: 0x7f650ffff000n, mmapOffset: 0n },
      { guestPhysAddr: 0xc0000n, memorySize: 0xff40000n, userAddr: 0x7f65100bf000n, mmapOffset: 0xc0000n },
    ];
    const b = encodeMessage({ request: 5, flags: 9, payload: { kind: 'memTable', regions } });
    expect(b.byteLength - 12).toBe(72);
    expect(decodeMessage(decodeHeader(b), b.subarray(12), [5, 6], 'request').payload).toEqual({ kind: 'memTable', regions });
  });
});
