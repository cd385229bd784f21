import { defineConfig } from 'vitest/config';

// The tests run the CLI with NO_COLOR=1; a FORCE_COLOR from the caller (nx sets it) would make
// every such child warn that NO_COLOR is ignored. Workers inherit this process's environment.
delete process.env.FORCE_COLOR;

// Unit and integration tests. Tests that drive programs vtcon did not write (*.foreign.test.ts:
// virtiofsd, conserver) are the `test:foreign` suite (vitest.foreign.config.ts).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    exclude: ['src/**/*.foreign.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
