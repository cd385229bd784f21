import { defineConfig } from 'vitest/config';

// The tests run the CLI with NO_COLOR=1; a FORCE_COLOR from the caller (nx sets it) would make
// every such child warn that NO_COLOR is ignored. Workers inherit this process's environment.
delete process.env.FORCE_COLOR;

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
