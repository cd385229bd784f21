import { describe, expect, it } from 'vitest';
import { until } from './until.js';

describe('until', () => {
  it('waits for an async condition that holds only later', async () => {
    let calls = 0;
    await until(async () => ++calls >= 3, { ms: 5000 });
    expect(calls).toBe(3);
  });

  it('says what it waited for, with the state at the timeout', async () => {
    let state = 0;
    const err = await until(() => { state++; return false; }, { ms: 20, what: () => `state ${state > 0 ? 'advanced' : 'stuck'}` }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('timed out waiting for state advanced');
  });

  it('keeps the positional form: a sync condition and a bound in ms', async () => {
    const err = await until(() => false, 10).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^timeout Error: timeout\n/);
  });
});
