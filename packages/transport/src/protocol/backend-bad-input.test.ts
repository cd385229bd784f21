/**
 * Issue 3 "Bad input": each malformed request gets a logged error with its reason, a non-zero
 * REPLY_ACK when NEED_REPLY is set, the connection closed where it cannot go on, fds and
 * mappings released, and the next connection works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserBackend } from './backend.js';
import { VhostUserFrontend } from './frontend.js';
import { EchoDevice } from './echo-device.js';
import { encodeMessage } from './message.js';
import type { Payload } from './message-payload.js';
import { FrontendRequest as R } from './codes.js';
import { RawClient, memfdMappings, openFdCount } from './test-raw-client.js';
import * as native from '../native.js';

const reasons: string[] = [];
const logger = { info() {}, debug() {}, warn() {}, error(o: unknown) { const r = (o as { reason?: string }).reason; if (r) reasons.push(r); } };
let dir: string;
let backend: VhostUserBackend;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vtcon-bad-'));
  backend = new VhostUserBackend({ socketPath: join(dir, 'vm.sock'), createDevice: () => new EchoDevice(), logger });
  backend.listen();
});
afterAll(async () => { await backend.close(); rmSync(dir, { recursive: true, force: true }); });

const NEED = 0x9;
const msg = (request: number, payload: Payload, flags = NEED) => encodeMessage({ request, flags, payload });
const memfd = (size: number) => { const fd = native.memfdCreate('bad'); native.ftruncate(fd, size); native.addSeals(fd, native.F_SEAL_SHRINK | native.F_SEAL_GROW); return fd; };
const region = (gpa: number, size: number, ua: number, off = 0) => ({ guestPhysAddr: BigInt(gpa), memorySize: BigInt(size), userAddr: BigInt(ua), mmapOffset: BigInt(off) });
const goodTable = () => msg(R.SET_MEM_TABLE, { kind: 'memTable', regions: [region(0, 1 << 16, 0x10000000)] });

async function ack(c: RawClient): Promise<bigint | null> {
  const b = await c.read(20);
  if (b.byteLength < 20) return null;
  return b.readBigUInt64LE(12);
}

/** After each case: the backend is idle, a real front-end negotiates fine, and nothing leaked. */
async function secondConnectionWorks(): Promise<void> {
  await backend.idle();
  const fe = VhostUserFrontend.connect(backend.socketPath);
  const r = await fe.negotiate({ memory: [1 << 20] });
  expect(r.queueNum).toBe(2);
  fe.close();
  await backend.idle();
}

interface Case { name: string; reason: string; send(c: RawClient): void; setup?: (c: RawClient) => Promise<void> }

const cases: Case[] = [
  { name: 'unknown request code', reason: 'UNKNOWN_REQUEST', send: (c) => c.send(msg(99, { kind: 'none' })) },
  { name: 'payload size not matching the request', reason: 'PAYLOAD_SIZE_MISMATCH', send: (c) => c.send(msg(R.SET_FEATURES, { kind: 'raw', bytes: new Uint8Array(4) })) },
  { name: 'missing fd (SET_VRING_KICK)', reason: 'MISSING_FD', send: (c) => c.send(msg(R.SET_VRING_KICK, { kind: 'u64', value: 0n })) },
  { name: 'extra fd (SET_OWNER with an fd)', reason: 'UNEXPECTED_FD', send: (c) => { const e = native.eventfdCreate(); c.send(msg(R.SET_OWNER, { kind: 'none' }), [e]); native.close(e); } },
  { name: 'SET_MEM_TABLE with 0 regions', reason: 'MEM_TABLE_EMPTY', send: (c) => c.send(msg(R.SET_MEM_TABLE, { kind: 'raw', bytes: new Uint8Array(8) })) },
  { name: 'SET_MEM_TABLE with 9 regions', reason: 'MEM_TABLE_TOO_MANY', send: (c) => { const b = new Uint8Array(8); b[0] = 9; c.send(msg(R.SET_MEM_TABLE, { kind: 'raw', bytes: b })); } },
  { name: 'overlapping regions', reason: 'REGION_OVERLAP', send: (c) => {
    const a = memfd(1 << 16); const b = memfd(1 << 16);
    c.send(msg(R.SET_MEM_TABLE, { kind: 'memTable', regions: [region(0, 1 << 16, 0x1000000), region(0x8000, 1 << 16, 0x2000000)] }), [a, b]);
    native.close(a); native.close(b);
  } },
  { name: 'zero-sized region', reason: 'REGION_ZERO_SIZE', send: (c) => { const a = memfd(4096); c.send(msg(R.SET_MEM_TABLE, { kind: 'memTable', regions: [region(0, 0, 0x1000000)] }), [a]); native.close(a); } },
  { name: 'mmap offset past the end of the file', reason: 'MMAP_OUT_OF_FILE', send: (c) => { const a = memfd(1 << 16); c.send(msg(R.SET_MEM_TABLE, { kind: 'memTable', regions: [region(0, 1 << 16, 0x1000000, 1 << 16)] }), [a]); native.close(a); } },
  { name: 'vring address inside no region', reason: 'VRING_ADDR_UNMAPPED',
    setup: async (c) => { const a = memfd(1 << 16); c.send(goodTable(), [a]); native.close(a); expect(await ack(c)).toBe(0n); c.send(msg(R.SET_VRING_NUM, { kind: 'vringState', state: { index: 0, num: 64 } })); expect(await ack(c)).toBe(0n); },
    send: (c) => c.send(msg(R.SET_VRING_ADDR, { kind: 'vringAddr', addr: { index: 0, flags: 0, descUserAddr: 0x90000000n, usedUserAddr: 0x10000000n, availUserAddr: 0x10001000n, logGuestAddr: 0n } })) },
  { name: 'queue index >= queue count', reason: 'QUEUE_INDEX_OUT_OF_RANGE', send: (c) => c.send(msg(R.SET_VRING_NUM, { kind: 'vringState', state: { index: 2, num: 64 } })) },
  { name: 'SET_VRING_NUM not a power of two', reason: 'VRING_NUM_INVALID', send: (c) => c.send(msg(R.SET_VRING_NUM, { kind: 'vringState', state: { index: 0, num: 100 } })) },
  { name: 'SET_VRING_NUM > 32768', reason: 'VRING_NUM_INVALID', send: (c) => c.send(msg(R.SET_VRING_NUM, { kind: 'vringState', state: { index: 0, num: 65536 } })) },
  { name: 'SET_VRING_CALL with reserved bits set', reason: 'RESERVED_BITS_SET', send: (c) => { const e = native.eventfdCreate(); c.send(msg(R.SET_VRING_CALL, { kind: 'u64', value: 1n << 12n }), [e]); native.close(e); } },
  { name: 'SET_VRING_ENABLE with num 2', reason: 'VALUE_OUT_OF_RANGE', send: (c) => c.send(msg(R.SET_VRING_ENABLE, { kind: 'vringState', state: { index: 0, num: 2 } })) },
  { name: 'SET_VRING_ADDR before any memory table', reason: 'OUT_OF_ORDER', send: (c) => c.send(msg(R.SET_VRING_ADDR, { kind: 'vringAddr', addr: { index: 0, flags: 0, descUserAddr: 0n, usedUserAddr: 0n, availUserAddr: 0n, logGuestAddr: 0n } })) },
];

describe('bad input with NEED_REPLY: non-zero reply, connection goes on, next connection works', () => {
  for (const k of cases) {
    it(`${k.name} → ${k.reason}`, async () => {
      const fds0 = openFdCount();
      const c = new RawClient(backend.socketPath);
      await backend.waitForConnection();
      if (k.setup) await k.setup(c);
      reasons.length = 0;
      k.send(c);
      expect(await ack(c)).not.toBe(0n);
      expect(reasons).toContain(k.reason);
      // The connection is still usable: a well-formed request gets its answer.
      c.send(msg(R.GET_QUEUE_NUM, { kind: 'none' }, 0x1));
      expect(await ack(c)).toBe(2n);
      c.close();
      await secondConnectionWorks();
      expect(openFdCount()).toBe(fds0);
      expect(memfdMappings()).toBe(0);
    });
  }
});

describe('bad input that breaks the stream closes only that connection', () => {
  const fatal: { name: string; reason: string; bytes: () => Uint8Array }[] = [
    { name: 'short header then EOF', reason: 'HEADER_SHORT', bytes: () => new Uint8Array([1, 0, 0, 0, 1]) },
    { name: 'oversized header', reason: 'PAYLOAD_TOO_LARGE', bytes: () => { const b = Buffer.alloc(12); b.writeUInt32LE(R.SET_VRING_NUM, 0); b.writeUInt32LE(1, 4); b.writeUInt32LE(1 << 20, 8); return b; } },
    { name: 'wrong version bits', reason: 'VERSION_MISMATCH', bytes: () => { const b = Buffer.alloc(12); b.writeUInt32LE(1, 0); b.writeUInt32LE(2, 4); return b; } },
    { name: 'bad request without NEED_REPLY', reason: 'VRING_NUM_INVALID', bytes: () => msg(R.SET_VRING_NUM, { kind: 'vringState', state: { index: 0, num: 3 } }, 0x1) },
  ];
  for (const k of fatal) {
    it(`${k.name} → ${k.reason}, connection closed, next one works`, async () => {
      const fds0 = openFdCount();
      reasons.length = 0;
      const c = new RawClient(backend.socketPath);
      await backend.waitForConnection();
      c.send(k.bytes());
      if (k.reason === 'HEADER_SHORT') native.shutdown(c.fd, 'write');
      expect(await c.closedByPeer()).toBe(true);
      await backend.idle();
      expect(reasons).toContain(k.reason);
      c.close();
      await secondConnectionWorks();
      expect(openFdCount()).toBe(fds0);
    });
  }
});
