/**
 * Test support (not built into dist/): poll a condition on the event loop until it holds (a
 * liveness bound, not a timing assertion). The condition may be async. On timeout the error says
 * what was awaited (`what`, a string or a function for state at that moment) or else names the
 * caller's stack, so a timeout points at the wait that failed.
 */
export interface UntilOptions {
  ms?: number;
  tickMs?: number;
  what?: string | (() => string);
}

export function until(cond: () => boolean | Promise<boolean>, opts: number | UntilOptions = {}, tickMs = 2): Promise<void> {
  const o: UntilOptions = typeof opts === 'number' ? { ms: opts, tickMs } : opts;
  const end = Date.now() + (o.ms ?? 3000);
  const where = new Error('timeout').stack;
  return new Promise((resolve, reject) => {
    const tick = async (): Promise<void> => {
      if (await cond()) return resolve();
      if (Date.now() <= end) return void setTimeout(() => void tick().catch(reject), o.tickMs ?? tickMs);
      const what = typeof o.what === 'function' ? o.what() : o.what;
      reject(new Error(what === undefined ? `timeout ${where}` : `timed out waiting for ${what}`));
    };
    tick().catch(reject);
  });
}
