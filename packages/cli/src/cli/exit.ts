// Exit codes (documented in `vtcon --help` and the README) and the one error type commands throw.
import { ApiError } from '../control/protocol.js';
import { StackError } from '../daemon/stack.js';

export const ExitCode = {
  OK: 0,
  RUNTIME: 1,
  USAGE: 2,
  NO_DAEMON: 3,
  NOT_FOUND: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  runtime error (the daemon or the console reported a failure)
  2  usage error (bad arguments, bad config file)
  3  daemon not running or unreachable
  4  not found (no such VM or port)`;

export class CliError extends Error {
  readonly exitCode: ExitCode;
  /** What the user should do next; printed after the message. */
  readonly hint: string | undefined;
  constructor(exitCode: ExitCode, message: string, hint?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

export function noDaemonHint(): string {
  return 'start one with `vtcon serve --config FILE` or `vtcon demo`, or point at it with --socket PATH (or $VTCON_SOCKET)';
}

/** Maps any error to (exit code, message, hint). */
export function classify(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'UNAVAILABLE':
        return new CliError(ExitCode.NO_DAEMON, err.message, noDaemonHint());
      case 'NOT_FOUND':
        return new CliError(ExitCode.NOT_FOUND, err.message, 'list what exists with `vtcon ls`');
      case 'BAD_REQUEST':
      case 'UNKNOWN_METHOD':
        return new CliError(ExitCode.USAGE, err.message);
      case 'CONFLICT':
        return new CliError(ExitCode.RUNTIME, err.message, 'see the current state with `vtcon ls`');
      default:
        return new CliError(ExitCode.RUNTIME, err.message);
    }
  }
  // The device stack is missing a piece (serve, demo, guest): the message names it, the hint fixes it.
  if (err instanceof StackError) return new CliError(ExitCode.RUNTIME, err.message, err.hint);
  const e = err as { reason?: string; message?: string };
  if (e?.reason === 'CONFIG_INVALID' || e?.reason === 'CONFIG_SYNTAX' || e?.reason === 'CONFIG_UNREADABLE') {
    return new CliError(ExitCode.USAGE, String(e.message), 'fix the config file and run the command again');
  }
  return new CliError(ExitCode.RUNTIME, String(e?.message ?? err));
}
