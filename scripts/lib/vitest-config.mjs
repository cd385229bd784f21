// The vitest settings the packages share (each package's vitest.config.ts and
// vitest.foreign.config.ts call these), so a timeout or pool change is made once.
import { defineConfig } from 'vitest/config';

/** Real sockets, child processes and workers: generous timeouts, one process per test file. */
export const testDefaults = { testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks' };

/**
 * Unit and integration tests. Tests that drive programs vtcon did not write (*.foreign.test.ts:
 * virtiofsd, conserver) are the `test:foreign` suite (foreignConfig).
 */
export function unitConfig() {
  return defineConfig({ test: { include: ['src/**/*.test.ts'], exclude: ['src/**/*.foreign.test.ts'], ...testDefaults } });
}

/**
 * Tests against programs vtcon did not write (`npm run test:foreign`; `npm test` runs them too,
 * after installing what they need). Each says what is missing and how to install it.
 */
export function foreignConfig() {
  return defineConfig({ test: { include: ['src/**/*.foreign.test.ts'], ...testDefaults } });
}
