/**
 * WorkerEngine: a PortQueueEngine whose port queues are serviced in a ConsoleWorkerPool shard.
 * Main thread only. Keeps what a restart needs: where each queue's used ring is (its idx is the
 * ring state), the host→guest bytes not yet confirmed written, and the uncredited guest→host bytes.
 */
import type { GuestMemory, QueueConfig } from '@vtcon/ring';
import { ConsoleError, errorFromWire } from '../errors.js';
import { roleOf } from '../device/queue-map.js';
import type { EngineHost, PortQueueEngine } from '../device/engine.js';
import type { StartedQueueLike } from '../device/vhost-device.js';
import type { FromWorker, RegionInit } from './protocol.js';
import type { Shard, ShardPool } from './shard.js';
import { RECORD_COMPLETE } from './byte-ring.js';
import type { PortLogOptions } from '../sink/append-log.js';
import { Backlog } from '../port/backlog.js';

type WorkerReply = Extract<FromWorker, { t: 'stopped' | 'logged' }>;

/** guest→host ring records of one port since the last flush. */
interface Incoming {
  /** Views into the shard's ring (this drain) or copies (pieces held from an earlier drain). */
  parts: Uint8Array[];
  /** parts[0..doneParts) end at a chain boundary and may be delivered. */
  doneParts: number;
  doneBytes: number;
  chains: number;
  /** Bytes taken off the ring since the last flush (credit owed to the worker). */
  consumed: number;
  bytes: number;
}

let nextReq = 1;
let nextMemGen = 1;

/**
 * Where small records of one port are joined into one delivery, so a drain of many small chains
 * costs the sinks a few calls, not one per chain. Shared by every engine (all on the main thread,
 * deliveries are synchronous), allocated on first use: 16 KiB per daemon, not per VM.
 */
const JOIN_BYTES = 16 * 1024;
let joinBuffer: Uint8Array | null = null;

export class WorkerEngine implements PortQueueEngine {
  private readonly used = new Map<number, { memory: GuestMemory; usedAddr: number }>();
  /** Host→guest bytes sent to the worker and not yet written into guest buffers (resent after a restart). */
  private readonly unacked = new Map<number, Backlog>();
  /** Ports with a pumpReceive due (see there). */
  private readonly pumping = new Set<number>();
  private closed = false;
  /** Credit held back while a sink pauses the port (returned on resumeTransmit). */
  private readonly uncredited = new Map<number, number>();
  /** Credit owed but batched: returned once it reaches a quarter of the window. */
  private readonly owed = new Map<number, number>();
  private readonly incoming = new Map<number, Incoming>();
  private readonly stopPorts = new Map<number, number>();
  private readonly paused = new Set<number>();
  /** Requests ('stop', 'log') waiting for the worker's answer, by req. */
  private readonly replies = new Map<number, (m: WorkerReply) => void>();
  private readonly indexes = new Set<number>();
  /** Ports whose log is open in their shard's worker. */
  private readonly logPorts = new Set<number>();

  /**
   * The regions of the guest memory last started, shared by every start message of this device
   * (the pool keeps each one for replay: maxPorts × 2 of them per VM).
   */
  private regionsOf: { memory: GuestMemory; regions: RegionInit[]; gen: number } | null = null;

  constructor(private readonly pool: ShardPool, readonly dev: number, private readonly host: EngineHost, readonly label: string) {}

  start(index: number, q: StartedQueueLike): void {
    const role = roleOf(index);
    if (role.kind !== 'port') throw new ConsoleError('BAD_OPTIONS', `control queue ${index} is serviced on the main thread`);
    const memory = q.memory as GuestMemory;
    if (this.regionsOf?.memory !== memory) {
      this.regionsOf = {
        memory,
        // A new GuestMemory is a new memory table, whatever its layout: workers key mappings by this.
        gen: nextMemGen++,
        // The regions as given, not GuestMemory's windows of a long one (those overlap).
        regions: memory.inits.map((r) => {
          if (!(r.buffer instanceof SharedArrayBuffer)) throw new ConsoleError('BAD_OPTIONS', 'worker servicing needs guest memory in SharedArrayBuffers');
          return { guestPhysAddr: r.guestPhysAddr, size: r.size, buffer: r.buffer, offset: r.offset };
        }),
      };
    }
    const { regions, gen: memGen } = this.regionsOf;
    const c = q.config as QueueConfig;
    this.used.set(index, { memory, usedAddr: c.usedAddr });
    this.indexes.add(index);
    const shard = this.pool.shardFor(this.dev, role.port);
    this.pool.post(shard, {
      t: 'start', dev: this.dev, index, port: role.port, dir: role.dir, regions, memGen,
      config: { descAddr: c.descAddr, availAddr: c.availAddr, usedAddr: c.usedAddr, size: c.size, eventIdx: c.eventIdx, indirect: c.indirect ?? false },
      lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx, kickFd: q.kickFd, callFd: q.callFd,
      window: this.pool.window, outstanding: this.uncredited.get(role.port) ?? 0, resumed: q.resumed === true,
    });
    if (role.dir === 'receiveq') this.pumpReceive(role.port);
  }

  stop(index: number): Promise<{ lastAvailIdx: number }> {
    const role = roleOf(index);
    if (role.kind !== 'port' || !this.indexes.has(index)) return Promise.resolve({ lastAvailIdx: this.ringStateOf(index) });
    this.indexes.delete(index);
    const req = nextReq++;
    if (role.dir === 'transmitq') this.stopPorts.set(req, role.port);
    const shard = this.pool.shardFor(this.dev, role.port);
    this.pool.post(shard, { t: 'stop', dev: this.dev, index, req });
    // A dead worker answers nothing: the ring state in guest memory is the answer.
    const fromRing = (): { lastAvailIdx: number } => ({ lastAvailIdx: this.ringStateOf(index) });
    if (!shard.alive) { this.stopPorts.delete(req); return Promise.resolve(fromRing()); }
    const ms = this.pool.stopTimeoutMs;
    const generation = shard.generation;
    // No answer: the worker is hung. It is terminated before this resolves (the back-end closes
    // the queue's fds next); the ring state in guest memory is the answer.
    return this.reply(req, ms, async () => {
      this.stopPorts.delete(req);
      await this.pool.declareDead(shard, generation, `${this.label} queue ${index}: no answer to 'stop' within ${ms} ms`);
      return fromRing();
    }, (m) => ({ lastAvailIdx: m.t === 'stopped' ? m.lastAvailIdx : 0 }));
  }

  /** The worker's answer to `req`, mapped by `answer`; `timedOut()`'s if none comes within `ms`. */
  private reply<T>(req: number, ms: number, timedOut: () => Promise<T>, answer: (m: WorkerReply) => T): Promise<T> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.replies.delete(req); resolve(timedOut()); }, ms);
      this.replies.set(req, (m) => { clearTimeout(timer); resolve(answer(m)); });
    });
  }

  /**
   * Once per port per turn of the main thread (a microtask): an attach client's frames arrive
   * thousands to a socket read, each a pump; a message to the worker for each of them kept both
   * threads busy for seconds and queued as many messages.
   */
  pumpReceive(port: number): void {
    if (this.pumping.has(port) || this.closed) return;
    this.pumping.add(port);
    queueMicrotask(() => { this.pumping.delete(port); if (!this.closed) this.sendOutgoing(port); });
  }

  /** The port's host→guest bytes to its worker (kept until written, for a restart's resend). */
  private sendOutgoing(port: number): void {
    const n = this.host.outgoingBytes(port);
    if (n === 0) return;
    const bytes = new Uint8Array(n);
    const got = this.host.takeOutgoing(port, bytes);
    if (got === 0) return;
    const chunk = bytes.subarray(0, got);
    let u = this.unacked.get(port);
    if (!u) { u = new Backlog(Number.MAX_SAFE_INTEGER); this.unacked.set(port, u); }
    u.push(chunk);
    this.host.inFlight(port, got);
    this.pool.post(this.pool.shardFor(this.dev, port), { t: 'send', dev: this.dev, port, bytes: chunk.slice() });
  }

  resumeTransmit(port: number): void {
    this.paused.delete(port);
    const n = this.uncredited.get(port) ?? 0;
    if (n > 0) {
      this.uncredited.set(port, 0);
      this.pool.post(this.pool.shardFor(this.dev, port), { t: 'credit', dev: this.dev, port, bytes: n });
    }
  }

  async setLog(port: number, options: PortLogOptions | null): Promise<void> {
    if (options !== null) this.logPorts.add(port); else this.logPorts.delete(port);
    const shard = this.pool.shardFor(this.dev, port);
    const req = nextReq++;
    this.pool.post(shard, { t: 'log', dev: this.dev, port, options, req });
    // A shard being restarted gets the open replayed (pool.ts); nothing to wait for.
    if (!shard.alive) return;
    const ms = this.pool.logTimeoutMs;
    const generation = shard.generation;
    const error = await this.reply(req, ms, async () => {
      const why = `${this.label} port ${port}: no answer to the log ${options === null ? 'close' : 'open'} within ${ms} ms`;
      await this.pool.declareDead(shard, generation, why);
      return why; // a log whose open was not confirmed is not known to be open: never success
    }, (m) => (m.t === 'logged' ? m.error : null));
    if (error !== null) throw new ConsoleError('LOG_FAILED', error);
  }

  appendLog(port: number, bytes: Uint8Array, at: number): void {
    if (!this.logPorts.has(port)) return;
    this.pool.post(this.pool.shardFor(this.dev, port), { t: 'append', dev: this.dev, port, bytes: bytes.slice(), at });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.indexes].map((i) => this.stop(i)));
    // Close (fsync) the logs after the queues stopped: nothing is appended after this.
    await Promise.allSettled([...this.logPorts].map((p) => this.setLog(p, null)));
    for (const [port, u] of this.unacked) this.host.inFlight(port, -u.bytes);
    this.unacked.clear();
    this.pool.forget(this.dev);
  }

  /** @internal used.idx of queue `index`, read from guest memory (= lastAvailIdx, see pool.ts). */
  ringStateOf(index: number): number {
    const u = this.used.get(index);
    if (!u) return 0;
    try {
      const v = u.memory.view(u.usedAddr + 2, 2);
      return v[0]! | (v[1]! << 8);
    } catch {
      return 0; // a used ring outside guest memory: that queue broke at start, it has no state
    }
  }

  /** @internal */
  outstandingOf(port: number): number { return (this.uncredited.get(port) ?? 0) + (this.owed.get(port) ?? 0); }

  /**
   * @internal one ring record for `port` (payload valid during the call only). Returns true
   * the first time the port is touched in this drain, so the pool calls ringFlush once.
   */
  ringRecord(port: number, payload: Uint8Array, flags: number): boolean {
    let inc = this.incoming.get(port);
    if (inc === undefined) {
      inc = { parts: [], doneParts: 0, doneBytes: 0, chains: 0, consumed: 0, bytes: 0 };
      this.incoming.set(port, inc);
    }
    if (payload.length > 0) inc.parts.push(payload); // a view: valid until ringFlush returns
    inc.bytes += payload.length;
    inc.consumed += payload.length;
    if ((flags & RECORD_COMPLETE) !== 0) {
      inc.chains += flags & 0xffff;
      inc.doneParts = inc.parts.length;
      inc.doneBytes = inc.bytes;
    }
    return true;
  }

  /**
   * @internal end of a drain, before the ring space is released: deliver complete chains to the
   * sinks (a view valid during the call, per the PortSink contract), keep copies of the pieces of
   * an incomplete chain, then account the credit.
   */
  ringFlush(s: Shard): void {
    for (const [port, inc] of this.incoming) {
      if (inc.chains > 0) {
        const parts = inc.parts;
        const done = inc.doneParts;
        const chains = inc.chains;
        inc.parts = done === parts.length ? [] : parts.slice(done);
        inc.bytes -= inc.doneBytes;
        inc.doneParts = 0; inc.doneBytes = 0; inc.chains = 0;
        if (!this.deliver(port, parts, done, chains)) this.paused.add(port);
      }
      // Pieces of a chain not complete yet outlive this drain: copy those still in the ring.
      for (let i = 0; i < inc.parts.length; i++) {
        const p = inc.parts[i]!;
        if (p.buffer instanceof SharedArrayBuffer) inc.parts[i] = p.slice();
      }
      const n = inc.consumed;
      inc.consumed = 0;
      if (inc.bytes === 0) this.incoming.delete(port);
      if (n > 0) this.credit(s, port, n);
    }
  }

  /**
   * Hand parts[0..count) to the host: a part of JOIN_BYTES or more as it is (a view), smaller ones
   * joined in joinBuffer. The chain count goes with the last delivery. false = pause the port.
   */
  private deliver(port: number, parts: Uint8Array[], count: number, chains: number): boolean {
    if (count <= 1) return this.host.received(port, count === 1 ? parts[0]! : new Uint8Array(0), chains); // 0: empty chains
    let more = true;
    let joined = 0;
    const join = (joinBuffer ??= new Uint8Array(JOIN_BYTES));
    for (let i = 0; i < count; i++) {
      const p = parts[i]!;
      const last = i === count - 1;
      if (p.length >= JOIN_BYTES) {
        if (joined > 0) { more = this.host.received(port, join.subarray(0, joined), 0) && more; joined = 0; }
        more = this.host.received(port, p, last ? chains : 0) && more;
        continue;
      }
      if (joined + p.length > JOIN_BYTES) { more = this.host.received(port, join.subarray(0, joined), 0) && more; joined = 0; }
      join.set(p, joined);
      joined += p.length;
      if (last) more = this.host.received(port, join.subarray(0, joined), chains) && more;
    }
    return more;
  }

  private credit(s: Shard, port: number, n: number): void {
    if (this.paused.has(port)) {
      const owed = this.owed.get(port) ?? 0;
      if (owed > 0) this.owed.delete(port);
      this.uncredited.set(port, (this.uncredited.get(port) ?? 0) + n + owed);
      return;
    }
    const owed = (this.owed.get(port) ?? 0) + n;
    if (owed >= this.pool.window / 4) {
      this.owed.delete(port);
      this.pool.credit(s, this.dev, port, owed);
    } else this.owed.set(port, owed);
  }

  /** @internal the shard's worker died: pieces of chains it had not completed will come again. */
  dropPartial(s: Shard): void {
    for (const port of [...this.incoming.keys()]) {
      if (this.pool.shardFor(this.dev, port) === s) this.incoming.delete(port);
    }
  }

  /** @internal after shard s restarted: re-send the host→guest bytes it had not confirmed. */
  resend(s: Shard): void {
    for (const [port, u] of this.unacked) {
      if (this.pool.shardFor(this.dev, port) !== s || u.bytes === 0) continue;
      this.pool.post(s, { t: 'send', dev: this.dev, port, bytes: u.peekAll() });
    }
  }

  /** @internal the pool gave up on queue `index` (its worker kept dying): broken, like a ring error. */
  workerGaveUp(index: number, error: ConsoleError): void {
    this.indexes.delete(index);
    this.host.queueFailed(index, error);
  }

  /** @internal the worker answered a 'stop' or 'log' (req numbers are unique across engines). */
  onReply(m: WorkerReply): void {
    const port = this.stopPorts.get(m.req);
    if (port !== undefined) {
      // The worker gave back a chain it held in pieces (not used): drop the pieces.
      this.stopPorts.delete(m.req);
      this.incoming.delete(port);
    }
    const f = this.replies.get(m.req);
    if (f) { this.replies.delete(m.req); f(m); }
  }

  /** @internal */
  onMessage(s: Shard, m: FromWorker): void {
    switch (m.t) {
      case 'wrote': {
        this.unacked.get(m.port)?.skip(m.bytes);
        this.host.inFlight(m.port, -m.bytes);
        this.host.wrote(m.port, m.bytes, m.chains);
        break;
      }
      case 'logFailed':
        this.host.logFailed(m.port, m.message);
        break;
      case 'error':
        // The worker's error as it was (a VirtqueueError keeps its name and reason): the device
        // wraps it once, in QUEUE_BROKEN.
        this.host.queueFailed(m.index, errorFromWire(m.error));
        break;
      default:
        break;
    }
  }
}
