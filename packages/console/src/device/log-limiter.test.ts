import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogLimiter } from './log-limiter.js';

describe('LogLimiter', () => {
  it('lets `lines` through per window, counts the rest, and reports them with the next line let through', () => {
    let t = 0;
    const l = new LogLimiter({ lines: 2, intervalMs: 100, now: () => t });
    expect([l.take(), l.take(), l.take(), l.take()]).toEqual([0, 0, null, null]);
    t = 100;
    expect(l.take()).toBe(2);
    expect(l.take()).toBe(0);
    expect(l.take()).toBeNull();
    expect(l.totalSuppressed).toBe(3);
  });

  it('never lets more than `lines` through in one window, and loses no count', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (lines, steps) => {
      let t = 0;
      const l = new LogLimiter({ lines, intervalMs: 100, now: () => t });
      let logged = 0; let reported = 0; let windowStart = -Infinity; let inWindow = 0;
      for (const dt of steps) {
        t += dt;
        if (t - windowStart >= 100) { windowStart = t; inWindow = 0; }
        const r = l.take();
        if (r !== null) { logged++; reported += r; inWindow++; expect(inWindow).toBeLessThanOrEqual(lines); }
      }
      // Every take either logged, or is suppressed (reported later or still pending).
      expect(logged + l.totalSuppressed).toBe(steps.length);
      expect(reported).toBeLessThanOrEqual(l.totalSuppressed);
    }));
  });
});
