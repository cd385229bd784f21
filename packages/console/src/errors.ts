/**
 * ConsoleError: the one error type of @vtcon/console.
 *
 * Match on `reason` (a closed union of strings), never on `instanceof`: errors cross
 * worker_threads via postMessage, where the class is lost but the string survives.
 * `scope` says what the failure takes down: one queue, the whole connection (VM), or nothing
 * (the caller's request was refused and everything else carries on). The process is never on
 * that list.
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
  /** The virtqueue behind a port or the control queue broke (cause: VirtqueueError). */
  | 'QUEUE_BROKEN'
  /** The guest never posted buffers on a queue the device had to use. */
  | 'QUEUE_STARVED'
  /** A servicing worker died or failed (cause: the worker error, wrapped). */
  | 'WORKER_FAILED'
  /** A port's log file could not be opened or written (cause/message: the file error). */
  | 'LOG_FAILED'
  /** The device/driver was configured with impossible options. */
  | 'BAD_OPTIONS'
  /** The driver model met a device it cannot drive (feature negotiation, attach failure). */
  | 'ATTACH_FAILED'
  /** The device or driver was closed / detached. */
  | 'CLOSED';

export type ConsoleErrorScope = 'queue' | 'connection' | 'none';

export class ConsoleError extends Error {
  override readonly name = 'ConsoleError';
  readonly reason: ConsoleErrorReason;
  readonly scope: ConsoleErrorScope;

  constructor(reason: ConsoleErrorReason, message: string, opts: { scope?: ConsoleErrorScope; cause?: unknown } = {}) {
    super(`${reason}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.reason = reason;
    this.scope = opts.scope ?? 'none';
  }
}

/** Shape check that survives structured clone (a plain object with reason/scope). */
export function isConsoleError(e: unknown): e is { reason: ConsoleErrorReason; scope: ConsoleErrorScope; message: string } {
  return typeof e === 'object' && e !== null && typeof (e as { reason?: unknown }).reason === 'string'
    && ((e as { name?: unknown }).name === 'ConsoleError');
}
