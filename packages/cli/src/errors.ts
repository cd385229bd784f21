// The one error class of @vtcon/cli. Every failure (a bad argument, a config problem, a missing
// piece of the device stack, a fleet refusal, a control API error from the daemon) is a CliError
// with a `reason` from the closed union below, a `scope` and the lower layer's error as `cause`.
// The control API's wire `code` and the process exit code are derived from the reason, in one
// table each, so no caller maps errors by reading their message.
import type { ErrorCode } from './control/protocol.js';

export const ExitCode = {
  OK: 0,
  RUNTIME: 1,
  USAGE: 2,
  NO_DAEMON: 3,
  NOT_FOUND: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Reason → the control API's error code (API.md). */
const WIRE_CODE = {
  // command line and config (exit 2)
  USAGE: 'BAD_REQUEST',
  CONFIG_UNREADABLE: 'BAD_REQUEST',
  CONFIG_SYNTAX: 'BAD_REQUEST',
  CONFIG_INVALID: 'BAD_REQUEST',
  // control API
  BAD_REQUEST: 'BAD_REQUEST',
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  LINE_TOO_LONG: 'BAD_REQUEST',
  SLOW_CONSUMER: 'UNAVAILABLE',
  TOO_MANY_CONNECTIONS: 'UNAVAILABLE',
  TOO_MANY_STREAMS: 'UNAVAILABLE',
  TOO_MANY_REQUESTS: 'UNAVAILABLE',
  UNAVAILABLE: 'UNAVAILABLE',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INTERNAL: 'INTERNAL',
  // fleet
  VM_NOT_FOUND: 'NOT_FOUND',
  PORT_NOT_FOUND: 'NOT_FOUND',
  VM_EXISTS: 'CONFLICT',
  PORT_EXISTS: 'CONFLICT',
  NO_FREE_PORT: 'CONFLICT',
  NOT_CONNECTED: 'UNAVAILABLE',
  BAD_ARGUMENT: 'BAD_REQUEST',
  SINK_FAILED: 'INTERNAL',
  // fleet across hosts: NATS refused the user this subject (never sent by a daemon; exit 1)
  NOT_ALLOWED: 'INTERNAL',
  // daemon
  DAEMON_RUNNING: 'CONFLICT',
  NO_CONFIG_FILE: 'CONFLICT',
  CONTROL_PATH_NOT_SOCKET: 'CONFLICT',
  // device stack
  STACK_NOT_BUILT: 'INTERNAL',
  ADDON_NOT_BUILT: 'INTERNAL',
  ADDON_LOAD_FAILED: 'INTERNAL',
  // a command's own runtime failure (exit 1)
  RUNTIME: 'INTERNAL',
} as const satisfies Record<string, ErrorCode>;

export type CliReason = keyof typeof WIRE_CODE;

const EXIT: Record<ErrorCode, ExitCode> = {
  BAD_REQUEST: ExitCode.USAGE,
  UNKNOWN_METHOD: ExitCode.USAGE,
  UNAVAILABLE: ExitCode.NO_DAEMON,
  NOT_FOUND: ExitCode.NOT_FOUND,
  CONFLICT: ExitCode.RUNTIME,
  INTERNAL: ExitCode.RUNTIME,
};

/** One problem in a config file, at file:line:col. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted path such as vms[1].ports[0].name */
  field: string;
  message: string;
}

export interface CliErrorOptions {
  cause?: unknown;
  /** What the user should do next; printed after the message. */
  hint?: string;
  /** 'connection': only one control connection is affected. */
  scope?: 'connection' | 'none';
  /** Config problems (CONFIG_* reasons). */
  problems?: ConfigProblem[];
  /** The wire code as the daemon sent it (a client keeps it even for a reason it does not know). */
  code?: ErrorCode;
}

export class CliError extends Error {
  readonly reason: CliReason;
  readonly scope: 'connection' | 'none';
  readonly hint: string | undefined;
  readonly problems: ConfigProblem[];
  /** The control API error code for this reason. */
  readonly code: ErrorCode;

  constructor(reason: CliReason, message: string, opts: CliErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CliError';
    this.reason = reason;
    this.scope = opts.scope ?? 'none';
    this.hint = opts.hint;
    this.problems = opts.problems ?? [];
    this.code = opts.code ?? WIRE_CODE[reason];
  }

  /** The documented exit code (see EXIT_CODES_HELP). */
  get exitCode(): ExitCode {
    return EXIT[this.code];
  }

  /** An error reply from the daemon: its reason when this client knows it, else its code. */
  static fromWire(body: { code: ErrorCode; message: string; reason?: string }): CliError {
    const reason = body.reason !== undefined && isReason(body.reason) ? body.reason : isReason(body.code) ? body.code : 'INTERNAL';
    return new CliError(reason, body.message, { code: body.code });
  }
}

export function isReason(s: string): s is CliReason {
  return Object.hasOwn(WIRE_CODE, s);
}

export function isCliError(e: unknown): e is CliError {
  return e instanceof CliError;
}
