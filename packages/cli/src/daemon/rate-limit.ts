// Per-VM rate limit on log lines a guest or its front-end can cause (unknown control events,
// bad buffers...): a token bucket per VM logger. Lines over the limit are counted, not written;
// one line then says how many were suppressed. A flooding guest costs the daemon log at most
// `burst` lines plus `perSecond` lines a second, plus one summary a second.
import { pino, type Logger } from 'pino';

export interface RateLimit {
  /** Lines per second refilled. */
  perSecond: number;
  /** Lines that may be written back to back. */
  burst: number;
}

export const GUEST_LOG_LIMIT: RateLimit = { perSecond: 10, burst: 20 };

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly limit: RateLimit, private readonly now: () => number = () => performance.now()) {
    this.tokens = limit.burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((t - this.last) / 1000) * this.limit.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface Destination { write(line: string): void }

/** A destination that passes lines while the bucket has tokens and summarises the rest. */
export class RateLimitedDestination implements Destination {
  /** Lines suppressed since the last summary. */
  private suppressed = 0;
  /** Lines suppressed in all. */
  totalSuppressed = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly bucket: TokenBucket;

  constructor(
    private readonly dest: Destination,
    private readonly summary: (suppressed: number) => string,
    limit: RateLimit = GUEST_LOG_LIMIT,
    now?: () => number,
  ) {
    this.bucket = new TokenBucket(limit, now);
  }

  write(line: string): void {
    if (this.bucket.take()) {
      this.flushSummary();
      this.dest.write(line);
      return;
    }
    this.suppressed++;
    this.totalSuppressed++;
    // Say it within a second even if the flood stops (then no allowed line would carry it).
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flushSummary();
    }, 1000).unref();
  }

  /** Writes the pending "suppressed N lines" line, if any. */
  flushSummary(): void {
    if (this.suppressed === 0) return;
    const n = this.suppressed;
    this.suppressed = 0;
    this.dest.write(this.summary(n));
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushSummary();
  }
}

/**
 * A logger for what one VM's guest and front-end cause, rate-limited on its own and written to
 * `parent`'s destination with `parent`'s level and bindings plus `bindings`.
 */
export function rateLimitedLogger(parent: Logger, bindings: Record<string, unknown>, limit: RateLimit = GUEST_LOG_LIMIT): { logger: Logger; limiter: RateLimitedDestination } {
  const dest = (parent as unknown as Record<symbol, Destination>)[pino.symbols.streamSym]!;
  const base = { pid: process.pid, ...parent.bindings(), ...bindings };
  const limiter = new RateLimitedDestination(dest, (n) => `${JSON.stringify({ level: 40, time: Date.now(), ...base, suppressed: n, msg: `rate limit: ${n} log line(s) from this VM suppressed (at most ${limit.perSecond}/s, burst ${limit.burst})` })}\n`, limit);
  return { logger: pino({ level: parent.level, base }, limiter), limiter };
}
