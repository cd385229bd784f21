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
 *   - a streaming port wakes it at most once per `coalesceMs` (the first publication after the
 *     interval does it: a stream's chains come often), or at once when the
 *     port has used half of its credit window, so the credit the main thread gives back never
 *     becomes the limit. Not a quarter: the main thread gives credit back in quarters
 *     (worker-engine.ts), so a streaming port always has about a quarter outstanding, and that
 *     threshold woke it for nearly every chain.
 * A backstop timer (2 × coalesceMs) wakes it for the bytes a stream published last. Each wake-up
 * restarts it, so while a stream goes on it never runs: a stream costs the worker no timer
 * callback per interval, only the notify of the publication that is due.
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
  /** Bytes were published since the last wake-up and did not wake the main thread. */
  private deferred = false;

  /** coalesceMs ≤ 0: every publication wakes the main thread. */
  constructor(readonly coalesceMs: number) {}

  /** The backstop timer's delay, ms. */
  get backstopMs(): number { return 2 * this.coalesceMs; }

  /**
   * Port `p` published bytes at `now`. Returns 'now' (wake it, then call woke()), 'arm' (start the
   * backstop timer, backstopMs; when it runs call timerFired()) or null (nothing to do now).
   */
  published(p: WakePort, now: number): 'now' | 'arm' | null {
    const quiet = now - p.lastOutput >= QUIET_MS;
    p.lastOutput = now;
    if (this.coalesceMs <= 0 || quiet || p.outstanding >= p.window / 2 || now - this.lastWake >= this.coalesceMs) return 'now';
    this.deferred = true;
    if (this.armed) return null;
    this.armed = true;
    return 'arm';
  }

  /** The main thread was woken at `now`. true: the backstop timer is armed, restart it (refresh()). */
  woke(now: number): boolean {
    this.lastWake = now;
    this.deferred = false;
    return this.armed;
  }

  /** The backstop timer ran: true if the main thread must be woken now (then call woke()). */
  timerFired(): boolean {
    this.armed = false;
    return this.deferred;
  }
}
