import { describe, expect, it } from 'vitest';
import { classify } from './cli/exit.js';
import { CliError, ExitCode } from './errors.js';

describe('CliError', () => {
  it('derives the API code and the exit code from the reason, and keeps the cause', () => {
    const cause = new Error('lower layer');
    const cases = [
      ['VM_NOT_FOUND', 'NOT_FOUND', ExitCode.NOT_FOUND], ['NO_FREE_PORT', 'CONFLICT', ExitCode.RUNTIME],
      ['CONFIG_SYNTAX', 'BAD_REQUEST', ExitCode.USAGE], ['LINE_TOO_LONG', 'BAD_REQUEST', ExitCode.USAGE],
      ['SLOW_CONSUMER', 'UNAVAILABLE', ExitCode.NO_DAEMON], ['ADDON_NOT_BUILT', 'INTERNAL', ExitCode.RUNTIME],
      ['USAGE', 'BAD_REQUEST', ExitCode.USAGE], ['NOT_ALLOWED', 'INTERNAL', ExitCode.RUNTIME], ['UNAVAILABLE', 'UNAVAILABLE', ExitCode.NO_DAEMON],
    ] as const;
    for (const [reason, code, exit] of cases) {
      const e = new CliError(reason, 'm', { cause });
      expect([e.code, e.exitCode, e.cause]).toEqual([code, exit, cause]);
    }
  });

  it('from the wire: a known reason is kept, an unknown one falls back to the code the daemon sent', () => {
    expect(CliError.fromWire({ code: 'NOT_FOUND', message: 'x', reason: 'PORT_NOT_FOUND' })).toMatchObject({ reason: 'PORT_NOT_FOUND', code: 'NOT_FOUND' });
    const e = CliError.fromWire({ code: 'CONFLICT', message: 'x', reason: 'SOMETHING_NEWER' });
    expect([e.reason, e.code, e.exitCode]).toEqual(['CONFLICT', 'CONFLICT', ExitCode.RUNTIME]);
  });

  it('classify adds the hint for what to do next, and wraps foreign errors as RUNTIME', () => {
    expect(classify(new CliError('CONFIG_INVALID', 'f:1:1: x')).hint).toMatch(/fix the config file/);
    expect(classify(new CliError('UNAVAILABLE', 'no daemon')).hint).toMatch(/vtcon serve --config FILE/);
    const wrapped = classify(new TypeError('bug'));
    expect([wrapped.reason, wrapped.exitCode, wrapped.message]).toEqual(['RUNTIME', ExitCode.RUNTIME, 'bug']);
  });
});
