/**
 * MainWake: when a servicing worker wakes the main thread after publishing guest→host bytes.
 *
 * Why: waking the main thread is a thread switch (and on a loaded or virtualized host a costly
 * one) plus a pass over the sinks. A stream of small chains — a Linux hvc writer sends one chain
 * of at most 2 KiB at a time and waits for it to be used — woke it once per chain, which took
 * CPU from the guest's own vCPU and the worker on a small host. The guest never waits for the
 * main thread (the worker logs, marks used and signals on its own), so its wake-ups are batched:
 *   - a port that was quiet (no bytes for QUIET_MS) wakes it at once: interactive output (an
 *     echo, a prompt) is not delayed;
 *   - a streaming port wakes it at most once per `coalesceMs` (a timer), or at once when the
 *     port has used half of its credit window, so the credit the main thread gives back never
 *     becomes the limit. Not a quarter: the main thread gives credit back in quarters
 *     (worker-engine.ts), so a streaming port always has about a quarter outstanding, and that
 *     threshold woke it for nearly every chain.
 * One per worker (all its ports share the main thread's wake-up). Pure: the caller reads the clock
 * and owns the timer.
 */

/** A port silent this long is interactive again: its next bytes wake the main thread at once. */
export const QUIET_MS = 10;

/** What MainWake reads of a port (a transmitq). */
export interface WakePort {
  /** When the port last published bytes (performance.now()); -Infinity: force the next wake (an echo). */
  lastOutput: number;
  /** Bytes published and not yet credited back by the main thread. */
  readonly outstanding: number;
  readonly window: number;
}

export class MainWake {
  private lastWake = -Infinity;
  private armed = false;

  /** coalesceMs ≤ 0: every publication wakes the main thread. */
  constructor(readonly coalesceMs: number) {}

  /**
   * Port `p` published bytes at `now`. Returns 'now' (wake it: call woke()), a delay in ms (arm a
   * timer that calls woke() then wakes it), or null (a wake-up is armed already).
   */
  published(p: WakePort, now: number): 'now' | number | null {
    const quiet = now - p.lastOutput >= QUIET_MS;
    p.lastOutput = now;
    if (this.coalesceMs <= 0 || quiet || p.outstanding >= p.window / 2 || now - this.lastWake >= this.coalesceMs) return 'now';
    if (this.armed) return null;
    this.armed = true;
    return Math.max(0, this.lastWake + this.coalesceMs - now);
  }

  /** The main thread was woken at `now` (at once, or by the armed timer). */
  woke(now: number, byTimer: boolean): void {
    this.lastWake = now;
    if (byTimer) this.armed = false;
  }
}
