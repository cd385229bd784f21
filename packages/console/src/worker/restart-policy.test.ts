import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RestartPolicy } from './restart-policy.js';

describe('RestartPolicy', () => {
  it('restarts at once, then backs off exponentially, then gives up after maxRestarts deaths in a row', () => {
    const p = new RestartPolicy({ baseMs: 10, maxMs: 50, maxRestarts: 4, healthyMs: 1000 });
    p.launched(0);
    expect([1, 2, 3, 4, 5].map((t) => p.died(t))).toEqual([
      { restart: true, delayMs: 0 }, { restart: true, delayMs: 10 }, { restart: true, delayMs: 20 }, { restart: true, delayMs: 40 },
      { restart: false, deaths: 5 },
    ]);
    // After giving up the count starts again.
    expect(p.died(6)).toEqual({ restart: true, delayMs: 0 });
  });

  it('a worker that lived healthyMs starts a new count', () => {
    const p = new RestartPolicy({ baseMs: 10, maxRestarts: 2, healthyMs: 1000 });
    p.launched(0);
    p.died(1);
    p.launched(1);
    expect(p.died(2)).toEqual({ restart: true, delayMs: 10 });
    p.launched(2);
    expect(p.died(5000)).toEqual({ restart: true, delayMs: 0 });
  });

  it('never restarts more than maxRestarts times in a row, and no delay exceeds maxMs', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 60 }), (maxRestarts, maxMs, n) => {
      const p = new RestartPolicy({ baseMs: 7, maxMs, maxRestarts, healthyMs: Infinity });
      let streak = 0;
      for (let i = 0; i < n; i++) {
        const d = p.died(i);
        if (d.restart) { streak++; expect(streak).toBeLessThanOrEqual(maxRestarts); expect(d.delayMs).toBeLessThanOrEqual(maxMs); } else streak = 0;
      }
    }));
  });
});
