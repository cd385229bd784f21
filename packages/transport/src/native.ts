/**
 * The native syscall layer: the ONLY module that loads the compiled addon (native/*.cc).
 *
 * Thread contract: every function acts on the calling thread; the addon is loaded once per
 * thread (main thread, worker_threads and piscina workers each get their own instance). fds are
 * plain numbers, process-wide, owned by whoever created/received them and closed explicitly
 * with close(). A SharedArrayBuffer from mmapShared can be posted to other threads (same
 * mapping, so Atomics.wait/notify pair across threads); releaseMapping may be called from any.
 *
 * Every failure throws NativeError (errors-native.ts). Non-blocking fds report "nothing yet" as
 * a value where polling is the normal pattern: accept → null, recvMsg → null, eventfdRead → 0.
 * The addon is loaded lazily, so importing this module never fails; the first call throws
 * NativeError('ADDON_NOT_BUILT') with build instructions if there is no build for this Node.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeError } from './errors-native.js';

export { NativeError } from './errors-native.js';
export type { NativeErrorReason, ErrorScope } from './errors-native.js';

/** Result of recvMsg. `bytes` 0 means the peer closed (EOF). */
export interface RecvMsgResult {
  bytes: number;
  /** Received fds, in order, already CLOEXEC; the caller owns (and must close) them. */
  fds: number[];
  /** MSG_CTRUNC: more fds arrived than maxFds; the kernel closed the excess. Reject the message. */
  ctrunc: boolean;
}

export type WatchEvents = 'readable' | 'writable' | 'both';

/** A uv_poll watch. stop() is idempotent; call it before closing the fd. */
export interface FdWatch {
  stop(): void;
}

interface Addon {
  setErrorClass(ctor: typeof NativeError): void;
  memfdCreate(name: string): number;
  ftruncate(fd: number, size: number): void;
  close(fd: number): void;
  mmapShared(fd: number, size: number, offset: number): SharedArrayBuffer;
  releaseMapping(sab: SharedArrayBuffer): void;
  listenUnix(path: string, backlog: number): number;
  accept(listenFd: number): number | null;
  connectUnix(path: string): number;
  socketPair(): [number, number];
  shutdown(fd: number, how: number): void;
  sendMsg(fd: number, data: Uint8Array, fds: readonly number[] | undefined): number;
  recvMsg(fd: number, buf: Uint8Array, maxFds: number): RecvMsgResult | null;
  eventfdCreate(): number;
  eventfdWrite(fd: number, value: number): void;
  eventfdRead(fd: number): number;
  FdWatch: new (fd: number, events: number, cb: (readable: boolean, writable: boolean) => void) => FdWatch;
}

const packageRoot = new URL('../', import.meta.url); // src/ (tests) and dist/ (built) are both one level down

/** Where the addon for a Node ABI (process.versions.modules) lives: native/build-abi<modules>/. */
export function nativeAddonPath(modules: string = process.versions.modules): string {
  return fileURLToPath(new URL(`native/build-abi${modules}/vtcon_native.node`, packageRoot));
}

let loaded: Addon | undefined;

function addon(): Addon {
  if (loaded !== undefined) return loaded;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    const script = fileURLToPath(new URL('native/build-for-node.sh', packageRoot));
    const prefix = process.execPath.replace(/\/bin\/node$/, '');
    throw new NativeError('ADDON_NOT_BUILT', 'load', 'ENOENT', 2,
      `no native addon for Node ${process.version} (ABI ${process.versions.modules}) at ${path}; build it with: bash ${script} ${prefix}`);
  }
  const mod = createRequire(import.meta.url)(path) as Addon;
  mod.setErrorClass(NativeError);
  loaded = mod;
  return mod;
}

/** memfd_create(name, MFD_CLOEXEC): anonymous file for guest RAM; `name` shows in /proc/self/maps. */
export function memfdCreate(name: string): number {
  return addon().memfdCreate(name);
}

/** ftruncate: size a memfd before mapping it. */
export function ftruncate(fd: number, size: number): void {
  addon().ftruncate(fd, size);
}

/** close(fd). Throws EBADF for an fd that is not open. */
export function close(fd: number): void {
  addon().close(fd);
}

/**
 * mmap(size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, offset) as a SharedArrayBuffer over the
 * mapping (no copy). `offset` must be page-aligned. The mapping is unmapped only when the SAB is
 * garbage collected — call releaseMapping when the memory is no longer in use.
 */
export function mmapShared(fd: number, size: number, offset = 0): SharedArrayBuffer {
  return addon().mmapShared(fd, size, offset);
}

/**
 * Drops the file behind a mmapShared SAB now (anonymous MAP_FIXED mapping over the range): the
 * memfd's pages are released, the SAB (and every view/clone of it, in every thread) stays valid
 * and reads zeros. Idempotent. Throws INVALID_ARGUMENT for any other SharedArrayBuffer.
 */
export function releaseMapping(sab: SharedArrayBuffer): void {
  addon().releaseMapping(sab);
}

/**
 * Listening Unix stream socket (non-blocking, CLOEXEC). A stale socket file at `path` (no one
 * listening) is unlinked first; a live listener gives EADDRINUSE.
 */
export function listenUnix(path: string, backlog = 128): number {
  return addon().listenUnix(path, backlog);
}

/** accept4 (non-blocking, CLOEXEC connection fd); null when no connection is pending. */
export function accept(listenFd: number): number | null {
  return addon().accept(listenFd);
}

/** Connects to a Unix stream socket; the connect blocks (Unix connects are immediate), the fd is non-blocking after. */
export function connectUnix(path: string): number {
  return addon().connectUnix(path);
}

/** socketpair(AF_UNIX, SOCK_STREAM), both ends non-blocking and CLOEXEC. */
export function socketPair(): [number, number] {
  return addon().socketPair();
}

const SHUT = { read: 0, write: 1, both: 2 } as const;

/** shutdown(fd, SHUT_RD/WR/RDWR): the peer sees EOF even if other fds to this socket stay open. */
export function shutdown(fd: number, how: 'read' | 'write' | 'both' = 'both'): void {
  addon().shutdown(fd, SHUT[how]);
}

/**
 * sendmsg(MSG_NOSIGNAL) of `data` with `fds` attached as SCM_RIGHTS (up to 253). Returns bytes
 * written (may be < data.length on a full socket; the fds go with the first byte). Throws
 * NativeError — EAGAIN included — so a caller that must not block watches for 'writable'.
 */
export function sendMsg(fd: number, data: Uint8Array, fds?: readonly number[]): number {
  return addon().sendMsg(fd, data, fds);
}

/** recvmsg(MSG_CMSG_CLOEXEC) into `buf`, accepting up to `maxFds` fds. null on EAGAIN. */
export function recvMsg(fd: number, buf: Uint8Array, maxFds = 8): RecvMsgResult | null {
  return addon().recvMsg(fd, buf, maxFds);
}

/** eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC): a vhost-user kick or call fd. */
export function eventfdCreate(): number {
  return addon().eventfdCreate();
}

/** Adds `value` (default 1) to the eventfd counter: signals the peer. */
export function eventfdWrite(fd: number, value = 1): void {
  addon().eventfdWrite(fd, value);
}

/** Reads and resets the counter; 0 if nothing was pending. */
export function eventfdRead(fd: number): number {
  return addon().eventfdRead(fd);
}

const EVENTS = { readable: 1, writable: 2, both: 3 } as const;

/**
 * Calls `cb` on the calling thread's event loop whenever `fd` is ready (level-triggered: it keeps
 * firing until the condition is consumed, e.g. eventfdRead / recvMsg until null). Works inside
 * worker_threads and piscina workers; an active watch keeps that thread's loop alive. If the fd
 * fails (e.g. closed under the watch) cb gets (true, true) once and the watch stops itself.
 * A throwing cb is reported as 'uncaughtException'. Watches still active when a worker exits are
 * stopped by the addon.
 */
export function watchFd(fd: number, events: WatchEvents, cb: (readable: boolean, writable: boolean) => void): FdWatch {
  const Watch = addon().FdWatch;
  return new Watch(fd, EVENTS[events], cb);
}
