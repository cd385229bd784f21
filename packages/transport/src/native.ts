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

interface RawFdInfo { mode: number; size: number; flags: number; seals: number; link: string }

/** What kind of file an fd is (fstat's type, told apart further by /proc/self/fd's link). */
export type FdKind = 'eventfd' | 'memfd' | 'file' | 'socket' | 'pipe' | 'char' | 'block' | 'dir' | 'other';

/** fdInfo's answer: enough to check an fd a peer sent before using it. */
export interface FdInfo {
  kind: FdKind;
  /** st_size (regular files and memfds; 0 for most others). */
  size: number;
  readable: boolean;
  writable: boolean;
  nonBlocking: boolean;
  /** F_GET_SEALS bits (F_SEAL_*), or -1 where the file cannot carry seals (not shmem/hugetlbfs). */
  seals: number;
  /** readlink(/proc/self/fd/N), e.g. 'anon_inode:[eventfd]', '/memfd:guest-ram (deleted)', 'pipe:[123]'. */
  link: string;
}

/** fcntl seal bits (F_ADD_SEALS / F_GET_SEALS). */
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
export const F_SEAL_WRITE = 0x8;

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
  fdInfo(fd: number): RawFdInfo;
  setNonBlocking(fd: number, on: boolean): void;
  peerHungUp(fd: number): boolean;
  addSeals(fd: number, seals: number): void;
  listenUnix(path: string, backlog: number): number;
  accept(listenFd: number): number | null;
  connectUnix(path: string): number;
  socketPair(seqpacket?: boolean): [number, number];
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

/** memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING): anonymous file for guest RAM; `name` shows in /proc/self/maps. */
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
 * and reads zeros. Idempotent: a second call does nothing. Throws INVALID_ARGUMENT for any other
 * SharedArrayBuffer, and SYSCALL_FAILED when the kernel refused the replacement — then the file
 * is still mapped (until the SAB is collected): report it, never treat it as "already released".
 * The released range is reported to V8 as external memory so the SAB is collected soon and its
 * address range (VmSize) returned.
 */
export function releaseMapping(sab: SharedArrayBuffer): void {
  addon().releaseMapping(sab);
}

const S_IFMT = 0o170000;
const TYPES: Record<number, FdKind> = { 0o140000: 'socket', 0o100000: 'file', 0o060000: 'block', 0o040000: 'dir', 0o020000: 'char', 0o010000: 'pipe' };
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_NONBLOCK = 0o4000;

/**
 * fstat + fcntl(F_GETFL, F_GET_SEALS) + readlink(/proc/self/fd/N) of one fd. eventfds are
 * recognised by their link ('anon_inode:[eventfd]'), memfds by theirs ('/memfd:…'); both say only
 * what the fd is, not who else holds it.
 */
export function fdInfo(fd: number): FdInfo {
  const r = addon().fdInfo(fd);
  let kind = TYPES[r.mode & S_IFMT] ?? 'other';
  if (r.link === 'anon_inode:[eventfd]') kind = 'eventfd';
  else if (kind === 'file' && r.link.startsWith('/memfd:')) kind = 'memfd';
  const acc = r.flags & O_ACCMODE;
  return {
    kind, size: r.size, seals: r.seals, link: r.link,
    readable: acc !== O_WRONLY, writable: acc === O_WRONLY || acc === O_RDWR, nonBlocking: (r.flags & O_NONBLOCK) !== 0,
  };
}

/**
 * fcntl(F_SETFL) setting (default) or clearing O_NONBLOCK. Acts on the open file description,
 * which a peer that sent the fd shares.
 */
export function setNonBlocking(fd: number, on = true): void {
  addon().setNonBlocking(fd, on);
}

/**
 * True when the peer of connected socket `fd` has closed it (POLLHUP) or the fd is in error: a
 * socket whose reads are paused (backpressure) never sees the EOF a read would return.
 */
export function peerHungUp(fd: number): boolean {
  return addon().peerHungUp(fd);
}

/** fcntl(F_ADD_SEALS): e.g. F_SEAL_SHRINK | F_SEAL_GROW on guest RAM (memfdCreate allows sealing). */
export function addSeals(fd: number, seals: number): void {
  addon().addSeals(fd, seals);
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

/**
 * socketpair(AF_UNIX, SOCK_STREAM), or SOCK_SEQPACKET (records kept whole, each with its fds),
 * both ends non-blocking and CLOEXEC.
 */
export function socketPair(kind: 'stream' | 'seqpacket' = 'stream'): [number, number] {
  return addon().socketPair(kind === 'seqpacket');
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
 *
 * A throwing cb never becomes an uncaught exception: the watch stops (a level-triggered cb that
 * throws would otherwise spin) and the error goes to `onError` — the owner decides what broke
 * (that queue, that connection). Without `onError` it is emitted as a process warning. Watches
 * still active when a worker exits are stopped by the addon.
 */
export function watchFd(fd: number, events: WatchEvents, cb: (readable: boolean, writable: boolean) => void, onError?: (err: unknown) => void): FdWatch {
  const Watch = addon().FdWatch;
  let watch: FdWatch | null = null;
  let failed = false;
  const guarded = (readable: boolean, writable: boolean): void => {
    if (failed) return;
    try {
      cb(readable, writable);
    } catch (e) {
      failed = true;
      watch?.stop();
      reportWatchError(e, onError);
    }
  };
  watch = new Watch(fd, EVENTS[events], guarded);
  return watch;
}

function reportWatchError(e: unknown, onError: ((err: unknown) => void) | undefined): void {
  try {
    if (onError) { onError(e); return; }
  } catch (again) {
    e = again;
  }
  try {
    const detail = e instanceof Error ? e.stack ?? e.message : String(e);
    process.emitWarning(`watchFd callback threw: ${e instanceof Error ? e.message : String(e)}`, { type: 'WatchFdError', code: 'VTCON_WATCH_CALLBACK_THREW', detail });
  } catch { /* nothing left that could report it */ }
}
