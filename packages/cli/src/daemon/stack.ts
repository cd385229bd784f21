// The device stack the daemon serves: @vtcon/console (ConsoleDevice, its sinks, the seed driver
// model) over @vtcon/transport (VhostUserBackend on the native addon). There is no fallback: a
// daemon that cannot serve vhost-user must not pretend to. The stack is loaded with a dynamic
// import so that the client commands (ls, attach, logs, ...) start without it, and so that
// serve/demo/guest can say exactly which piece is missing and how to get it, instead of a
// module-resolution stack trace. Types come from the packages themselves (type-only imports).
import type * as ConsoleModule from '@vtcon/console';
import type * as ConsoleTestingModule from '@vtcon/console/testing';
import type * as TransportModule from '@vtcon/transport';
import type * as NativeModule from '@vtcon/transport/native';

export interface Stack {
  console: typeof ConsoleModule;
  /** The seed driver model (simulated guests): the demo's and `vtcon guest`'s guests. */
  guests: typeof ConsoleTestingModule;
  transport: typeof TransportModule;
  /** The addon's syscalls (transport's internal entry point): probed here, eventfds for guests. */
  native: typeof NativeModule;
}

import { CliError } from '../errors.js';

const BUILD_HINT = 'from the repository root run `npm ci && npx nx run @vtcon/cli:build` (or just `./vtcon`, which installs and builds on first use)';
const ADDON_HINT = 'run `npm ci` from the repository root (its install step compiles the addon for this Node), then try again';

/** Turns a failed import of `pkg` into a CliError that names it and says how to fix it. */
export function importFailure(pkg: string, err: unknown): CliError {
  const e = err as { code?: string; message?: string };
  const detail = String(e?.message ?? err).split('\n')[0];
  return new CliError('STACK_NOT_BUILT', `the device stack is not available: ${pkg} could not be loaded (${detail})`, { hint: BUILD_HINT, cause: err });
}

/** Turns a failed first call into the addon into a CliError (NativeError carries the build command). */
export function addonFailure(err: unknown): CliError {
  const e = err as { reason?: string; message?: string };
  const detail = String(e?.message ?? err);
  // NativeError says "load: ENOENT (<what and the build command>)"; the part in brackets is the news.
  const inner = /^\w+: \w+ \((.*)\)$/s.exec(detail)?.[1] ?? detail;
  return e?.reason === 'ADDON_NOT_BUILT'
    ? new CliError('ADDON_NOT_BUILT', `native addon not built: @vtcon/transport cannot serve vhost-user sockets without it: ${inner}`, { hint: ADDON_HINT, cause: err })
    : new CliError('ADDON_LOAD_FAILED', `native addon failed to load: ${detail}`, { hint: ADDON_HINT, cause: err });
}

/** @vtcon/console alone, for clients of its protocols (attach); no native addon needed. */
export async function loadConsole(): Promise<typeof ConsoleModule> {
  try {
    return await import('@vtcon/console');
  } catch (err) {
    throw importFailure('@vtcon/console', err);
  }
}

export interface LoadStackOptions {
  /** How a package is imported; the default is the runtime's import(). */
  importModule?: (specifier: string) => Promise<unknown>;
}

/**
 * Imports both packages and makes one call into the native addon (an eventfd, closed at once):
 * the addon loads lazily, so without this probe a missing build would surface only when the
 * first guest connects. Throws CliError.
 */
export async function loadStack(opts: LoadStackOptions = {}): Promise<Stack> {
  const importModule = opts.importModule ?? ((s: string) => import(s) as Promise<unknown>);
  const load = async <T>(pkg: string): Promise<T> => {
    try {
      return (await importModule(pkg)) as T;
    } catch (err) {
      throw importFailure(pkg, err);
    }
  };
  const transport = await load<typeof TransportModule>('@vtcon/transport');
  const native = await load<typeof NativeModule>('@vtcon/transport/native');
  const console = await load<typeof ConsoleModule>('@vtcon/console');
  const guests = await load<typeof ConsoleTestingModule>('@vtcon/console/testing');
  try {
    native.close(native.eventfdCreate());
  } catch (err) {
    throw addonFailure(err);
  }
  return { console, guests, transport, native };
}
