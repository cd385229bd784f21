/**
 * Test support (not built into dist/): poll a condition on the event loop until it holds.
 * The error names the caller's stack, so a timeout points at the wait that failed.
 */
export function until(cond: () => boolean, ms = 3000, tickMs = 2): Promise<void> {
  const end = Date.now() + ms;
  const where = new Error('timeout').stack;
  return new Promise((resolve, reject) => {
    const tick = (): void => (cond() ? resolve() : Date.now() > end ? reject(new Error(`timeout ${where}`)) : void setTimeout(tick, tickMs));
    tick();
  });
}
