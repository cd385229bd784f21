// vitest config for the throughput measurement only (src/throughput.measure.ts), which is kept out
// of the e2e suite: `node tools/e2e/src/throughput.mjs` runs it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: join(dirname(fileURLToPath(import.meta.url)), '..'),
  test: {
    include: ['src/throughput.measure.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
