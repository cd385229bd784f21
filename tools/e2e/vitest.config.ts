import { defineConfig } from 'vitest/config';

// Real QEMU boots take seconds each and the machine has few cores: one file at a time, long
// timeouts. `npm test` (unit) excludes the *.e2e.test.ts files; `npm run e2e` runs everything.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // provisions (or checks) QEMU + guest first (unit runs, `npm test`, skip that, see package.json)
    // and owns the run's temp root
    globalSetup: ['./global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
