import { defineConfig } from 'vitest/config';

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
