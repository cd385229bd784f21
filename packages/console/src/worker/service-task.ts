/**
 * The long-lived piscina task that services a shard of port queues on a worker thread.
 *
 * Why long-lived: a piscina round trip costs ~57 µs here, so a task per kick would cap a port at
 * ~17k kicks/s. Instead one task per worker runs until shutdown; it watches its queues' kick
 * eventfds with the addon's uv_poll on this worker's own event loop, processes rings in batches
 * and writes call eventfds — the main thread is not on the per-kick path. Guest→host bytes are
 * copied from guest memory straight into the shard's byte ring (byte-ring.ts), published, and
 * only then the chains are marked used; the main thread (which owns the sinks) drains the ring.
 * A credit window per port (credits come back in batches) and the ring's size hold the guest back
 * when the main thread or a sink is slow, instead of growing memory.
 * A port with a log (AppendLog) has each pass's bytes appended to it before the used entries are
 * published: "used" means "in the log", which a crash of the daemon does not undo.
 *
 * Loaded by piscina: dist/ JS, or under vitest through test-support/service-task.mjs. Thread
 * contract: only this worker touches its queues' rings while they are started here.
 */
import type { MessagePort } from 'node:worker_threads';
import { DeviceQueue, GuestMemory, type QueueConfig } from '@vtcon/ring';
import { RingWriter } from './byte-ring.js';
import { RingTarget, type RingPort } from './ring-target.js';
import { transmitPass, TransmitScratch } from '../port/transmit.js';
import { fillReceiveq } from '../port/receive.js';
import { Backlog } from '../port/backlog.js';
import { AppendLog } from '../sink/append-log.js';
import type { FromWorker, ShardTaskData, ToWorker } from './protocol.js';
import { callNotifier, type EventfdOps, watchKickFd } from '../device/guarded-eventfd.js';
import { MAX_PORT_CHAIN_BYTES } from '../port/chain-bound.js';
import { MainWake } from './main-wake.js';
import { errorToWire } from '../errors.js';

/** A started queue; a transmitq's credit and held chain are its RingPort part (ring-target.ts). */
interface Q extends RingPort {
  index: number; dir: 'receiveq' | 'transmitq';
  /**
   * null: a receiveq that has had no host→guest bytes yet. An idle VM's receiveqs (one per port,
   * maxPorts of them: QEMU starts them all) then cost neither a DeviceQueue nor a kick watch; the
   * first bytes build both (openReceiveq). transmitqs are built at start (serviced at once).
   */
  queue: DeviceQueue | null; watch: { stop(): void } | null;
  /** Signal the guest (the call fd, guarded: throws a ConsoleError the servicing catch turns into fail()). */
  notify: () => void;
  /** What openReceiveq builds the queue from: the start message's ring and ring state. */
  mem: GuestMemory; config: QueueConfig; kickFd: number; startAvailIdx: number; startUsedIdx: number;
  scheduled: boolean; dead: boolean;
  /** transmitq: when this queue last published bytes (performance.now(); main-wake.ts). */
  lastOutput: number;
  /** transmitq: the port's log, if it has one. */
  log: AppendLog | undefined;
}

/** A start message (the one a restart replays). */
type StartMsg = Extract<ToWorker, { t: 'start' }>;

const key = (dev: number, n: number): string => `${dev}:${n}`;

export default async function serviceShard(data: ShardTaskData): Promise<string> {
  const mod = (await import(data.nativeModule)) as EventfdOps & { native?: EventfdOps };
  return await new ShardService(mod.native ?? mod, data).run();
}

/** One worker's shard of port queues: one method per message from the main thread (protocol.ts). */
export class ShardService {
  private readonly port: MessagePort;
  private readonly batch: number;
  private readonly queues = new Map<string, Q>();
  private readonly txByPort = new Map<string, Q>();
  private readonly rxByPort = new Map<string, Q>();
  private readonly pending = new Map<string, Backlog>();
  /** Each device's guest memory, by the generation of the memory table it came from (see RegionInit). */
  private readonly memories = new Map<number, { gen: number; mem: GuestMemory }>();
  private readonly logs = new Map<string, AppendLog>();
  private readonly ring: RingWriter;
  private readonly mainWake: MainWake;
  private wakeTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly target: RingTarget;
  private readonly scratch = new TransmitScratch();
  /** transmitqs waiting for ring space (woken by the main thread's 'space'). */
  private readonly spaceWaiters = new Set<Q>();
  private resolveRun: ((why: string) => void) | null = null;

  constructor(private readonly ops: EventfdOps, data: ShardTaskData) {
    this.port = data.port;
    this.batch = data.batch;
    this.ring = new RingWriter(data.ring);
    this.target = new RingTarget(this.ring);
    this.mainWake = new MainWake(data.coalesceMs);
  }

  /** Serve messages until 'shutdown'. */
  run(): Promise<string> {
    return new Promise<string>((resolve) => {
      this.resolveRun = resolve;
      this.port.on('message', (m: ToWorker) => this.dispatch(m));
      this.post({ t: 'ready' });
    });
  }

  private dispatch(m: ToWorker): void {
    switch (m.t) {
      case 'start': this.start(m); break;
      case 'stop': this.stop(m.dev, m.index, m.req); break;
      case 'send': this.send(m.dev, m.port, m.bytes); break;
      case 'credit': this.credit(m.dev, m.port, m.bytes); break;
      case 'credits': for (let i = 0; i + 2 < m.list.length; i += 3) this.credit(m.list[i]!, m.list[i + 1]!, m.list[i + 2]!); break;
      case 'space': this.space(); break;
      case 'log': this.setLog(m); break;
      case 'append': this.append(m.dev, m.port, m.bytes, m.at); break;
      case 'forget': this.forget(m.dev); break;
      case 'stall': this.stall(m.ms); break;
      case 'die': this.die(); break;
      case 'shutdown': this.shutdown(); break;
    }
  }

  private post(m: FromWorker, transfer?: ArrayBuffer[]): void { this.port.postMessage(m, transfer ?? []); }

  start(m: StartMsg): void {
    // A bad ring (misaligned, outside memory) or kick fd throws here: that queue is broken
    // (BAD_RING, reported like a ring error), the worker and its other queues go on.
    try {
      this.startQueue(m);
    } catch (e) {
      this.post({ t: 'error', dev: m.dev, index: m.index, error: errorToWire(e) });
    }
  }

  stop(dev: number, index: number, req: number): void {
    const q = this.queues.get(key(dev, index));
    let last = 0;
    if (q) {
      q.dead = true; q.watch?.stop(); q.watch = null;
      // A chain held in pieces is not used: give it back (the main thread drops its pieces),
      // so lastAvailIdx = used.idx as the restart rule says.
      last = ((q.queue?.lastAvailIdx ?? q.startAvailIdx) - (q.partial !== null ? 1 : 0)) & 0xffff;
      this.spaceWaiters.delete(q);
      this.queues.delete(key(dev, index));
      const map = q.dir === 'transmitq' ? this.txByPort : this.rxByPort;
      if (map.get(key(dev, q.port)) === q) map.delete(key(dev, q.port));
    }
    this.post({ t: 'stopped', req, lastAvailIdx: last });
  }

  send(dev: number, port: number, bytes: Uint8Array): void {
    const k = key(dev, port);
    let b = this.pending.get(k);
    if (!b) { b = new Backlog(Number.MAX_SAFE_INTEGER); this.pending.set(k, b); }
    b.push(bytes);
    const q = this.rxByPort.get(k);
    if (q) this.service(q);
  }

  credit(dev: number, port: number, bytes: number): void {
    const q = this.txByPort.get(key(dev, port));
    if (q) {
      const wasBlocked = q.outstanding >= q.window;
      q.outstanding = Math.max(0, q.outstanding - bytes);
      if (wasBlocked && q.outstanding < q.window) this.service(q);
    }
  }

  space(): void {
    const waiting = [...this.spaceWaiters];
    this.spaceWaiters.clear();
    for (const q of waiting) this.service(q);
  }

  setLog(m: Extract<ToWorker, { t: 'log' }>): void {
    const k = key(m.dev, m.port);
    this.logs.get(k)?.close();
    this.logs.delete(k);
    let error: string | null = null;
    if (m.options !== null) {
      const { dev, port: p } = m;
      try {
        this.logs.set(k, AppendLog.open(m.options, (err) => this.post({ t: 'logFailed', dev, port: p, message: err.message })));
      } catch (e) {
        error = (e as Error).message;
      }
    }
    const tx = this.txByPort.get(k);
    if (tx !== undefined) tx.log = this.logs.get(k);
    if (m.req !== 0) this.post({ t: 'logged', req: m.req, error });
    else if (error !== null) this.post({ t: 'logFailed', dev: m.dev, port: m.port, message: error }); // a replay after a restart
  }

  append(dev: number, port: number, bytes: Uint8Array, at: number): void {
    this.logs.get(key(dev, port))?.append([bytes], at);
  }

  forget(dev: number): void {
    for (const [k, log] of this.logs) if (k.startsWith(`${dev}:`)) { log.close(); this.logs.delete(k); }
    for (const q of this.queues.values()) if (q.dev === dev) q.log = undefined;
    this.memories.delete(dev);
    for (const k of [...this.pending.keys()]) if (k.startsWith(`${dev}:`)) this.pending.delete(k);
  }

  stall(ms: number): void {
    const end = Date.now() + ms;
    while (Date.now() < end) { /* a hung worker (test hook) */ }
  }

  die(): void {
    setImmediate(() => { throw new Error('injected worker death (test hook)'); });
  }

  shutdown(): void {
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    for (const q of this.queues.values()) { q.dead = true; q.watch?.stop(); }
    this.queues.clear();
    for (const log of this.logs.values()) log.close(); // fsync: a clean shutdown is durable on disk
    this.logs.clear();
    this.port.close();
    this.resolveRun?.('shutdown');
  }

  private startQueue(m: StartMsg): void {
    // Keyed by the table's generation, not its addresses: a front-end re-sends the same layout
    // (stop/start) over new mappings, and the old ones are released (replaced by anonymous memory).
    let mem = this.memories.get(m.dev);
    if (!mem || mem.gen !== m.memGen) {
      mem = { gen: m.memGen, mem: new GuestMemory(m.regions.map((r) => ({ guestPhysAddr: r.guestPhysAddr, size: r.size, buffer: r.buffer, offset: r.offset }))) };
      this.memories.set(m.dev, mem);
    }
    const config: QueueConfig = { ...m.config, indirect: m.config.indirect ?? false };
    const q: Q = {
      dev: m.dev, index: m.index, port: m.port, dir: m.dir,
      queue: m.dir === 'transmitq' ? new DeviceQueue(mem.mem, config, { lastAvailIdx: m.lastAvailIdx, usedIdx: m.usedIdx }) : null,
      mem: mem.mem, config, kickFd: m.kickFd, startAvailIdx: m.lastAvailIdx, startUsedIdx: m.usedIdx,
      notify: callNotifier(this.ops, m.callFd, m.index), watch: null, outstanding: m.outstanding, window: m.window,
      scheduled: false, dead: false, partial: null, lastOutput: -Infinity,
      log: m.dir === 'transmitq' ? this.logs.get(key(m.dev, m.port)) : undefined,
    };
    // Chains after used.idx that a dead engine or worker logged and never used are popped again:
    // the log is cut back to where it was when used.idx was published, so they are logged once.
    if (m.resumed && q.log) q.log.reconcile(m.usedIdx);
    this.queues.set(key(m.dev, m.index), q);
    (m.dir === 'transmitq' ? this.txByPort : this.rxByPort).set(key(m.dev, m.port), q);
    // A transmitq is serviced once now: the guest may have posted chains whose kick a dead
    // worker (or a previous daemon) consumed. A receiveq is serviced when bytes wait for it
    // (service returns at once otherwise), which builds it first.
    if (q.queue !== null) this.watchKick(q);
    this.service(q);
  }

  private fail(q: Q, e: unknown): void {
    q.dead = true;
    q.watch?.stop(); q.watch = null;
    this.post({ t: 'error', dev: q.dev, index: q.index, error: errorToWire(e) });
  }

  private schedule(q: Q): void {
    if (q.scheduled) return;
    q.scheduled = true;
    setImmediate(() => { q.scheduled = false; this.service(q); });
  }

  /** Wake the main thread now if q was quiet, else batched with the next wake-up (main-wake.ts). */
  private wakeMain(q: Q): void {
    const now = performance.now();
    const when = this.mainWake.published(q, now);
    if (when === 'now') {
      this.wake(now);
    } else if (when === 'arm') {
      this.wakeTimer = setTimeout(() => {
        this.wakeTimer = null;
        if (this.mainWake.timerFired()) this.wake(performance.now());
      }, this.mainWake.backstopMs);
    }
  }

  private wake(now: number): void {
    if (this.mainWake.woke(now)) this.wakeTimer?.refresh();
    this.ring.wakeReader();
  }

  /**
   * One transmit pass into the ring (port/transmit.ts: copy, log, publish the ring tail, publish
   * the used entries, signal the guest), and only then wake the main thread (its work is off the
   * guest's latency path).
   */
  private serviceTransmit(q: Q): void {
    const t = this.target;
    t.q = q;
    const r = transmitPass(q.queue!, t, q.notify, this.batch, MAX_PORT_CHAIN_BYTES, q.log, this.scratch); // queue: built at start
    t.q = null;
    if (t.published) this.wakeMain(q);
    if (r.error !== null) throw r.error; // a malformed chain: what was handed over before it is published
    if (q.partial !== null) {
      // A chain held in pieces: wait for the main thread to free ring space.
      this.spaceWaiters.add(q);
      if (this.ring.waitForSpace(Math.min(q.partial.bytes.length - q.partial.off, this.ring.maxPiece))) { this.spaceWaiters.delete(q); this.schedule(q); }
    } else if (r.more) this.schedule(q);
  }

  /** Watch q's kick eventfd: a kick services q on this thread's loop. */
  private watchKick(q: Q): void {
    q.watch = watchKickFd(this.ops, q.kickFd, q.index, () => this.service(q), (e) => this.fail(q, e));
  }

  /**
   * Build a receiveq on its first host→guest bytes. Nothing was popped from it before (it only
   * pops to deliver bytes), so the start message's ring state is still its state. Its kick watch
   * starts now too: kicks the guest made meanwhile left the eventfd readable (its count stays
   * until read), so a guest that posted buffers before is seen at once.
   */
  private openReceiveq(q: Q): DeviceQueue {
    const queue = new DeviceQueue(q.mem, q.config, { lastAvailIdx: q.startAvailIdx, usedIdx: q.startUsedIdx });
    q.queue = queue;
    this.watchKick(q);
    return queue;
  }

  private service(q: Q): void {
    if (q.dead) return;
    try {
      if (q.dir === 'transmitq') {
        if (q.outstanding >= q.window && q.partial === null) return; // wait for credit (backpressure)
        this.serviceTransmit(q);
      } else {
        const src = this.pending.get(key(q.dev, q.port));
        if (!src || src.empty) return;
        const r = fillReceiveq(q.queue ?? this.openReceiveq(q), src, q.notify, this.batch, this.scratch.chain);
        if (r.chains > 0) {
          this.post({ t: 'wrote', dev: q.dev, port: q.port, bytes: r.bytes, chains: r.chains });
          // Host→guest bytes on this port: the guest's answer (an echo) is interactive; its
          // wake-up is not coalesced.
          const tx = this.txByPort.get(key(q.dev, q.port));
          if (tx !== undefined) tx.lastOutput = -Infinity;
        }
        if (!r.starved && !src.empty) this.schedule(q);
      }
    } catch (e) {
      this.fail(q, e);
    }
  }
}
