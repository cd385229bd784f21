/**
 * Issue 11, items 4 and 16: a front-end that half-closes its socket before a reply, and guest
 * RAM far larger than RAM + swap. The back-end must end that connection cleanly (teardown runs,
 * a log line, never an unhandled rejection) and must release every mapping at disconnect
 * (no memfd left mapped, VmSize flat across reconnects).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserBackend } from './backend.js';
import { EchoDevice } from './echo-device.js';
import { encodeMessage } from './message.js';
import type { Payload } from './message-payload.js';
import { FrontendRequest as R } from './codes.js';
import { RawClient, floodUnread, memfdMappings, openFdCount } from './test-raw-client.js';
import { VhostUserMemoryTable } from '../memory/memory-table.js';
import type { VhostUserError } from '../errors.js';
import * as native from '../native.js';

const logs: { level: string; msg?: string; reason?: string; err?: string }[] = [];
const log = (level: string) => (o: unknown, msg?: string) => { logs.push({ level, msg, reason: (o as { reason?: string }).reason, err: (o as { err?: string }).err }); };
const logger = { info: log('info'), debug() {}, warn: log('warn'), error: log('error') };
let dir: string;
let backend: VhostUserBackend;
const devices: EchoDevice[] = [];
const rejections: unknown[] = [];
const onRejection = (e: unknown): void => { rejections.push(e); };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vtcon-hostile-peer-'));
  backend = new VhostUserBackend({ socketPath: join(dir, 'vm.sock'), createDevice: () => { const d = new EchoDevice(); devices.push(d); return d; }, logger });
  backend.listen();
});
afterAll(async () => { await backend.close(); rmSync(dir, { recursive: true, force: true }); });
beforeEach(() => { process.on('unhandledRejection', onRejection); logs.length = 0; rejections.length = 0; });
afterEach(() => { process.off('unhandledRejection', onRejection); });

const NEED = 0x9;
const msg = (request: number, payload: Payload, flags = NEED) => encodeMessage({ request, flags, payload });
const GiB = 2 ** 30;
const sealedMemfd = (size: number) => { const fd = native.memfdCreate('hostile-ram'); native.ftruncate(fd, size); native.addSeals(fd, native.F_SEAL_SHRINK | native.F_SEAL_GROW); return fd; };
const memTable = (size: number) => msg(R.SET_MEM_TABLE, { kind: 'memTable', regions: [{ guestPhysAddr: 0n, memorySize: BigInt(size), userAddr: 0x10000000n, mmapOffset: 0n }] });
const vmSize = (): number => Number(/VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('a reply to a half-closed socket ends that connection cleanly', () => {
  const cases: { name: string; bytes: () => Uint8Array }[] = [
    { name: 'SET_OWNER with NEED_REPLY (REPLY_ACK)', bytes: () => msg(R.SET_OWNER, { kind: 'none' }) },
    { name: 'GET_FEATURES (reply body)', bytes: () => msg(R.GET_FEATURES, { kind: 'none' }, 0x1) },
    { name: 'a failing request with NEED_REPLY (the error ack)', bytes: () => msg(R.SET_VRING_NUM, { kind: 'vringState', state: { index: 0, num: 3 } }) },
  ];
  for (const k of cases) {
    it(`${k.name} after shutdown(SHUT_RD): teardown runs, a log line, no unhandled rejection`, async () => {
      const fds0 = openFdCount();
      const disconnects0 = devices.reduce((n, d) => n + d.disconnects, 0);
      const c = new RawClient(backend.socketPath);
      await backend.waitForConnection();
      const ram = sealedMemfd(1 << 16);
      c.send(memTable(1 << 16), [ram]); // something to release at teardown
      native.close(ram);
      expect((await c.read(20)).readBigUInt64LE(12)).toBe(0n);
      native.shutdown(c.fd, 'read');
      c.send(k.bytes());
      await backend.idle();
      await tick(); // an unhandled rejection is reported after the microtask queue drains
      expect(rejections).toEqual([]);
      expect(devices.reduce((n, d) => n + d.disconnects, 0)).toBe(disconnects0 + 1);
      expect(logs.some((l) => l.level === 'warn' && l.msg?.includes('reply not sent'))).toBe(true);
      expect(memfdMappings()).toBe(0);
      c.close();
      expect(openFdCount()).toBe(fds0);
      // The back-end still serves the next front-end.
      const d = new RawClient(backend.socketPath);
      await backend.waitForConnection();
      d.send(msg(R.GET_QUEUE_NUM, { kind: 'none' }, 0x1));
      expect((await d.read(20)).readBigUInt64LE(12)).toBe(2n);
      d.close();
      await backend.idle();
    });
  }
});

describe('a front-end that never reads its replies', () => {
  it('is disconnected once its queued replies reach the bound, counted with what each queued message costs, not only its bytes', async () => {
    const disconnects0 = devices.reduce((n, d) => n + d.disconnects, 0);
    const fd = native.connectUnix(backend.socketPath); // never read: every reply stays queued
    await backend.waitForConnection();
    // 20-byte replies (GET_FEATURES): by bytes alone 16 MiB is 838,860 of them, some 200 MB of
    // JS objects; the bound must end the connection long before that.
    const { sent, gone } = await floodUnread(fd, () => devices.reduce((n, d) => n + d.disconnects, 0) > disconnects0);
    native.close(fd);
    await backend.idle();
    expect(gone, `still connected after ${sent} requests`).toBe(true);
    expect(sent).toBeLessThan(100_000);
    expect(logs.some((l) => l.level === 'error' && l.err?.includes('peer is not reading'))).toBe(true);
  });
});

describe('guest RAM larger than RAM + swap is released at every disconnect', () => {
  it('64 GiB sealed memfd, 5 connect/disconnect cycles: no memfd mapping left, VmSize flat', async () => {
    const vm0 = vmSize();
    for (let i = 0; i < 5; i++) {
      const c = new RawClient(backend.socketPath);
      await backend.waitForConnection();
      const ram = sealedMemfd(64 * GiB); // sparse: costs no memory
      c.send(memTable(64 * GiB), [ram]);
      native.close(ram);
      expect((await c.read(20)).readBigUInt64LE(12)).toBe(0n);
      expect(memfdMappings()).toBe(1);
      c.close();
      await backend.idle();
      // The anonymous replacement (MAP_FIXED) must not be refused by the overcommit heuristic.
      expect(memfdMappings()).toBe(0);
      expect(logs.filter((l) => l.reason === 'MAPPING_RELEASE_FAILED')).toEqual([]);
      // At most the region just released waits for GC: not one more per cycle.
      expect(vmSize() - vm0).toBeLessThan(2 * 64 * GiB);
    }
  });

  it('a mapping the kernel refuses to release is reported (MAPPING_RELEASE_FAILED), never taken for "already released"', () => {
    const errors: VhostUserError[] = [];
    const refusing = { ...native, releaseMapping: () => { throw new native.NativeError('SYSCALL_FAILED', 'mmap', 'ENOMEM', 12, 'Cannot allocate memory'); } };
    const table = new VhostUserMemoryTable(refusing, { onReleaseError: (e) => errors.push(e) });
    const fd = sealedMemfd(1 << 16);
    table.setTable([{ guestPhysAddr: 0n, memorySize: 1n << 16n, userAddr: 0n, mmapOffset: 0n }], [fd]);
    const sab = table.mapped[0]!.sab;
    table.release();
    expect(errors.map((e) => e.reason)).toEqual(['MAPPING_RELEASE_FAILED']);
    expect(errors[0]!.message).toContain('ENOMEM');
    native.releaseMapping(sab); // the real one, so this test leaves nothing mapped
    expect(memfdMappings()).toBe(0);
  });
});
