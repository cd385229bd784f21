/**
 * Issue 11, items 1 (transport half), 3 and 6: every fd a front-end sends is checked before use.
 * kick/call/err must be eventfds (made non-blocking), memory a regular file or memfd sealed
 * against shrinking (unless the back-end trusts unsealed memory), the backend channel a socket.
 * A wrong fd is refused with its reason and closed; that request fails, the connection goes on,
 * and nothing leaks. Real sockets, real fds (pipes, sockets, files, /dev/null, memfds).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserBackend } from './backend.js';
import { VhostUserFrontend } from './frontend.js';
import { EchoDevice } from './echo-device.js';
import { encodeMessage } from './message.js';
import type { Payload } from './message-payload.js';
import { FrontendRequest as R, VHOST_USER_VRING_NOFD_MASK } from './codes.js';
import { RawClient, memfdMappings, openFdCount } from './test-raw-client.js';
import type { StartedQueue } from './device.js';
import * as native from '../native.js';

const reasons: string[] = [];
const logger = { info() {}, debug() {}, warn() {}, error(o: unknown) { const r = (o as { reason?: string }).reason; if (r) reasons.push(r); } };
let dir: string;
let backend: VhostUserBackend;
let trusting: VhostUserBackend;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vtcon-hostile-fds-'));
  backend = new VhostUserBackend({ socketPath: join(dir, 'vm.sock'), createDevice: () => new EchoDevice(), logger });
  backend.listen();
  trusting = new VhostUserBackend({ socketPath: join(dir, 'trusting.sock'), createDevice: () => new EchoDevice(), logger, trustUnsealedMemory: true });
  trusting.listen();
});
afterAll(async () => { await backend.close(); await trusting.close(); rmSync(dir, { recursive: true, force: true }); });

const NEED = 0x9;
const O_PATH = 0o10000000;
const msg = (request: number, payload: Payload, flags = NEED) => encodeMessage({ request, flags, payload });
const region = (size: number) => ({ guestPhysAddr: 0n, memorySize: BigInt(size), userAddr: 0x10000000n, mmapOffset: 0n });
const memTable = (size: number) => msg(R.SET_MEM_TABLE, { kind: 'memTable', regions: [region(size)] });

async function ack(c: RawClient): Promise<bigint | null> {
  const b = await c.read(20);
  return b.byteLength < 20 ? null : b.readBigUInt64LE(12);
}

/** The fds a hostile front-end might send instead of an eventfd or guest RAM. */
const wrongFds: { name: string; kind: string; open(): number }[] = [
  { name: 'a pipe (FIFO)', kind: 'pipe', open: () => { const p = join(dir, `fifo-${Math.random()}`); execFileSync('mkfifo', [p]); return openSync(p, fsc.O_RDWR | fsc.O_NONBLOCK); } },
  { name: 'a socket', kind: 'socket', open: () => { const [a, b] = native.socketPair(); native.close(b); return a; } },
  { name: 'a regular file', kind: 'file', open: () => openSync(join(dir, `file-${Math.random()}`), 'w+') },
  { name: '/dev/null', kind: 'char', open: () => openSync('/dev/null', 'r+') },
  { name: 'a memfd', kind: 'memfd', open: () => native.memfdCreate('not-an-eventfd') },
  { name: 'a directory', kind: 'dir', open: () => openSync(dir, 'r') },
  { name: 'a tty (/dev/ptmx)', kind: 'char', open: () => openSync('/dev/ptmx', 'r+') },
  // An O_PATH fd of a real eventfd: its link says eventfd, but it can be neither read nor polled.
  {
    name: 'an O_PATH fd of an eventfd', kind: 'uninspectable',
    open: () => { const e = native.eventfdCreate(); try { return openSync(`/proc/self/fd/${e}`, O_PATH); } finally { native.close(e); } },
  },
];

/** One refused request: non-zero ack, the reason logged, the connection answers the next request, nothing leaked. */
async function refused(b: VhostUserBackend, send: (c: RawClient) => void, reason: string, setup?: (c: RawClient) => Promise<void>): Promise<void> {
  const fds0 = openFdCount();
  const c = new RawClient(b.socketPath);
  await b.waitForConnection();
  if (setup) await setup(c);
  reasons.length = 0;
  send(c);
  expect(await ack(c)).toBe(1n);
  expect(reasons).toContain(reason);
  c.send(msg(R.GET_QUEUE_NUM, { kind: 'none' }, 0x1));
  expect(await ack(c)).toBe(2n);
  c.close();
  await b.idle();
  expect(openFdCount()).toBe(fds0);
  expect(memfdMappings()).toBe(0);
}

describe('kick/call/err fds must be eventfds', () => {
  for (const request of [R.SET_VRING_KICK, R.SET_VRING_CALL, R.SET_VRING_ERR]) {
    for (const w of wrongFds) {
      it(`${['SET_VRING_KICK', 'SET_VRING_CALL', 'SET_VRING_ERR'][request - R.SET_VRING_KICK]} with ${w.name} → BAD_FD_TYPE`, async () => {
        await refused(backend, (c) => { const fd = w.open(); c.send(msg(request, { kind: 'u64', value: 0n }), [fd]); closeSync(fd); }, 'BAD_FD_TYPE');
      });
    }
  }

  it('fdInfo tells each kind apart', () => {
    for (const w of wrongFds) {
      const fd = w.open();
      try {
        if (w.kind === 'uninspectable') expect(() => native.fdInfo(fd)).toThrow(/EBADF/);
        else expect(native.fdInfo(fd).kind).toBe(w.kind);
      } finally { closeSync(fd); }
    }
    const e = native.eventfdCreate();
    expect(native.fdInfo(e)).toMatchObject({ kind: 'eventfd', readable: true, writable: true, nonBlocking: true, link: 'anon_inode:[eventfd]' });
    native.close(e);
  });

  it('a blocking eventfd is accepted and made non-blocking (the shared file description)', async () => {
    const c = new RawClient(backend.socketPath);
    await backend.waitForConnection();
    const fd = native.eventfdCreate();
    native.setNonBlocking(fd, false);
    expect(native.fdInfo(fd).nonBlocking).toBe(false);
    c.send(msg(R.SET_VRING_CALL, { kind: 'u64', value: 0n }), [fd]);
    expect(await ack(c)).toBe(0n);
    expect(native.fdInfo(fd).nonBlocking).toBe(true);
    native.close(fd);
    c.close();
    await backend.idle();
  });
});

describe('guest memory must be a sealed memfd or file (a shrink under the mapping is SIGBUS)', () => {
  const sealed = (size: number) => { const fd = native.memfdCreate('sealed'); native.ftruncate(fd, size); native.addSeals(fd, native.F_SEAL_SHRINK | native.F_SEAL_GROW); return fd; };
  const unsealed = (size: number) => { const fd = native.memfdCreate('unsealed'); native.ftruncate(fd, size); return fd; };
  const file = (size: number) => { const fd = openSync(join(dir, `ram-${Math.random()}`), 'w+'); native.ftruncate(fd, size); return fd; };
  const send = (make: (size: number) => number) => (c: RawClient) => { const fd = make(1 << 16); c.send(memTable(1 << 16), [fd]); closeSync(fd); };

  it('an unsealed memfd → MEMORY_NOT_SEALED', () => refused(backend, send(unsealed), 'MEMORY_NOT_SEALED'));
  it('a regular file (cannot be sealed) → MEMORY_NOT_SEALED', () => refused(backend, send(file), 'MEMORY_NOT_SEALED'));
  it('a memfd sealed against growing only → MEMORY_NOT_SEALED', () => refused(backend, send((s) => { const fd = unsealed(s); native.addSeals(fd, native.F_SEAL_GROW); return fd; }), 'MEMORY_NOT_SEALED'));
  for (const w of wrongFds.filter((x) => x.kind !== 'memfd' && x.kind !== 'file')) {
    it(`${w.name} as guest RAM → BAD_FD_TYPE`, () => refused(backend, (c) => { const fd = w.open(); c.send(memTable(1 << 16), [fd]); closeSync(fd); }, 'BAD_FD_TYPE'));
  }
  it('ADD_MEM_REG with an unsealed memfd → MEMORY_NOT_SEALED', () => refused(backend, (c) => {
    const fd = unsealed(1 << 16); c.send(msg(R.ADD_MEM_REG, { kind: 'memRegion', region: region(1 << 16) }), [fd]); closeSync(fd);
  }, 'MEMORY_NOT_SEALED', async (c) => { c.send(msg(R.SET_PROTOCOL_FEATURES, { kind: 'u64', value: 0x8000n }, 0x1)); }));

  it('a sealed memfd is accepted, and then cannot shrink under the mapping', async () => {
    const c = new RawClient(backend.socketPath);
    await backend.waitForConnection();
    const fd = sealed(1 << 16);
    c.send(memTable(1 << 16), [fd]);
    expect(await ack(c)).toBe(0n);
    expect(() => native.ftruncate(fd, 4096)).toThrow(/EPERM/);
    native.close(fd);
    c.close();
    await backend.idle();
    expect(memfdMappings()).toBe(0);
  });

  it('trustUnsealedMemory: an unsealed memfd or file is accepted, still only if it covers the region', async () => {
    for (const make of [unsealed, file]) {
      const c = new RawClient(trusting.socketPath);
      await trusting.waitForConnection();
      const fd = make(1 << 16);
      c.send(memTable(1 << 16), [fd]);
      expect(await ack(c)).toBe(0n);
      reasons.length = 0;
      c.send(memTable(1 << 17), [fd]);
      expect(await ack(c)).toBe(1n);
      expect(reasons).toContain('MMAP_OUT_OF_FILE');
      closeSync(fd);
      c.close();
      await trusting.idle();
    }
    expect(memfdMappings()).toBe(0);
  });

  it('SET_INFLIGHT_FD with an unsealed memfd → MEMORY_NOT_SEALED', () => refused(backend, (c) => {
    const fd = unsealed(1 << 16);
    c.send(msg(R.SET_INFLIGHT_FD, { kind: 'inflight', inflight: { mmapSize: 8320n, mmapOffset: 0n, numQueues: 2, queueSize: 64 } }), [fd]);
    closeSync(fd);
  }, 'MEMORY_NOT_SEALED'));

  it('the front-end role seals its guest RAM (as QEMU does) and negotiates with a strict back-end', async () => {
    const fe = VhostUserFrontend.connect(backend.socketPath);
    await fe.negotiate({ memory: [1 << 20] });
    for (const r of fe.regions) expect(native.fdInfo(r.fd).seals & (native.F_SEAL_SHRINK | native.F_SEAL_GROW)).toBe(native.F_SEAL_SHRINK | native.F_SEAL_GROW);
    fe.close();
    await backend.idle();
  });
});

describe('SET_BACKEND_REQ_FD must be a socket', () => {
  for (const w of wrongFds.filter((x) => x.kind !== 'socket')) {
    it(`${w.name} → BAD_FD_TYPE`, () => refused(backend, (c) => { const fd = w.open(); c.send(msg(R.SET_BACKEND_REQ_FD, { kind: 'none' }), [fd]); closeSync(fd); }, 'BAD_FD_TYPE'));
  }
});

describe('SET_VRING_CALL with the no-fd bit: no interrupt, the front-end polls (spec)', () => {
  it('the queue starts with callFd -1, the device never signals, and the data still flows', async () => {
    const started: StartedQueue[] = [];
    const b = new VhostUserBackend({
      socketPath: join(dir, 'nocall.sock'), logger,
      createDevice: () => { const d = new EchoDevice(); const s = d.startQueue.bind(d); d.startQueue = (i, q) => { started.push(q); s(i, q); }; return d; },
    });
    b.listen();
    try {
      const fe = VhostUserFrontend.connect(b.socketPath);
      await fe.negotiate({ memory: [1 << 20] });
      for (const i of [0, 1]) {
        await fe.setupQueue(i, 64);
        await fe.request(R.SET_VRING_CALL, { kind: 'u64', value: BigInt(i) | VHOST_USER_VRING_NOFD_MASK }, { needReply: true });
        await fe.enableQueue(i);
      }
      expect(started.map((q) => q.callFd)).toEqual([-1, -1]);
      // The driver polls the used ring (no call eventfd is ever written): one chain echoes.
      const rx = fe.queues.get(0)!.driver; const tx = fe.queues.get(1)!.driver;
      const rxBuf = fe.alloc(64); const txBuf = fe.alloc(64);
      fe.memory!.view(txBuf, 5).set(Buffer.from('hello'));
      rx.addChain([], [{ addr: rxBuf, len: 64 }], 'rx');
      tx.addChain([{ addr: txBuf, len: 5 }], [], 'tx');
      rx.kickPrepare(); tx.kickPrepare(); fe.kick(0); fe.kick(1);
      let used = null;
      for (let i = 0; i < 200 && used === null; i++) { await new Promise((r) => setTimeout(r, 5)); used = rx.getUsed(); }
      expect(used?.len).toBe(5);
      expect(Buffer.from(fe.memory!.view(rxBuf, 5)).toString()).toBe('hello');
      for (const i of [0, 1]) expect(native.eventfdRead(fe.queues.get(i)!.callFd)).toBe(0);
      fe.close();
      await b.idle();
    } finally { await b.close(); }
  });
});
