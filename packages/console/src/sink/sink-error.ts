/**
 * SinkError: the error type of the port sinks (scrollback, log file, attach endpoint).
 *
 * It has the same shape as the console layer's ConsoleError (`reason` from a closed union,
 * `scope`, `cause`) so the integrator can fold these reasons into ConsoleError's union
 * without changing callers. Match on `reason`, never on `instanceof`: a class does not
 * survive `postMessage` to a worker, a string does.
 */

export type SinkErrorReason =
  /** `read(fromOffset)` asked for bytes that have not been written yet. */
  | 'OFFSET_IN_FUTURE'
  /** A constructor/option value is out of range (capacity 0, keep < 1, ...). */
  | 'BAD_OPTION'
  /** write() after close(): the caller broke the sink's lifecycle contract. */
  | 'SINK_CLOSED'
  /** The log file could not be opened, written, synced or rotated (disk full, EIO, ...). */
  | 'LOG_WRITE_FAILED'
  /** The attach socket path is held by a live server. */
  | 'ATTACH_PATH_IN_USE'
  /** The attach socket path exists and is not a socket: refusing to unlink it. */
  | 'ATTACH_PATH_NOT_SOCKET'
  /** The attach socket could not be created (bind/chmod/rename failed). */
  | 'ATTACH_LISTEN_FAILED'
  /** A client's handshake line or frame was malformed or too large. */
  | 'ATTACH_PROTOCOL';

/** What a SinkError breaks: 'connection' = one attach client; 'none' = only this sink/call. */
export type SinkErrorScope = 'connection' | 'none';

export class SinkError extends Error {
  override readonly name = 'SinkError';
  readonly reason: SinkErrorReason;
  readonly scope: SinkErrorScope;

  constructor(reason: SinkErrorReason, message: string, options: { scope?: SinkErrorScope; cause?: unknown } = {}) {
    super(`${reason}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.scope = options.scope ?? 'none';
  }
}

/** Shape guard that works across realms/copies of the library (no instanceof). */
export function isSinkError(e: unknown): e is SinkError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'SinkError'
    && typeof (e as { reason?: unknown }).reason === 'string';
}
