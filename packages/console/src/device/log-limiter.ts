/**
 * Rate limit for log lines a guest can cause (bad control messages): at most `lines` per
 * `intervalMs` window per device; the rest are counted, and the first line of a later window says
 * how many were suppressed. A guest flooding the control queue then costs a bounded log, not
 * 11 MB/s (issue 11 item 10). Main thread; one per device.
 */
export interface LogLimiterOptions {
  /** Lines let through per window. Default 10. */
  lines?: number;
  /** Window length, ms. Default 10000. */
  intervalMs?: number;
  /** Clock (tests). Default Date.now. */
  now?: () => number;
}

export class LogLimiter {
  private readonly lines: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private windowStart = -Infinity;
  private used = 0;
  private suppressed = 0;
  /** Lines suppressed since the device was created. */
  totalSuppressed = 0;

  constructor(o: LogLimiterOptions = {}) {
    this.lines = o.lines ?? 10;
    this.intervalMs = o.intervalMs ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  /**
   * May a line be logged now? null: no (it was counted). A number: yes, and that many lines were
   * suppressed before it (say so in the line when > 0).
   */
  take(): number | null {
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      this.windowStart = t;
      this.used = 0;
    }
    if (this.used >= this.lines) {
      this.suppressed++;
      this.totalSuppressed++;
      return null;
    }
    this.used++;
    const s = this.suppressed;
    this.suppressed = 0;
    return s;
  }
}
