import { describe, expect, it } from 'vitest';
import { DeliveryWaits } from './delivery-waits.js';

describe('DeliveryWaits', () => {
  it('answers each waiter when bytesOut reaches its goal, at its timeout, when its caller goes, or when the port is gone', async () => {
    let out = 0;
    let gone = false;
    const waits = new DeliveryWaits(() => {
      if (gone) throw new Error('PORT_NOT_FOUND');
      return out;
    });
    expect(await waits.wait('vm', 'p', 0, 1000)).toBe(0); // already there
    const reached = waits.wait('vm', 'p', 10, 60_000);
    const timedOut = waits.wait('vm', 'p', 1000, 50);
    const caller = new AbortController();
    const aborted = waits.wait('vm', 'p', 1000, 60_000, caller.signal);
    out = 10;
    expect(await reached).toBe(10);
    expect(await timedOut).toBe(10);
    caller.abort();
    expect(await aborted).toBe(10);
    const orphan = waits.wait('vm', 'p', 1000, 60_000);
    gone = true;
    expect(await orphan).toBe(0);
  });
});
