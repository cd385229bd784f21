import { describe, expect, it } from 'vitest';
import { evaluateTargets, POOL_SUITE } from './targets.mjs';

const pool = (workers, bytesPerSec) => ({ suite: POOL_SUITE, name: 'worker pool, rings filled before the clock', params: { workers, vms: 8, ports: 32 }, bytesPerSec });
const byTarget = (cases) => Object.fromEntries(evaluateTargets(cases).map((t) => [t.target, t]));

describe('the worker-pool target', () => {
  it('judges the pool suite on its own: 1.8× met, 1.5× missed, none: no data', () => {
    const met = byTarget([pool(1, 100), pool(2, 180)]);
    expect(met['Worker pool alone, 1 → 2 workers (rings filled before the clock)']).toMatchObject({ status: 'met', threshold: '≥ 1.7×', measured: expect.stringMatching(/^1\.80×/) });
    // The general target does not count the pool's pair (and has none here).
    expect(met['Two workers vs one'].status).toBe('no data');
    expect(byTarget([pool(1, 100), pool(2, 150)])['Worker pool alone, 1 → 2 workers (rings filled before the clock)'].status).toBe('missed');
    expect(byTarget([])['Worker pool alone, 1 → 2 workers (rings filled before the clock)'].status).toBe('no data');
  });
});
