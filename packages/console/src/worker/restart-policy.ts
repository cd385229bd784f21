/**
 * When a shard's worker dies, when to start the next one, and when to stop trying with the
 * queues it served. A worker that dies at once again and again (a poisonous queue the start-time
 * checks did not catch, a native crash) must not be relaunched in a tight loop replaying the
 * same start messages: that costs every other VM of the shard its throughput (issue 11 item 7).
 *
 * Delays: the first death restarts at once (a one-off crash costs nothing), later ones back off
 * exponentially (base·2^(n-2), at most maxMs). After maxRestarts deaths in a row the pool gives
 * up on the queues the worker served (each broken, WORKER_FAILED, naming VM and queue) and starts
 * the shard empty. A worker that lived healthyMs resets the count. Main thread only.
 */
export interface RestartPolicyOptions {
  /** Second restart's delay, ms (the first is immediate). Default 100. */
  baseMs?: number;
  /** Longest delay, ms. Default 5000. */
  maxMs?: number;
  /** Deaths in a row after which the shard's queues are given up. Default 5. */
  maxRestarts?: number;
  /** A worker that lived this long (ms) had no streak: the count starts again. Default 30000. */
  healthyMs?: number;
}

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; deaths: number };

export class RestartPolicy {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly maxRestarts: number;
  private readonly healthyMs: number;
  private deaths = 0;
  private launchedAt = 0;

  constructor(o: RestartPolicyOptions = {}) {
    this.baseMs = o.baseMs ?? 100;
    this.maxMs = o.maxMs ?? 5000;
    this.maxRestarts = o.maxRestarts ?? 5;
    this.healthyMs = o.healthyMs ?? 30_000;
  }

  launched(now: number): void { this.launchedAt = now; }

  /** The worker died at `now`: restart after delayMs, or give up on its queues (then the count starts again). */
  died(now: number): RestartDecision {
    if (now - this.launchedAt >= this.healthyMs) this.deaths = 0;
    this.deaths++;
    if (this.deaths > this.maxRestarts) {
      const deaths = this.deaths;
      this.deaths = 0;
      return { restart: false, deaths };
    }
    const delayMs = this.deaths === 1 ? 0 : Math.min(this.maxMs, this.baseMs * 2 ** (this.deaths - 2));
    return { restart: true, delayMs };
  }
}
