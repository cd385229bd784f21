import { defineConfig } from 'vitest/config';

// Tests against programs vtcon did not write (`npm run test:foreign`; `npm test` runs them too,
// after installing what they need). Each says what is missing and how to install it.
export default defineConfig({
  test: {
    include: ['src/**/*.foreign.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
