import { NativeError } from '@vtcon/transport';
import { describe, expect, it } from 'vitest';
import { CliError } from '../errors.js';
import { addonFailure, importFailure, loadStack } from './stack.js';

describe('loadStack', () => {
  it('loads both packages and the native addon', async () => {
    const stack = await loadStack();
    expect(typeof stack.console.ConsoleDevice).toBe('function');
    expect(typeof stack.transport.VhostUserBackend).toBe('function');
    // The probe really reached the addon: a second eventfd works too.
    const fd = stack.native.eventfdCreate();
    expect(fd).toBeGreaterThan(2);
    stack.native.close(fd);
  });

  it('names a package that cannot be imported and says how to build it', async () => {
    // A real failed import: the specifier is redirected to a package that is not installed.
    const err = await loadStack({ importModule: (s) => import(s === '@vtcon/console' ? '@vtcon/console-not-installed' : s) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ reason: 'STACK_NOT_BUILT', scope: 'none' });
    expect((err as CliError).message).toMatch(/^the device stack is not available: @vtcon\/console could not be loaded \(.*console-not-installed/);
    expect((err as CliError).hint).toMatch(/npm ci && npx nx run @vtcon\/cli:build/);
  });

  it('explains a missing native addon with the transport layer\'s own build command', () => {
    const native = new NativeError('ADDON_NOT_BUILT', 'load', 'ENOENT', 2, 'no native addon for Node v0 (ABI 0); build it with: bash build-for-node.sh /usr');
    const err = addonFailure(native);
    expect(err.reason).toBe('ADDON_NOT_BUILT');
    expect(err.message).toMatch(/^native addon not built: .*build it with: bash build-for-node\.sh/);
    expect(err.hint).toMatch(/^run `npm ci`/);
    expect(err.cause).toBe(native);
  });

  it('tells an addon that fails to load apart from one that is missing', () => {
    const err = addonFailure(new Error('invalid ELF header'));
    expect(err.reason).toBe('ADDON_LOAD_FAILED');
    expect(err.message).toBe('native addon failed to load: invalid ELF header');
  });

  it('keeps only the first line of a resolution error', () => {
    const err = importFailure('@vtcon/transport', Object.assign(new Error('Cannot find package\nRequire stack:\n- x'), { code: 'ERR_MODULE_NOT_FOUND' }));
    expect(err.message).toBe('the device stack is not available: @vtcon/transport could not be loaded (Cannot find package)');
  });
});
