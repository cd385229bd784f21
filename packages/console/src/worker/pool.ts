/**
 * ConsoleWorkerPool: a piscina pool of N threads, each running ONE long-lived servicing task
 * (service-task.ts) that owns a shard of port queues. Devices get a WorkerEngine from
 * createEngine(); each (device, port) sticks to one shard, picked round-robin, so both queues of a
 * port live on the same thread.
 *
 * Failure model: a worker that dies rejects its piscina task. Only that shard's queues stop; the
 * pool starts a new task (when restart-policy.ts says: backing off, giving up on the queues of a
 * worker that keeps dying) and restarts them from the ring state in guest memory — every popped
 * chain is pushed used in the same pass, so lastAvailIdx = usedIdx = used.idx — and re-sends the
 * host→guest bytes the dead worker had not confirmed. Guest→host bytes are never lost (a chain is
 * used only after its bytes were copied and posted); host→guest bytes may repeat at most the part
 * whose confirmation died with the worker.
 * A worker that does not answer a 'stop' or 'log' in time is declared dead: its task is aborted
 * (piscina terminates the thread) before the stop resolves, so the back-end closes the queue's
 * kick/call fds only once no thread can write them (a reused fd number never gets stray bytes).
 *
 * Main thread only. Piscina errors are plain messages: they are wrapped in ConsoleError
 * ('WORKER_FAILED').
 */
import { MessageChannel } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ConsoleError } from '../errors.js';
import { type Logger, silentLogger } from '../device/logger.js';
import type { EngineHost } from '../device/engine.js';
import type { FromWorker, ShardTaskData, ToWorker } from './protocol.js';
import { WorkerEngine } from './worker-engine.js';
import { Shard, type ShardPool } from './shard.js';
import { DEFAULT_RING_BYTES } from './byte-ring.js';
import type { RestartPolicyOptions } from './restart-policy.js';

export interface ConsoleWorkerPoolOptions {
  /** Worker threads (= shards). Default 2. */
  threads?: number;
  /** Module the worker imports for eventfd/uv_poll (exports them, or `native`). Default '@vtcon/transport/native'. */
  nativeModule?: string;
  /** Chains per ring pass. */
  batch?: number;
  /** Guest→host bytes in flight per port before the worker waits for the main thread. */
  window?: number;
  /** Bytes of each shard's guest→host ring (power of two). Default 1 MiB. */
  ringBytes?: number;
  /** Main-thread wake-up coalescing for streaming ports, ms (see ShardTaskData, main-wake.ts). Default 4; 0 = off. */
  coalesceMs?: number;
  /**
   * Each worker's V8 young generation, MiB (Worker resourceLimits.maxYoungGenerationSizeMb).
   * Default 1. V8's default lets it grow to 3 × 16 MiB: starting many queues (long-lived objects,
   * so scavenges see a high survival rate) grew it to 8 MiB per worker, which an idle worker then
   * keeps resident (~20 KiB per idle 8-port VM at 200 VMs). The servicing loop allocates little
   * per chain, so a small young generation does not slow it. 0 = V8's default.
   */
  youngGenerationMb?: number;
  /** How long a worker may take to answer a 'stop' (default 2000 ms) or a log open/close (5000 ms). */
  replyTimeoutMs?: { stop?: number; log?: number };
  /** Restart backoff and bound for a worker that keeps dying (restart-policy.ts). */
  restart?: RestartPolicyOptions;
  logger?: Logger;
}

/** @internal dist/worker/service-task.js; from src/ (vitest) a bootstrap that runs service-task.ts itself. */
export function taskFilename(): string {
  const here = new URL('./service-task.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return fileURLToPath(here);
  return fileURLToPath(new URL('../test-support/service-task.mjs', import.meta.url));
}

export class ConsoleWorkerPool implements ShardPool {
  readonly threads: number;
  readonly window: number;
  /** Reply timeouts, ms (ShardPool). */
  readonly stopTimeoutMs: number;
  readonly logTimeoutMs: number;
  private readonly piscina: Piscina;
  private readonly shards: Shard[] = [];
  private readonly engines = new Map<number, WorkerEngine>();
  private readonly stickiness = new Map<string, Shard>();
  /** Engines that got ring records in the current drain (reused, main thread only). */
  private readonly touched = new Set<WorkerEngine>();
  private readonly log: Logger;
  private readonly nativeModule: string;
  private readonly batch: number;
  private readonly coalesceMs: number;
  private nextDev = 1;
  private rr = 0;
  private closing = false;

  constructor(opts: ConsoleWorkerPoolOptions = {}) {
    this.threads = opts.threads ?? 2;
    if (!Number.isInteger(this.threads) || this.threads < 1) throw new ConsoleError('BAD_OPTIONS', `threads ${this.threads}`);
    this.window = opts.window ?? 256 * 1024;
    this.batch = opts.batch ?? 256;
    this.coalesceMs = opts.coalesceMs ?? 4;
    this.stopTimeoutMs = opts.replyTimeoutMs?.stop ?? 2000;
    this.logTimeoutMs = opts.replyTimeoutMs?.log ?? 5000;
    this.log = opts.logger ?? silentLogger;
    this.nativeModule = opts.nativeModule ?? '@vtcon/transport/native';
    const young = opts.youngGenerationMb ?? 1;
    if (!(young >= 0)) throw new ConsoleError('BAD_OPTIONS', `youngGenerationMb ${young}`);
    this.piscina = new Piscina({
      filename: taskFilename(), minThreads: this.threads, maxThreads: this.threads,
      concurrentTasksPerWorker: 1, idleTimeout: Infinity, atomics: 'disabled',
      ...(young > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: young } } : {}),
    });
    for (let i = 0; i < this.threads; i++) {
      const s = new Shard(i, opts.ringBytes ?? DEFAULT_RING_BYTES, opts.restart);
      this.shards.push(s);
      this.launch(s);
      this.watchRing(s);
    }
  }

  /**
   * Engine factory for ConsoleDeviceOptions.engine. `label` names the VM in the pool's log lines
   * and errors (default `dev<n>`).
   */
  createEngine(host: EngineHost, label?: string): WorkerEngine {
    const dev = this.nextDev++;
    const e = new WorkerEngine(this, dev, host, label ?? `dev${dev}`);
    this.engines.set(dev, e);
    return e;
  }

  /** ShardPool: the shard a (device, port) sticks to, picked round-robin on first use. */
  shardFor(dev: number, port: number): Shard {
    const k = `${dev}:${port}`;
    let s = this.stickiness.get(k);
    if (!s) { s = this.shards[this.rr++ % this.shards.length]!; this.stickiness.set(k, s); s.ports.add(k); }
    return s;
  }

  /** ShardPool: post to the shard's worker, keeping what a restart replays. */
  post(s: Shard, m: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (m.t === 'start') s.starts.set(`${m.dev}:${m.index}`, m);
    if (m.t === 'stop') s.starts.delete(`${m.dev}:${m.index}`);
    if (m.t === 'log') {
      if (m.options !== null) s.logs.set(`${m.dev}:${m.port}`, { ...m, req: 0 });
      else s.logs.delete(`${m.dev}:${m.port}`);
    }
    if (s.alive) s.port.postMessage(m, transfer);
  }

  /** ShardPool: credit to the shard's worker, batched while its ring is drained (drainRing). */
  credit(s: Shard, dev: number, port: number, bytes: number): void {
    if (s.draining) s.credits.push(dev, port, bytes);
    else this.post(s, { t: 'credit', dev, port, bytes });
  }

  /** ShardPool: the device closed; forget its ports, logs and memory in every shard. */
  forget(dev: number): void {
    this.engines.delete(dev);
    for (const [k, s] of this.stickiness) {
      if (k.startsWith(`${dev}:`)) { this.stickiness.delete(k); s.ports.delete(k); s.logs.delete(k); }
    }
    for (const s of this.shards) if (s.alive) s.port.postMessage({ t: 'forget', dev } satisfies ToWorker);
  }

  stats(): { shard: number; queues: number; restarts: number; alive: boolean }[] {
    return this.shards.map((s) => ({ shard: s.id, queues: s.starts.size, restarts: s.restarts, alive: s.alive }));
  }

  /** Test hook: make shard i's worker die with an uncaught error. */
  killShard(i: number): void {
    const s = this.shards[i];
    if (s?.alive) s.port.postMessage({ t: 'die' } satisfies ToWorker);
  }

  /** Test hook: block shard i's worker's event loop for `ms` (a hung worker). */
  stallShard(i: number, ms: number): void {
    const s = this.shards[i];
    if (s?.alive) s.port.postMessage({ t: 'stall', ms } satisfies ToWorker);
  }

  /**
   * ShardPool: the shard's worker did not answer in time: terminate it (its task is aborted) and
   * resolve once its task has settled, i.e. the thread no longer runs our code. The usual death
   * path then restarts the shard's other queues (restart-policy.ts). Never a silent fallback.
   */
  async declareDead(s: Shard, generation: number, why: string): Promise<void> {
    const task = s.task;
    // That worker is already gone (it died, or an earlier timeout replaced it): nothing to end.
    if (!s.alive || s.abort === null || s.generation !== generation) return;
    this.log.error({ shard: s.id, queues: s.starts.size, why }, 'servicing worker did not answer: declared dead, its thread terminated and replaced');
    s.abort.abort(new ConsoleError('WORKER_FAILED', why, { scope: 'queue' }));
    await task?.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.shards) { if (s.restartTimer !== null) clearTimeout(s.restartTimer); s.restartTimer = null; }
    for (const s of this.shards) s.reader.interrupt();
    for (const s of this.shards) if (s.alive) s.port.postMessage({ t: 'shutdown' } satisfies ToWorker);
    await Promise.allSettled(this.shards.map((s) => s.task));
    await this.piscina.destroy();
  }

  private launch(s: Shard): void {
    const ch = new MessageChannel();
    s.port = ch.port1;
    s.alive = true;
    s.generation++;
    const abort = new AbortController();
    s.abort = abort;
    s.policy.launched(performance.now());
    ch.port1.on('message', (m: FromWorker) => this.onMessage(s, m));
    const data: ShardTaskData = { port: ch.port2 as unknown as ShardTaskData['port'], nativeModule: this.nativeModule, batch: this.batch, coalesceMs: this.coalesceMs, ring: s.ring };
    s.task = this.piscina.run(data, { transferList: [ch.port2] as never, signal: abort.signal }).then(
      () => { s.alive = false; },
      (e: unknown) => {
        s.alive = false;
        s.abort = null;
        // Declared dead: the reason is ours (the AbortError only says it was aborted).
        if (abort.signal.aborted) e = abort.signal.reason;
        // Messages the worker posted before dying may still be queued on port1: let them be
        // delivered (they carry guest→host bytes whose chains are already used), then close.
        setTimeout(() => ch.port1.close(), 1000).unref();
        if (this.closing) return;
        // Bytes the worker put in the ring are safe (their chains may already be used): hand
        // them on, and drop pieces of chains it never completed (the new worker re-reads those).
        this.drainRing(s);
        for (const e of this.engines.values()) e.dropPartial(s);
        const err = new ConsoleError('WORKER_FAILED', `console worker ${s.id} died: ${(e as Error)?.message ?? String(e)}`, { scope: 'queue', cause: e });
        const decision = s.policy.died(performance.now());
        if (!decision.restart) {
          this.giveUp(s, err, decision.deaths);
          this.launch(s); // an empty shard: other and new queues may still use it
          return;
        }
        this.log.error({ shard: s.id, queues: s.starts.size, err: err.message, delayMs: decision.delayMs }, 'servicing worker died; restarting its queues');
        if (decision.delayMs === 0) { this.restart(s); return; }
        s.restartTimer = setTimeout(() => { s.restartTimer = null; if (!this.closing) this.restart(s); }, decision.delayMs);
      },
    );
  }

  /** The shard's worker kept dying: every queue it served is broken (named), none is replayed. */
  private giveUp(s: Shard, err: ConsoleError, deaths: number): void {
    for (const m of s.starts.values()) {
      const e = this.engines.get(m.dev);
      const why = new ConsoleError('WORKER_FAILED', `${e?.label ?? `dev${m.dev}`} queue ${m.index}: its worker died ${deaths} times in a row; queue given up`, { scope: 'queue', cause: err });
      this.log.error({ shard: s.id, vm: e?.label, queue: m.index, deaths }, 'servicing worker keeps dying: queue given up (broken)');
      e?.workerGaveUp(m.index, why);
    }
    s.starts.clear();
  }

  private restart(s: Shard): void {
    s.restarts++;
    this.launch(s);
    for (const m of s.logs.values()) s.port.postMessage(m);
    for (const [k, m] of s.starts) {
      const engine = this.engines.get(m.dev);
      if (!engine) { s.starts.delete(k); continue; }
      const state = engine.ringStateOf(m.index);
      const msg = { ...m, lastAvailIdx: state, usedIdx: state, outstanding: engine.outstandingOf(m.port), resumed: true };
      s.starts.set(k, msg);
      s.port.postMessage(msg);
    }
    for (const e of this.engines.values()) e.resend(s);
  }

  /**
   * Drain the shard's ring whenever the worker publishes: Atomics.waitAsync on the ring's SEQ word
   * (no message, no fd), every record of the wake-up handed on in one pass per port.
   */
  private watchRing(s: Shard): void {
    const loop = (): void => {
      for (let i = 0; i < 1000 && !this.closing; i++) {
        this.drainRing(s);
        const p = s.reader.waitAsync();
        if (p !== null) { void p.then(loop); return; }
      }
      if (!this.closing) setImmediate(loop);
    };
    loop();
  }

  /** @internal */
  drainRing(s: Shard): void {
    if (s.draining) return; // a host callback re-entered: the outer drain delivers these records
    s.draining = true;
    try { this.drainRecords(s); } finally {
      s.draining = false;
      // One message for the whole drain's credit: a streaming shard drains many ports per wake-up.
      if (s.credits.length > 0) {
        const list = s.credits;
        s.credits = [];
        if (s.alive) s.port.postMessage({ t: 'credits', list } satisfies ToWorker);
      }
    }
  }

  private drainRecords(s: Shard): void {
    const touched = this.touched;
    // Records are delivered straight from the ring (sinks copy what they keep), before the space is
    // released: no per-chain allocation on the main thread, which kept V8's GC busy.
    const wantsSpace = s.reader.drain((dev, port, payload, flags) => {
      const e = this.engines.get(dev);
      if (e !== undefined && e.ringRecord(port, payload, flags)) touched.add(e);
    }, () => {
      for (const e of touched) {
        // A throwing host callback must not stop the ring watcher (it would stall every port of
        // the shard); the records are consumed either way.
        try { e.ringFlush(s); } catch (err) { this.log.error({ shard: s.id, dev: e.dev, err: (err as Error)?.message ?? String(err) }, 'delivering guest→host bytes failed'); }
      }
      touched.clear();
    });
    if (wantsSpace && s.alive) s.port.postMessage({ t: 'space' } satisfies ToWorker);
  }

  private onMessage(s: Shard, m: FromWorker): void {
    if (m.t === 'ready') return;
    if (m.t === 'stopped' || m.t === 'logged') {
      if (m.t === 'stopped') this.drainRing(s); // bytes the worker wrote before it stopped come first
      for (const e of this.engines.values()) e.onReply(m);
      return;
    }
    // A broken queue is never replayed after a restart (a poisonous start would loop).
    if (m.t === 'error') s.starts.delete(`${m.dev}:${m.index}`);
    const e = this.engines.get(m.dev);
    if (!e) return;
    e.onMessage(s, m);
  }
}
