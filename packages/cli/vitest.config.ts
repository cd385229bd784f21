import { defineConfig } from 'vitest/config';
import { testDefaults } from '../../scripts/lib/vitest-config.mjs';

// The tests run the CLI with NO_COLOR=1; a FORCE_COLOR from the caller (nx sets it) would make
// every such child warn that NO_COLOR is ignored. Workers inherit this process's environment.
delete process.env.FORCE_COLOR;

// Unit and integration tests. Tests that drive programs vtcon did not write (*.foreign.test.ts:
// virtiofsd, conserver) are the `test:foreign` suite (vitest.foreign.config.ts).
export default defineConfig({
  test: {
    ...testDefaults,
    projects: [
      { extends: true, test: { name: 'cli', include: ['src/**/*.test.ts'], exclude: ['src/**/*.foreign.test.ts', 'src/hostile/**', 'src/fleet/cluster.test.ts'], sequence: { groupOrder: 0 } } },
      // Three hosts (each a holder, an engine and a standby) on a 3-node NATS cluster with a 30 s
      // outage: alone, after the rest, so the machine's other tests do not starve its timings.
      { extends: true, test: { name: 'cluster', include: ['src/fleet/cluster.test.ts'], sequence: { groupOrder: 1 } } },
      {
        // The hostile-peer suite (issue 11): each test runs a real daemon and times it (ls < 1 s,
        // no victim stall > 1 s), so its files run one at a time, after the rest.
        extends: true,
        test: { name: 'hostile', include: ['src/hostile/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
