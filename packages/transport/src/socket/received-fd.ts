/**
 * Checks on every fd a front-end sends, before anything uses it. An fd of the wrong kind is a
 * hostile or broken peer, and using it anyway breaks the process, not the connection:
 * - a pipe or a full socket as call fd blocks the thread that writes it;
 * - a socket or pipe as kick fd fails (ECONNRESET) inside a poll callback once its peer goes;
 * - memory that can shrink under a MAP_SHARED mapping is SIGBUS on the next access.
 *
 * So kick/call/err fds must be eventfds (and are made non-blocking), memory fds regular files
 * (memfds) sealed against shrinking (F_SEAL_SHRINK, as QEMU's memory-backend-memfd does by
 * default) unless the back-end was told to trust unsealed memory, and the backend request fd a
 * socket. Failures are VhostUserError BAD_FD_TYPE / MEMORY_NOT_SEALED / MMAP_OUT_OF_FILE with
 * scope 'none': the request fails; the caller still owns (and closes) the fd.
 */
import * as native from '../native.js';
import type { FdInfo } from '../native.js';
import { VhostUserError } from '../errors.js';

export type EventfdUse = 'kick' | 'call' | 'err';

function inspect(fd: number, what: string): FdInfo {
  try {
    return native.fdInfo(fd);
  } catch (cause) {
    throw new VhostUserError('BAD_FD_TYPE', `${what}: cannot inspect fd ${fd}`, { scope: 'none', cause });
  }
}

/**
 * A kick (we read it), call or err (we write it) fd: must be an eventfd open for that direction.
 * Made O_NONBLOCK: a read or write on it never blocks the thread servicing the queue.
 */
export function checkEventfd(fd: number, use: EventfdUse, what: string): void {
  const info = inspect(fd, what);
  if (info.kind !== 'eventfd') {
    throw new VhostUserError('BAD_FD_TYPE', `${what}: ${use} fd is a ${info.kind} (${info.link}), not an eventfd`, { scope: 'none' });
  }
  if (!(use === 'kick' ? info.readable : info.writable)) {
    throw new VhostUserError('BAD_FD_TYPE', `${what}: ${use} eventfd is not open for ${use === 'kick' ? 'reading' : 'writing'}`, { scope: 'none' });
  }
  if (!info.nonBlocking) {
    try { native.setNonBlocking(fd); } catch (cause) {
      throw new VhostUserError('BAD_FD_TYPE', `${what}: cannot make the ${use} eventfd non-blocking`, { scope: 'none', cause });
    }
  }
}

/** The backend request channel (SET_BACKEND_REQ_FD) must be a socket. */
export function checkSocketFd(fd: number, what: string): void {
  const info = inspect(fd, what);
  if (info.kind !== 'socket') throw new VhostUserError('BAD_FD_TYPE', `${what}: fd is a ${info.kind} (${info.link}), not a socket`, { scope: 'none' });
}

export interface MemoryFdPolicy {
  /** Accept memory without F_SEAL_SHRINK (hugetlbfs or tmpfs files): the front-end is trusted not to shrink it. */
  trustUnsealedMemory?: boolean;
}

/**
 * A guest memory (or inflight) fd about to be mapped over [0, end): a regular file or memfd, at
 * least `end` bytes long, and sealed against shrinking unless the policy trusts unsealed memory.
 * Returns the file size.
 */
export function checkMemoryFd(fd: number, end: number, policy: MemoryFdPolicy, what: string, info: FdInfo = inspect(fd, what)): number {
  if (info.kind !== 'memfd' && info.kind !== 'file') {
    throw new VhostUserError('BAD_FD_TYPE', `${what}: memory fd is a ${info.kind} (${info.link}), not a memfd or regular file`, { scope: 'none' });
  }
  // Touching a page past EOF of a MAP_SHARED file is SIGBUS, which would kill the process.
  if (end > info.size) {
    throw new VhostUserError('MMAP_OUT_OF_FILE', `${what}: mapping ends at 0x${end.toString(16)}, past the file size 0x${info.size.toString(16)}`, { scope: 'none' });
  }
  const sealed = info.seals >= 0 && (info.seals & native.F_SEAL_SHRINK) !== 0;
  if (!sealed && policy.trustUnsealedMemory !== true) {
    throw new VhostUserError('MEMORY_NOT_SEALED', `${what}: ${info.link} is not sealed against shrinking (F_SEAL_SHRINK); a shrink would SIGBUS the back-end (set trustUnsealedMemory for hugetlbfs/tmpfs files)`, { scope: 'none' });
  }
  return info.size;
}
