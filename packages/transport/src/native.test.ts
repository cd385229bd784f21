// Real syscalls through the compiled addon (no mocks): memfd + shared mappings, releaseMapping,
// Unix sockets with SCM_RIGHTS, eventfd, errno-carrying errors, and leak checks.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  NativeError, accept, close, connectUnix, eventfdCreate, eventfdRead, eventfdWrite, ftruncate,
  listenUnix, memfdCreate, mmapShared, peerHungUp, recvMsg, releaseMapping, sendMsg, shutdown, socketPair,
} from './native.js';

const dir = mkdtempSync(join(tmpdir(), 'vtcon-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fdCount = (): number => readdirSync('/proc/self/fd').length;
const memfdLines = (name: string): number =>
  readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(`/memfd:${name} `) || l.endsWith(`/memfd:${name} (deleted)`)).length;

function thrown(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NativeError);
    return e as NativeError;
  }
  throw new Error('expected a NativeError');
}

/** listen + connect + accept: a connected pair of stream sockets through a real path. */
function connectedPair(name: string): { server: number; client: number; listener: number } {
  const path = join(dir, name);
  const listener = listenUnix(path);
  const client = connectUnix(path);
  const server = accept(listener);
  if (server === null) throw new Error('accept returned null after connect');
  return { server, client, listener };
}

describe('memfd + mmapShared', () => {
  it('maps a memfd into a SharedArrayBuffer whose writes are visible through a second mapping', () => {
    const fd = memfdCreate('vtcon-test-map');
    ftruncate(fd, 2 * 4096);
    const a = mmapShared(fd, 2 * 4096, 0);
    const b = mmapShared(fd, 4096, 4096); // second mapping of the second page
    expect(a).toBeInstanceOf(SharedArrayBuffer);
    expect(a.byteLength).toBe(8192);
    new Uint8Array(a).set([1, 2, 3], 4096);
    expect([...new Uint8Array(b, 0, 3)]).toEqual([1, 2, 3]);
    new Uint8Array(b)[10] = 99;
    expect(new Uint8Array(a)[4096 + 10]).toBe(99);
    expect(memfdLines('vtcon-test-map')).toBe(2);
    releaseMapping(a);
    releaseMapping(b);
    close(fd);
  });

  it('releaseMapping drops the memfd from /proc/self/maps at once while the SAB stays readable (zeros)', () => {
    const fd = memfdCreate('vtcon-test-release');
    ftruncate(fd, 65536);
    const sab = mmapShared(fd, 65536);
    const view = new Uint8Array(sab);
    view.fill(7);
    expect(memfdLines('vtcon-test-release')).toBe(1);
    releaseMapping(sab);
    expect(memfdLines('vtcon-test-release')).toBe(0);
    expect(view[0]).toBe(0);
    expect(view[65535]).toBe(0);
    view[5] = 1; // still writable, now private anonymous memory
    expect(view[5]).toBe(1);
    releaseMapping(sab); // idempotent
    close(fd);
  });

  it('rejects releaseMapping of a SharedArrayBuffer it did not map', () => {
    const e = thrown(() => releaseMapping(new SharedArrayBuffer(4096)));
    expect(e.reason).toBe('INVALID_ARGUMENT');
    expect(e.syscall).toBe('releaseMapping');
  });

  it('1,000 create → mmap → releaseMapping → close cycles leave fds and memfd mappings flat', () => {
    const fdsBefore = fdCount();
    for (let i = 0; i < 1000; i++) {
      const fd = memfdCreate('vtcon-test-cycle');
      ftruncate(fd, 65536);
      const sab = mmapShared(fd, 65536);
      new Uint8Array(sab)[i % 65536] = 1;
      releaseMapping(sab);
      close(fd);
    }
    expect(memfdLines('vtcon-test-cycle')).toBe(0);
    expect(fdCount()).toBe(fdsBefore);
  });
});

describe('errors carry errno name, number and syscall', () => {
  it('close(-1) → EBADF', () => {
    const e = thrown(() => close(-1));
    expect(e).toMatchObject({ reason: 'SYSCALL_FAILED', syscall: 'close', code: 'EBADF', errno: 9, scope: 'none' });
    expect(e.message).toContain('EBADF');
  });

  it('mmap of a closed fd → EBADF, of a bad offset → EINVAL', () => {
    expect(thrown(() => mmapShared(-1, 4096)).code).toBe('EBADF');
    const fd = memfdCreate('vtcon-test-err');
    ftruncate(fd, 8192);
    expect(thrown(() => mmapShared(fd, 4096, 100))).toMatchObject({ syscall: 'mmap', code: 'EINVAL' });
    close(fd);
  });

  it('connect to a missing path → ENOENT; a second listener on a live path → EADDRINUSE', () => {
    expect(thrown(() => connectUnix(join(dir, 'nobody')))).toMatchObject({ syscall: 'connect', code: 'ENOENT' });
    const path = join(dir, 'busy');
    const l = listenUnix(path);
    expect(thrown(() => listenUnix(path)).code).toBe('EADDRINUSE');
    close(l);
  });

  it('bad arguments are rejected before any syscall', () => {
    expect(thrown(() => ftruncate(1.5, 10)).reason).toBe('INVALID_ARGUMENT');
    expect(thrown(() => sendMsg(1, 'x' as unknown as Uint8Array)).reason).toBe('INVALID_ARGUMENT');
  });
});

describe('Unix sockets', () => {
  it('listen/connect/accept; accept returns null when nothing is pending; EOF after shutdown', () => {
    const { server, client, listener } = connectedPair('basic');
    expect(accept(listener)).toBeNull();
    const buf = new Uint8Array(16);
    expect(recvMsg(server, buf)).toBeNull(); // EAGAIN
    expect(sendMsg(client, new Uint8Array([1, 2, 3]))).toBe(3);
    expect(recvMsg(server, buf)).toEqual({ bytes: 3, fds: [], ctrunc: false });
    shutdown(client, 'write');
    expect(recvMsg(server, buf)?.bytes).toBe(0);
    for (const fd of [server, client, listener]) close(fd);
  });

  it('listenUnix replaces a stale socket file but not a regular file', () => {
    const path = join(dir, 'stale');
    close(listenUnix(path)); // leaves the socket file behind, nobody listening
    const l = listenUnix(path);
    close(l);
    const file = join(dir, 'regular');
    writeFileSync(file, 'keep me');
    expect(thrown(() => listenUnix(file)).code).toBe('EADDRINUSE');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('a seqpacket pair keeps records whole, each with its own fds', () => {
    const [a, b] = socketPair('seqpacket');
    const efd = eventfdCreate();
    sendMsg(a, new Uint8Array([1, 2, 3]), [efd]);
    sendMsg(a, new Uint8Array([4, 5]));
    const buf = new Uint8Array(64);
    const r1 = recvMsg(b, buf, 4)!;
    expect(r1.bytes).toBe(3);
    expect(r1.fds).toHaveLength(1);
    const r2 = recvMsg(b, buf, 4)!;
    expect([r2.bytes, r2.fds.length, buf[0], buf[1]]).toEqual([2, 0, 4, 5]);
    for (const fd of [a, b, efd, r1.fds[0]!]) close(fd);
  });

  it('sendMsg throws EAGAIN when the socket buffer is full', () => {
    const [a, b] = socketPair();
    const chunk = new Uint8Array(65536);
    let error: NativeError | undefined;
    for (let i = 0; i < 10_000 && error === undefined; i++) {
      try {
        sendMsg(a, chunk);
      } catch (e) {
        error = e as NativeError;
      }
    }
    expect(error).toMatchObject({ syscall: 'sendmsg', code: 'EAGAIN' });
    close(a);
    close(b);
  });

  it('passes several fds in one message; the received fds work', () => {
    const { server, client, listener } = connectedPair('fds');
    const efd = eventfdCreate();
    const mfd = memfdCreate('vtcon-test-passed');
    ftruncate(mfd, 4096);
    const [p, q] = socketPair();
    expect(sendMsg(client, new Uint8Array([0xaa]), [efd, mfd, q])).toBe(1);
    const got = recvMsg(server, new Uint8Array(8));
    expect(got?.bytes).toBe(1);
    expect(got?.ctrunc).toBe(false);
    const [efd2, mfd2, q2] = got!.fds as [number, number, number];
    expect(new Set([efd2, mfd2, q2, efd, mfd, q]).size).toBe(6); // new fd numbers
    // eventfd: write through the received copy, read through the original
    eventfdWrite(efd2, 5);
    expect(eventfdRead(efd)).toBe(5);
    // memfd: the same file behind both
    const mine = mmapShared(mfd, 4096);
    const theirs = mmapShared(mfd2, 4096);
    new Uint8Array(mine)[100] = 42;
    expect(new Uint8Array(theirs)[100]).toBe(42);
    // socket end
    sendMsg(q2, new Uint8Array([7]));
    expect(recvMsg(p, new Uint8Array(4))).toEqual({ bytes: 1, fds: [], ctrunc: false });
    // received fds are close-on-exec
    for (const fd of got!.fds) {
      const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      expect(parseInt(flags ?? '0', 8) & 0o2000000).toBe(0o2000000); // O_CLOEXEC
    }
    releaseMapping(mine);
    releaseMapping(theirs);
    for (const fd of [server, client, listener, efd, mfd, p, q, efd2, mfd2, q2]) close(fd);
  });

  it('reports MSG_CTRUNC when maxFds is too small, and the excess fds are not leaked', () => {
    const [a, b] = socketPair();
    const [p, q] = socketPair();
    const e1 = eventfdCreate();
    const e2 = eventfdCreate();
    sendMsg(a, new Uint8Array([1]), [e1, e2, q]);
    close(q); // only the in-flight copy keeps p's peer alive now
    const before = fdCount();
    const got = recvMsg(b, new Uint8Array(4), 1);
    expect(got?.ctrunc).toBe(true);
    expect(got?.fds.length).toBe(1);
    for (const fd of got!.fds) close(fd);
    expect(fdCount()).toBe(before);
    // the truncated socket end was closed by the kernel: p sees EOF, not EAGAIN
    expect(recvMsg(p, new Uint8Array(4))?.bytes).toBe(0);
    for (const fd of [a, b, p, e1, e2]) close(fd);
  });

  it('1,000 listen-side connect/accept/close cycles leave fds flat', () => {
    const path = join(dir, 'cycles');
    const listener = listenUnix(path);
    const before = fdCount();
    for (let i = 0; i < 1000; i++) {
      const c = connectUnix(path);
      const s = accept(listener);
      expect(s).not.toBeNull();
      close(c);
      close(s!);
    }
    expect(fdCount()).toBe(before);
    close(listener);
  });
});

describe('peerHungUp', () => {
  it('is false while the peer is open (even with unread bytes), true once it closed, and not for a half-close', () => {
    const [a, b] = socketPair();
    try {
      expect(peerHungUp(a)).toBe(false);
      sendMsg(b, new Uint8Array([1, 2, 3]));
      shutdown(b, 'write'); // half-close: the peer may still read what a sends
      expect(peerHungUp(a)).toBe(false);
      close(b);
      expect(peerHungUp(a)).toBe(true);
    } finally {
      close(a);
    }
  });
});

describe('eventfd', () => {
  it('is non-blocking, accumulates writes, and reads reset the counter', () => {
    const fd = eventfdCreate();
    expect(eventfdRead(fd)).toBe(0);
    eventfdWrite(fd);
    eventfdWrite(fd, 3);
    eventfdWrite(fd, 4);
    expect(eventfdRead(fd)).toBe(8);
    expect(eventfdRead(fd)).toBe(0);
    expect(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')).toMatch(/eventfd-count:\s+0/);
    close(fd);
    expect(thrown(() => eventfdWrite(fd)).code).toBe('EBADF');
  });
});
