import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RateLimitedDestination, TokenBucket, rateLimitedLogger } from './rate-limit.js';

describe('TokenBucket', () => {
  it('allows the burst, then perSecond per second of (injected) clock', () => {
    let t = 0;
    const b = new TokenBucket({ perSecond: 10, burst: 20 }, () => t);
    let ok = 0;
    for (let i = 0; i < 1000; i++) if (b.take()) ok++;
    expect(ok).toBe(20);
    t += 1000;
    ok = 0;
    for (let i = 0; i < 1000; i++) if (b.take()) ok++;
    expect(ok).toBe(10);
    t += 60_000; // refills up to the burst only
    ok = 0;
    for (let i = 0; i < 1000; i++) if (b.take()) ok++;
    expect(ok).toBe(20);
  });
});

describe('RateLimitedDestination', () => {
  it('passes the burst, counts the rest and writes one summary line before the next allowed line', () => {
    let t = 0;
    const out: string[] = [];
    const d = new RateLimitedDestination({ write: (l) => out.push(l) }, (n) => `suppressed ${n}\n`, { perSecond: 10, burst: 20 }, () => t);
    for (let i = 0; i < 10_000; i++) d.write(`line ${i}\n`);
    expect(out).toHaveLength(20);
    t += 100; // one token back
    d.write('after\n');
    expect(out.slice(20)).toEqual(['suppressed 9980\n', 'after\n']);
    expect(d.totalSuppressed).toBe(9980);
    d.close();
  });

  it('a VM logger keeps the parent level and bindings, and is limited on its own', () => {
    const lines: string[] = [];
    const root = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const { logger, limiter } = rateLimitedLogger(root, { vm: 'evil' }, { perSecond: 1, burst: 3 });
    for (let i = 0; i < 50; i++) logger.warn({ event: 99 }, 'unknown control event');
    logger.info('below the level');
    root.warn('the daemon itself is not limited');
    limiter.close();
    const parsed = lines.map((l) => JSON.parse(l) as { vm?: string; msg: string; suppressed?: number });
    expect(parsed.filter((l) => l.msg === 'unknown control event')).toHaveLength(3);
    expect(parsed.every((l) => l.msg === 'the daemon itself is not limited' || l.vm === 'evil')).toBe(true);
    expect(parsed.find((l) => l.suppressed !== undefined)?.suppressed).toBe(47);
    expect(parsed.some((l) => l.msg === 'the daemon itself is not limited')).toBe(true);
  });
});
