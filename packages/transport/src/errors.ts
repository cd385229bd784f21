/**
 * VhostUserError: the one error type of the vhost-user layer. Match on `reason` (a string
 * survives postMessage; a class does not). `scope` says what breaks: 'connection' means this
 * connection is closed (its fds and mappings released); 'none' means the request failed
 * (NEED_REPLY answered non-zero) and the connection goes on. The process is never in scope.
 */
export type VhostUserErrorReason =
  | 'HEADER_SHORT' // the peer closed in the middle of a 12-byte header
  | 'PAYLOAD_SHORT' // the peer closed in the middle of a payload
  | 'VERSION_MISMATCH' // header flags version bits are not 0x1
  | 'PAYLOAD_TOO_LARGE' // header size field exceeds what any request of that code may carry
  | 'PAYLOAD_SIZE_MISMATCH' // size does not match the request's payload layout
  | 'RESERVED_BITS_SET' // a vring-fd u64 with bits other than the index and the no-fd flag
  | 'VALUE_OUT_OF_RANGE' // a field outside the values the spec allows (SET_VRING_ENABLE num not 0 or 1)
  | 'PAYLOAD_KIND_MISMATCH' // a decoded payload of another kind than the request takes
  | 'UNKNOWN_REQUEST' // request code not in the spec
  | 'UNSUPPORTED_REQUEST' // in the spec but not implemented/negotiated here
  | 'UNEXPECTED_REPLY' // a reply where none was expected, or for another request
  | 'MISSING_FD' // fewer SCM_RIGHTS fds than the request needs
  | 'UNEXPECTED_FD' // more fds than the request allows
  | 'FDS_TRUNCATED' // MSG_CTRUNC: the kernel dropped fds
  | 'MEM_TABLE_EMPTY' // SET_MEM_TABLE with 0 regions
  | 'MEM_TABLE_TOO_MANY' // more regions than VHOST_USER_MAX_MEM_REGIONS / max slots
  | 'REGION_OVERLAP' // two regions overlap in guest-physical or user address space
  | 'REGION_ZERO_SIZE' // a region of size 0
  | 'REGION_TOO_LARGE' // a region over MAX_REGION_BYTES (1 TiB): it bounds the views GuestMemory builds
  | 'REGION_NOT_FOUND' // REM_MEM_REG names no mapped region
  | 'ADDRESS_TOO_LARGE' // a u64 address/size beyond 2^53 (JS numbers) or wrapping
  | 'MMAP_OUT_OF_FILE' // mmap_offset + size past the end of the fd
  | 'MMAP_FAILED' // mmap refused the fd (not a shared-memory fd, ...)
  | 'BAD_FD_TYPE' // a received fd of the wrong kind: kick/call/err not an eventfd, memory not a file, backend channel not a socket
  | 'MEMORY_NOT_SEALED' // a memory fd without F_SEAL_SHRINK (it could shrink under the mapping: SIGBUS) and trustUnsealedMemory off
  | 'MAPPING_RELEASE_FAILED' // a region's mapping could not be replaced on release (the file stays mapped until GC)
  | 'VRING_ADDR_UNMAPPED' // a vring address inside no region
  | 'QUEUE_INDEX_OUT_OF_RANGE' // vring index >= queue count
  | 'VRING_NUM_INVALID' // not a power of two, 0, or > 32768
  | 'VRING_BASE_INVALID' // SET_VRING_BASE num > 0xffff
  | 'CONFIG_OUT_OF_RANGE' // GET/SET_CONFIG outside the device config space
  | 'INFLIGHT_INVALID' // inflight description does not fit the queues / fd
  | 'FEATURES_INVALID' // SET_FEATURES with bits the backend did not offer
  | 'OUT_OF_ORDER' // a request that needs state not yet set (e.g. SET_VRING_ADDR before memory)
  | 'DEVICE_FAILED' // the device threw while handling a request
  | 'REPLY_FAILED' // the peer answered a NEED_REPLY request with non-zero
  | 'REPLY_TIMEOUT' // the peer did not answer in time (frontend side)
  | 'PEER_CLOSED' // EOF on the socket
  | 'SOCKET_ERROR' // a syscall on the socket failed (cause: NativeError)
  | 'NOT_CONNECTED' // an operation on a connection that is gone
  | 'LINK_RECORD_INVALID' // a holder↔engine link record that is not one JSON object with an op, or too large
  | 'HELD_STATE_TOO_BIG'; // a front-end sent more state-changing requests than the holder keeps for a replay

export type VhostUserErrorScope = 'connection' | 'none';

export class VhostUserError extends Error {
  override readonly name = 'VhostUserError';
  readonly reason: VhostUserErrorReason;
  readonly scope: VhostUserErrorScope;
  constructor(reason: VhostUserErrorReason, message: string, opts: { scope?: VhostUserErrorScope; cause?: unknown } = {}) {
    super(`${reason}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.reason = reason;
    this.scope = opts.scope ?? 'connection';
  }
}

/** Shape check instead of instanceof: two copies of the package may be loaded at once. */
export function isVhostUserError(e: unknown): e is VhostUserError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'VhostUserError'
    && typeof (e as { reason?: unknown }).reason === 'string';
}
