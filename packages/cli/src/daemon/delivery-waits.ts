// `send` with `wait`: callers waiting until a port's bytesOut reaches their goal. One poll per port
// with waiters (every 5 ms) checks them all, instead of a timer per caller: a client pipelining
// thousands of waiting sends costs a comparison each per poll, not thousands of timer callbacks.
//
// Threads: main thread.

const POLL_MS = 5;

interface Waiter {
  goal: number;
  done: (out: number) => void;
  timer: NodeJS.Timeout;
}

export class DeliveryWaits {
  private readonly ports = new Map<string, { vm: string; port: string; waiters: Set<Waiter>; poll: NodeJS.Timeout }>();

  /** @param bytesOut the port's bytes delivered to the guest so far; throws when the port is gone. */
  constructor(private readonly bytesOut: (vm: string, port: string) => number) {}

  /**
   * Resolves with the port's bytesOut once it reaches `goal`, or with where it got at `timeoutMs`,
   * when the port is gone, or when `signal` aborts (the caller went away).
   */
  wait(vm: string, port: string, goal: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const now = this.read(vm, port);
    if (now >= goal || now < 0 || timeoutMs <= 0 || signal?.aborted) return Promise.resolve(Math.max(now, 0));
    const key = JSON.stringify([vm, port]);
    let p = this.ports.get(key);
    if (!p) {
      const entry = { vm, port, waiters: new Set<Waiter>(), poll: setInterval(() => this.poll(key), POLL_MS) };
      this.ports.set(key, entry);
      p = entry;
    }
    const entry = p;
    return new Promise<number>((resolve) => {
      const abort = () => w.done(this.read(entry.vm, entry.port));
      const w: Waiter = {
        goal,
        done: (out) => {
          clearTimeout(w.timer);
          signal?.removeEventListener('abort', abort);
          if (!entry.waiters.delete(w)) return;
          if (entry.waiters.size === 0) this.stop(key);
          resolve(Math.max(out, 0));
        },
        timer: setTimeout(() => w.done(this.read(entry.vm, entry.port)), timeoutMs),
      };
      entry.waiters.add(w);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  private poll(key: string): void {
    const p = this.ports.get(key);
    if (!p) return;
    const out = this.read(p.vm, p.port);
    for (const w of [...p.waiters]) if (out >= w.goal || out < 0) w.done(Math.max(out, 0));
  }

  /** bytesOut, or -1 when the port is gone (every waiter is answered then). */
  private read(vm: string, port: string): number {
    try {
      return this.bytesOut(vm, port);
    } catch {
      return -1;
    }
  }

  private stop(key: string): void {
    const p = this.ports.get(key);
    if (p) clearInterval(p.poll);
    this.ports.delete(key);
  }
}
