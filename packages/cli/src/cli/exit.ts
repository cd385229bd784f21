// Exit codes (documented in `vtcon --help` and the README): every failure is a CliError
// (errors.ts) whose reason gives the exit code; classify() adds the hint for what to do next.
import { CliError, ExitCode } from '../errors.js';

export { CliError, ExitCode };

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  runtime error (the daemon or the console reported a failure)
  2  usage error (bad arguments, bad config file)
  3  daemon not running or unreachable
  4  not found (no such VM or port)`;

export function noDaemonHint(): string {
  return 'start one with `vtcon serve --config FILE` or `vtcon demo`, or point at it with --socket PATH (or $VTCON_SOCKET)';
}

/** Any error as a CliError with its hint (what to do next). */
export function classify(err: unknown): CliError {
  if (!(err instanceof CliError)) return new CliError('RUNTIME', String((err as { message?: unknown })?.message ?? err), { cause: err });
  if (err.hint) return err;
  const hint = err.reason.startsWith('CONFIG_') ? 'fix the config file and run the command again'
    : err.code === 'UNAVAILABLE' && err.reason !== 'SLOW_CONSUMER' ? noDaemonHint()
      : err.code === 'NOT_FOUND' ? 'list what exists with `vtcon ls`'
        : err.code === 'CONFLICT' && err.reason !== 'CONTROL_PATH_NOT_SOCKET' && err.reason !== 'DAEMON_RUNNING' ? 'see the current state with `vtcon ls`'
          : undefined;
  return hint ? new CliError(err.reason, err.message, { hint, cause: err.cause, code: err.code, problems: err.problems, scope: err.scope }) : err;
}
