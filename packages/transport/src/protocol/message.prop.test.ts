import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrontendRequest, BackendRequest, VHOST_USER_HEADER_SIZE, VHOST_USER_VRING_NOFD_MASK } from './codes.js';
import { decodeMessage, encodeMessage } from './message.js';
import { decodeHeader } from './message-header.js';
import { requestPayloadKind, type Direction } from './message-layout.js';
import type { Payload } from './message-payload.js';
import type { MemoryRegionDescription } from './message-memory.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const region: fc.Arbitrary<MemoryRegionDescription> = fc.record({ guestPhysAddr: u64, memorySize: u64, userAddr: u64, mmapOffset: u64 });

function payloadFor(kind: Payload['kind']): fc.Arbitrary<Payload> {
  switch (kind) {
    case 'none': return fc.constant({ kind: 'none' });
    case 'u64': return u64.map((value) => ({ kind: 'u64', value }));
    case 'vringState': return fc.record({ index: u32, num: u32 }).map((state) => ({ kind: 'vringState', state }));
    case 'vringAddr': return fc.record({ index: u32, flags: u32, descUserAddr: u64, usedUserAddr: u64, availUserAddr: u64, logGuestAddr: u64 })
      .map((addr) => ({ kind: 'vringAddr', addr }));
    case 'memTable': return fc.array(region, { minLength: 1, maxLength: 8 }).map((regions) => ({ kind: 'memTable', regions }));
    case 'memRegion': return region.map((r) => ({ kind: 'memRegion', region: r }));
    case 'config': return fc.record({ offset: u32, flags: u32, data: fc.uint8Array({ maxLength: 256 }) })
      .map(({ offset, flags, data }) => ({ kind: 'config', config: { offset, size: data.byteLength, flags, data } }));
    case 'inflight': return fc.record({ mmapSize: u64, mmapOffset: u64, numQueues: u16, queueSize: u16 }).map((inflight) => ({ kind: 'inflight', inflight }));
    case 'log': return fc.record({ mmapSize: u64, mmapOffset: u64 }).map((log) => ({ kind: 'log', log }));
    case 'deviceState': return fc.record({ direction: u32, phase: u32 }).map((state) => ({ kind: 'deviceState', state }));
    case 'raw': return fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'raw', bytes }));
  }
}

/** fds a valid message of this request/payload must carry. */
function fdCount(direction: Direction, request: number, p: Payload): number {
  if (direction === 'request') {
    if (request === FrontendRequest.SET_MEM_TABLE && p.kind === 'memTable') return p.regions.length;
    if (request >= FrontendRequest.SET_VRING_KICK && request <= FrontendRequest.SET_VRING_ERR && p.kind === 'u64') {
      return (p.value & VHOST_USER_VRING_NOFD_MASK) !== 0n ? 0 : 1;
    }
    const one: number[] = [FrontendRequest.SET_LOG_FD, FrontendRequest.SET_BACKEND_REQ_FD, FrontendRequest.SET_INFLIGHT_FD,
      FrontendRequest.GPU_SET_SOCKET, FrontendRequest.ADD_MEM_REG, FrontendRequest.SET_DEVICE_STATE_FD];
    return one.includes(request) ? 1 : 0;
  }
  if (direction === 'reply' && request === FrontendRequest.GET_INFLIGHT_FD) return 1;
  return 0;
}

function messageArb(direction: Direction, codes: number[]) {
  return fc.constantFrom(...codes).chain((request) => {
    const kind = requestPayloadKind(direction, request)!;
    return fc.record({ request: fc.constant(request), flags: fc.constantFrom(0x1, 0x5, 0x9), payload: payloadFor(kind) });
  });
}

const frontendCodes = Object.values(FrontendRequest) as number[];
const backendCodes = Object.values(BackendRequest) as number[];

describe('vhost-user codec: decode(encode(m)) == m for every message type', () => {
  for (const [direction, codes] of [['request', frontendCodes], ['reply', frontendCodes], ['backendRequest', backendCodes], ['backendReply', backendCodes]] as const) {
    it(`${direction}`, () => {
      fc.assert(fc.property(messageArb(direction, codes), (m) => {
        const bytes = encodeMessage(m);
        const h = decodeHeader(bytes);
        expect(h.size).toBe(bytes.byteLength - VHOST_USER_HEADER_SIZE);
        const fds = Array.from({ length: fdCount(direction, m.request, m.payload) }, (_, i) => 100 + i);
        const d = decodeMessage(h, bytes.subarray(VHOST_USER_HEADER_SIZE), fds, direction);
        expect(d.request).toBe(m.request);
        expect(d.flags).toBe(m.flags);
        expect(d.payload).toEqual(m.payload);
        expect(d.fds).toEqual(fds);
      }), { numRuns: 400 });
    });
  }

  it('every front-end request code has a request layout', () => {
    for (const c of frontendCodes) expect(requestPayloadKind('request', c)).toBeDefined();
  });
});
