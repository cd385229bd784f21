import { describe, expect, it } from 'vitest';
import { caseLabels, displayUnit } from './model.mjs';

const mk = (name, params) => ({ suite: 'ring', name, params, opsPerSec: 1 });

describe('caseLabels', () => {
  it('shows only the params that differ and are not already in the name', () => {
    const { labels, common } = caseLabels([
      mk('cross-thread/128B/batch1', { payload: 128, batch: 1, chains: 200000, queueSize: 256 }),
      mk('cross-thread/4096B/batch64', { payload: 4096, batch: 64, chains: 100000, queueSize: 256 }),
    ]);
    expect(labels).toEqual([['ring/cross-thread/128B/batch1', 'chains=200000'], ['ring/cross-thread/4096B/batch64', 'chains=100000']]);
    expect(common).toBe('queueSize=256');
  });
});

describe('displayUnit', () => {
  it('scales to readable units', () => {
    expect(displayUnit([2.4e9], 'bytes/s')).toEqual({ factor: 1e-9, unit: 'GB/s' });
    expect(displayUnit([38000], 'ns')).toEqual({ factor: 1e-3, unit: 'µs' });
    expect(displayUnit([61000], 'bytes/vm')).toEqual({ factor: 1 / 1024, unit: 'KiB/vm' });
  });
});
