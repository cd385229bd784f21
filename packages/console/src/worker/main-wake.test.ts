import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MainWake, QUIET_MS, type WakePort } from './main-wake.js';

/**
 * Drives MainWake like service-task.ts does: publications at the given times, a timer that fires
 * when due. Returns the times the main thread was woken.
 */
function simulate(coalesceMs: number, times: readonly number[], port: Partial<WakePort> = {}): number[] {
  return simulateWakes(coalesceMs, times, port).wakes;
}

function simulateWakes(coalesceMs: number, times: readonly number[], port: Partial<WakePort> = {}): { wakes: number[]; byTimer: number } {
  const w = new MainWake(coalesceMs);
  const p: WakePort = { lastOutput: -Infinity, outstanding: 0, window: 256 * 1024, ...port };
  const wakes: number[] = [];
  let byTimer = 0;
  let timerAt: number | null = null;
  const wake = (t: number): void => {
    if (w.woke(t)) timerAt = t + w.backstopMs; // refresh()
    wakes.push(t);
  };
  const fire = (upTo: number): void => {
    if (timerAt !== null && timerAt <= upTo) {
      const at = timerAt;
      timerAt = null;
      if (w.timerFired()) { wake(at); byTimer++; }
    }
  };
  for (const t of times) {
    fire(t);
    const when = w.published(p, t);
    if (when === 'now') wake(t); else if (when === 'arm') timerAt = t + w.backstopMs;
  }
  fire(Infinity);
  return { wakes, byTimer };
}

describe('MainWake (when a worker wakes the main thread)', () => {
  it('a stream of chains every 0.5 ms wakes the main thread about once per interval, not once per chain', () => {
    const times = Array.from({ length: 2000 }, (_, i) => i * 0.5); // 1 s of hvc chains
    const wakes = simulate(4, times);
    expect(wakes.length).toBeLessThanOrEqual(1000 / 4 + 1);
    expect(wakes.length).toBeGreaterThanOrEqual(1000 / 4 - 1);
  });

  it('a steady stream wakes it from its own publications: the backstop timer wakes it only for the last bytes', () => {
    const times = Array.from({ length: 1100 }, (_, i) => i * 0.9); // not aligned with the interval
    const { wakes, byTimer } = simulateWakes(4, times);
    expect(byTimer).toBe(1);
    expect(wakes[wakes.length - 1]).toBeGreaterThan(times[times.length - 1]!);
  });

  it('chains further apart than the interval but closer than QUIET_MS are batched too', () => {
    const times = Array.from({ length: 500 }, (_, i) => i * 2); // 1 s, one chain per 2 ms
    expect(simulate(4, times).length).toBeLessThanOrEqual(1000 / 4 + 1);
  });

  it('output after a quiet spell (an echo, a prompt) wakes it at once', () => {
    const times = [0, 0.5, 1, 1 + QUIET_MS, 1 + 2 * QUIET_MS + 0.1];
    const wakes = simulate(4, times);
    expect(wakes).toContain(0);
    expect(wakes).toContain(1 + QUIET_MS);
    expect(wakes).toContain(1 + 2 * QUIET_MS + 0.1);
  });

  it('a port forced interactive (lastOutput = -Infinity after host→guest bytes) wakes it at once', () => {
    const w = new MainWake(4);
    const p: WakePort = { lastOutput: 0, outstanding: 0, window: 1024 };
    w.woke(0);
    expect(w.published(p, 1)).not.toBe('now');
    p.lastOutput = -Infinity;
    expect(w.published(p, 1.5)).toBe('now');
  });

  it('a port that used half of its credit window wakes it at once (credit never waits for the timer)', () => {
    const w = new MainWake(4);
    const p: WakePort = { lastOutput: 0, outstanding: 0, window: 1024 };
    w.woke(0);
    expect(w.published(p, 1)).not.toBe('now');
    expect(w.published({ ...p, outstanding: 512 }, 1.2)).toBe('now');
  });

  it('with credit given back in quarters of the window (worker-engine.ts), a stream still wakes it about once per interval', () => {
    // 2 KiB chains every 0.5 ms for 1 s; each wake-up drains the port and credits it back once a
    // quarter of the window is owed, as the main thread does.
    const w = new MainWake(4);
    const p: WakePort & { outstanding: number } = { lastOutput: -Infinity, outstanding: 0, window: 256 * 1024 };
    let drained = 0; // published bytes the main thread has seen, not yet credited
    let timerAt: number | null = null;
    let wakes = 0;
    const wake = (t: number): void => {
      if (w.woke(t)) timerAt = t + w.backstopMs;
      wakes++;
      drained = p.outstanding;
      if (drained >= p.window / 4) { p.outstanding -= drained; drained = 0; }
    };
    for (let i = 0; i < 2000; i++) {
      const t = i * 0.5;
      if (timerAt !== null && timerAt <= t) { const at = timerAt; timerAt = null; if (w.timerFired()) wake(at); }
      p.outstanding += 2048;
      const when = w.published(p, t);
      if (when === 'now') wake(t); else if (when === 'arm') timerAt = t + w.backstopMs;
    }
    expect(wakes).toBeLessThanOrEqual(1000 / 4 + 1);
  });

  it('coalesceMs 0 wakes it for every publication', () => {
    expect(simulate(0, [0, 0.1, 0.2, 0.3])).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it('property: every publication is followed by a wake-up within 2 × coalesceMs (nothing published is left unseen)', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 20, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 8 }), (gaps, coalesceMs) => {
      const times: number[] = [];
      let t = 0;
      for (const g of gaps) { t += g; times.push(t); }
      const wakes = simulate(coalesceMs, times);
      for (const pub of times) expect(wakes.some((w) => w >= pub && w <= pub + 2 * coalesceMs + 1e-9)).toBe(true);
    }));
  });
});
