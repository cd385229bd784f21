/**
 * A shard of the worker pool as its engines see it: the Shard (one worker's state on the main
 * thread: its port, what a restart replays, its end of the byte ring) and ShardPool, what a
 * WorkerEngine asks of the pool that owns the shards. The pool (pool.ts) implements ShardPool and
 * creates the engines; an engine (worker-engine.ts) knows only this module, so neither imports
 * the other both ways.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ToWorker } from './protocol.js';
import { RingReader, createRingBuffer } from './byte-ring.js';
import { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';

/** What a WorkerEngine asks of its pool (main thread). */
export interface ShardPool {
  /** Guest→host bytes in flight per port before the worker waits for credit. */
  readonly window: number;
  /** How long a worker may take to answer a 'stop' / a log open or close, ms. */
  readonly stopTimeoutMs: number;
  readonly logTimeoutMs: number;
  /** The shard (dev, port) is serviced by; both queues of a port live on the same one. */
  shardFor(dev: number, port: number): Shard;
  /** Post to the shard's worker (dropped while it is dead; starts and logs are replayed after a restart). */
  post(s: Shard, m: ToWorker, transfer?: ArrayBuffer[]): void;
  /**
   * Give the worker credit for `bytes` of (dev, port) taken off the ring. During a drain of the
   * shard's ring it is batched: one message per drain for every port, not one per port.
   */
  credit(s: Shard, dev: number, port: number, bytes: number): void;
  /**
   * The shard's worker (of that generation) did not answer in time: terminate it; resolves once
   * its thread no longer runs our code.
   */
  declareDead(s: Shard, generation: number, why: string): Promise<void>;
  /** The device closed: forget its ports, logs and memory. */
  forget(dev: number): void;
}

/** One worker thread of the pool, as the main thread keeps it (its state outlives the thread: a restart replays it). */
export class Shard {
  port!: MessagePort;
  task: Promise<unknown> | null = null;
  restarts = 0;
  /** (dev:index) → start message, replayed after a restart. */
  readonly starts = new Map<string, Extract<ToWorker, { t: 'start' }>>();
  /** (dev:port) → open log message, replayed (before the starts) after a restart. */
  readonly logs = new Map<string, Extract<ToWorker, { t: 'log' }>>();
  readonly ports = new Set<string>();
  alive = false;
  draining = false;
  /** Credit of the current drain, (dev, port, bytes) triples, posted as one 'credits' at its end. */
  credits: number[] = [];
  /** Aborts the worker's task: piscina terminates the thread (a worker declared dead). */
  abort: AbortController | null = null;
  /** Incremented at each launch: a request to an earlier worker cannot condemn its successor. */
  generation = 0;
  restartTimer: ReturnType<typeof setTimeout> | null = null;
  readonly policy: RestartPolicy;
  /** Guest→host bytes from the worker; main thread's end. Survives worker restarts. */
  readonly ring: SharedArrayBuffer;
  readonly reader: RingReader;
  constructor(readonly id: number, ringBytes: number, restart: RestartPolicyOptions | undefined) {
    this.policy = new RestartPolicy(restart);
    this.ring = createRingBuffer(ringBytes);
    this.reader = new RingReader(this.ring);
  }
}
