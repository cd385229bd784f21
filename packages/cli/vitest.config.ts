import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'cli', include: ['src/**/*.test.ts'], exclude: ['src/hostile/**'], sequence: { groupOrder: 0 } } },
      {
        // The hostile-peer suite (issue 11): each test runs a real daemon and times it (ls < 1 s,
        // no victim stall > 1 s), so its files run one at a time, after the rest.
        extends: true,
        test: { name: 'hostile', include: ['src/hostile/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
