// Tests of the benchmark tooling (not the benchmarks themselves, which run via `npm run bench`).
// The dashboard test drives a real Chromium, so its timeouts are larger than a unit test's.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['dashboard/**/*.test.*', 'lib/**/*.test.*'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
