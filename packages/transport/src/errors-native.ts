/**
 * NativeError: the one error class of the native layer (src/native.ts). Match on `reason`, then
 * on `code` (the errno name, e.g. 'EAGAIN'), never on the message.
 */

/**
 * - SYSCALL_FAILED: the kernel refused; `syscall`, `code` and `errno` say which call and why.
 * - INVALID_ARGUMENT: rejected before any syscall (e.g. releaseMapping of a SAB that mmapShared
 *   did not create); `syscall` names the API function, `code` is 'EINVAL'.
 * - ADDON_NOT_BUILT: no compiled addon for this Node ABI; the message says how to build it.
 */
export type NativeErrorReason = 'SYSCALL_FAILED' | 'INVALID_ARGUMENT' | 'ADDON_NOT_BUILT';

/** What a failure breaks. A syscall alone cannot know, so the native layer says 'none'; callers re-wrap. */
export type ErrorScope = 'queue' | 'connection' | 'none';

export class NativeError extends Error {
  override readonly name = 'NativeError';
  readonly reason: NativeErrorReason;
  readonly scope: ErrorScope = 'none';
  /** The failing syscall ('sendmsg', 'mmap', ...) or, for INVALID_ARGUMENT, the API function. */
  readonly syscall: string;
  /** errno name, e.g. 'EBADF'. */
  readonly code: string;
  /** errno number, e.g. 9. */
  readonly errno: number;

  /** Also called from C++ (addon.cc MakeNativeError) with exactly these five arguments. */
  constructor(reason: NativeErrorReason, syscall: string, code: string, errno: number, detail: string, options?: { cause?: unknown }) {
    super(`${syscall}: ${code} (${detail})`, options);
    this.reason = reason;
    this.syscall = syscall;
    this.code = code;
    this.errno = errno;
  }
}
