/**
 * ConsoleError: the one error type of @vtcon/console (device, ports, workers, sinks).
 *
 * Match on `reason` (a closed union of strings), never on `instanceof`: two copies of the library
 * may be loaded, and a class does not survive a thread hop. `scope` says what the failure takes
 * down: one queue, one connection (a VM, or one attach client for the sinks), or nothing (the
 * caller's request was refused and everything else carries on). The process is never on that list.
 *
 * Crossing threads: structuredClone / postMessage keep an Error's message but drop its class and
 * own fields (`reason`, `scope`). Send `toWire()` and rebuild with `ConsoleError.fromWire()`;
 * `isConsoleError` is true only for a live ConsoleError (or one rebuilt by fromWire).
 */
export type ConsoleErrorReason =
  /** A control message shorter than struct virtio_console_control (8 bytes). */
  | 'CONTROL_TOO_SHORT'
  /** A control event number the spec does not define (virtio 1.2 §5.3.6.2). */
  | 'UNKNOWN_EVENT'
  /** A port id ≥ max_nr_ports (and not VIRTIO_CONSOLE_BAD_ID where that is allowed). */
  | 'PORT_ID_OUT_OF_RANGE'
  /** addPort for an id or name that already exists. */
  | 'PORT_EXISTS'
  /** An operation named a port that does not exist. */
  | 'NO_SUCH_PORT'
  /** RESIZE asked for a port that is not a console port. */
  | 'NOT_A_CONSOLE_PORT'
  /** A port name longer than a control buffer can carry. */
  | 'NAME_TOO_LONG'
  /** A port name with bytes outside printable ASCII (the seed refuses non-ASCII aliases). */
  | 'NAME_NOT_ASCII'
  /** host→guest bytes refused: the guest posts no receive buffers and the backlog is full. */
  | 'BACKLOG_FULL'
  /** A config-space access outside struct virtio_console_config. */
  | 'CONFIG_OUT_OF_RANGE'
  /** A feature the operation needs was not negotiated (e.g. multiport for a second port). */
  | 'FEATURE_NOT_NEGOTIATED'
  /** The virtqueue behind a port or the control queue broke (cause: the VirtqueueError or the failure below). */
  | 'QUEUE_BROKEN'
  /** A chain carries more readable bytes than the queue's bound (port/chain-bound.ts): not allocated. */
  | 'CHAIN_TOO_BIG'
  /** The kick fd could not be watched or read (not an eventfd, peer gone: EBADF, ECONNRESET, EOF). */
  | 'KICK_FD_FAILED'
  /** The call fd could not be written (read-only, closed, a full pipe: EBADF, EAGAIN). */
  | 'CALL_FD_FAILED'
  /** The guest never posted buffers on a queue the device had to use. */
  | 'QUEUE_STARVED'
  /** A servicing worker died, failed, or did not answer (cause: the worker error, wrapped). */
  | 'WORKER_FAILED'
  /** A port's log file could not be opened or written (cause/message: the file error). */
  | 'LOG_FAILED'
  /** The device/driver was configured with impossible options. */
  | 'BAD_OPTIONS'
  /** The driver model met a device it cannot drive (feature negotiation, attach failure). */
  | 'ATTACH_FAILED'
  /** The guest driver reported DEVICE_READY(0): it failed to initialise (§5.3.6.2). */
  | 'DRIVER_INIT_FAILED'
  /** The device or driver was closed / detached. */
  | 'CLOSED'
  // ---- sinks (scrollback, log files, attach endpoint) ----
  /** `read(fromOffset)` asked for bytes that have not been written yet. */
  | 'OFFSET_IN_FUTURE'
  /** A sink constructor/option value is out of range (capacity 0, keep < 1, ...). */
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
  /** An attach client's handshake line or frame was malformed or too large (scope 'connection'). */
  | 'ATTACH_PROTOCOL';

const REASONS: ReadonlySet<string> = new Set<ConsoleErrorReason>([
  'CONTROL_TOO_SHORT', 'UNKNOWN_EVENT', 'PORT_ID_OUT_OF_RANGE', 'PORT_EXISTS', 'NO_SUCH_PORT', 'NOT_A_CONSOLE_PORT',
  'NAME_TOO_LONG', 'NAME_NOT_ASCII', 'BACKLOG_FULL', 'CONFIG_OUT_OF_RANGE', 'FEATURE_NOT_NEGOTIATED', 'QUEUE_BROKEN',
  'CHAIN_TOO_BIG', 'KICK_FD_FAILED', 'CALL_FD_FAILED', 'QUEUE_STARVED', 'WORKER_FAILED', 'LOG_FAILED', 'BAD_OPTIONS',
  'ATTACH_FAILED', 'DRIVER_INIT_FAILED', 'CLOSED', 'OFFSET_IN_FUTURE', 'BAD_OPTION', 'SINK_CLOSED', 'LOG_WRITE_FAILED',
  'ATTACH_PATH_IN_USE', 'ATTACH_PATH_NOT_SOCKET', 'ATTACH_LISTEN_FAILED', 'ATTACH_PROTOCOL',
]);

export type ConsoleErrorScope = 'queue' | 'connection' | 'none';

/**
 * An error as plain data, for postMessage. `name`/`reason` are those of the original error of any
 * layer (ConsoleError, VirtqueueError, NativeError, a plain Error: reason undefined); `message` is
 * the full message (it starts with the reason for the layers' errors).
 */
export interface ErrorWire {
  name: string;
  reason?: string;
  scope?: string;
  message: string;
  cause?: ErrorWire;
}

export class ConsoleError extends Error {
  override readonly name = 'ConsoleError';
  readonly reason: ConsoleErrorReason;
  readonly scope: ConsoleErrorScope;

  constructor(reason: ConsoleErrorReason, message: string, opts: { scope?: ConsoleErrorScope; cause?: unknown } = {}) {
    super(`${reason}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.reason = reason;
    this.scope = opts.scope ?? 'none';
  }

  /** Plain data that survives structuredClone/postMessage (the cause chain too, as data). */
  toWire(): ErrorWire { return errorToWire(this); }

  /**
   * Rebuild a ConsoleError sent with toWire(). A wire that is not a ConsoleError's (a ring or
   * native error, or a reason this copy does not know) becomes the `cause` of a `fallback` one.
   */
  static fromWire(w: ErrorWire, fallback: ConsoleErrorReason = 'WORKER_FAILED', scope: ConsoleErrorScope = 'none'): ConsoleError {
    const cause = w.cause === undefined ? undefined : errorFromWire(w.cause);
    if (w.name === 'ConsoleError' && w.reason !== undefined && REASONS.has(w.reason)) {
      const prefix = `${w.reason}: `;
      const text = w.message.startsWith(prefix) ? w.message.slice(prefix.length) : w.message;
      const s = w.scope === 'queue' || w.scope === 'connection' ? w.scope : 'none';
      return new ConsoleError(w.reason as ConsoleErrorReason, text, { scope: s, ...(cause !== undefined ? { cause } : {}) });
    }
    return new ConsoleError(fallback, w.message, { scope, cause: errorFromWire(w) });
  }
}

/** Any thrown value → ErrorWire (keeps name, reason, scope, message and the cause chain, 8 deep). */
export function errorToWire(e: unknown, depth = 0): ErrorWire {
  if (typeof e !== 'object' || e === null) return { name: 'Error', message: String(e) };
  const o = e as { name?: unknown; reason?: unknown; scope?: unknown; message?: unknown; cause?: unknown };
  const w: ErrorWire = { name: typeof o.name === 'string' ? o.name : 'Error', message: typeof o.message === 'string' ? o.message : String(e) };
  if (typeof o.reason === 'string') w.reason = o.reason;
  if (typeof o.scope === 'string') w.scope = o.scope;
  if (o.cause !== undefined && depth < 8) w.cause = errorToWire(o.cause, depth + 1);
  return w;
}

/**
 * ErrorWire → an Error carrying the same name, reason and scope (a ConsoleError when it was one), so
 * `isVirtqueueError`-style shape guards and `reason` matches work on the receiving thread.
 */
export function errorFromWire(w: ErrorWire): Error {
  if (w.name === 'ConsoleError' && w.reason !== undefined && REASONS.has(w.reason)) return ConsoleError.fromWire(w);
  const cause = w.cause === undefined ? undefined : errorFromWire(w.cause);
  const e = new Error(w.message, cause === undefined ? undefined : { cause }) as Error & { reason?: string; scope?: string };
  Object.defineProperty(e, 'name', { value: w.name, enumerable: false, writable: true, configurable: true });
  if (w.reason !== undefined) e.reason = w.reason;
  if (w.scope !== undefined) e.scope = w.scope;
  return e;
}

/**
 * True for a ConsoleError of this or another copy of the library (same name and a known reason).
 * A ConsoleError that went through structuredClone/postMessage is NOT one any more (its reason is
 * gone): send toWire() and rebuild it with ConsoleError.fromWire().
 */
export function isConsoleError(e: unknown): e is ConsoleError {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as { name?: unknown; reason?: unknown; scope?: unknown };
  return o.name === 'ConsoleError' && typeof o.reason === 'string' && REASONS.has(o.reason)
    && (o.scope === 'queue' || o.scope === 'connection' || o.scope === 'none');
}

/** The reason of any layer's error (ConsoleError, VirtqueueError, NativeError, VhostUserError), if it has one. */
export function reasonOf(e: unknown): string | undefined {
  const r = (e as { reason?: unknown } | null)?.reason;
  return typeof r === 'string' ? r : undefined;
}
