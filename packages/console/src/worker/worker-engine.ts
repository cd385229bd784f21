/**
 * WorkerEngine: a PortQueueEngine whose port queues are serviced in a ConsoleWorkerPool shard.
 * Main thread only. Keeps what a restart needs: where each queue's used ring is (its idx is the
 * ring state), the host→guest bytes not yet confirmed written, and the uncredited guest→host bytes.
 */
import type { GuestMemory, QueueConfig } from '@vtcon/ring';
import { ConsoleError } from '../errors.js';
import { roleOf } from '../device/queue-map.js';
import type { EngineHost, PortQueueEngine } from '../device/engine.js';
import type { StartedQueueLike } from '../device/vhost-device.js';
import type { FromWorker, RegionInit } from './protocol.js';
import type { ConsoleWorkerPool, Shard } from './pool.js';

interface Unacked { chunks: Uint8Array[]; bytes: number }

let nextReq = 1;

export class WorkerEngine implements PortQueueEngine {
  private readonly used = new Map<number, { memory: GuestMemory; usedAddr: number }>();
  private readonly unacked = new Map<number, Unacked>();
  private readonly uncredited = new Map<number, number>();
  private readonly paused = new Set<number>();
  private readonly stops = new Map<number, (n: number) => void>();
  private readonly indexes = new Set<number>();

  constructor(private readonly pool: ConsoleWorkerPool, readonly dev: number, private readonly host: EngineHost) {}

  start(index: number, q: StartedQueueLike): void {
    const role = roleOf(index);
    if (role.kind !== 'port') throw new ConsoleError('BAD_OPTIONS', `control queue ${index} is serviced on the main thread`);
    const memory = q.memory as GuestMemory;
    const regions: RegionInit[] = memory.regions.map((r) => {
      if (!(r.buffer instanceof SharedArrayBuffer)) throw new ConsoleError('BAD_OPTIONS', 'worker servicing needs guest memory in SharedArrayBuffers');
      return { guestPhysAddr: r.guestPhysAddr, size: r.size, buffer: r.buffer, offset: r.offset };
    });
    const c = q.config as QueueConfig;
    this.used.set(index, { memory, usedAddr: c.usedAddr });
    this.indexes.add(index);
    const shard = this.pool.shardFor(this.dev, role.port);
    this.pool.post(shard, {
      t: 'start', dev: this.dev, index, port: role.port, dir: role.dir, regions,
      config: { descAddr: c.descAddr, availAddr: c.availAddr, usedAddr: c.usedAddr, size: c.size, eventIdx: c.eventIdx, indirect: c.indirect ?? false },
      lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx, kickFd: q.kickFd, callFd: q.callFd,
      window: this.pool.window, outstanding: this.uncredited.get(role.port) ?? 0,
    });
    if (role.dir === 'receiveq') this.pumpReceive(role.port);
  }

  stop(index: number): Promise<{ lastAvailIdx: number }> {
    const role = roleOf(index);
    if (role.kind !== 'port' || !this.indexes.has(index)) return Promise.resolve({ lastAvailIdx: 0 });
    this.indexes.delete(index);
    const req = nextReq++;
    const shard = this.pool.shardFor(this.dev, role.port);
    return new Promise((resolve) => {
      const fallback = setTimeout(() => { this.stops.delete(req); resolve({ lastAvailIdx: this.ringStateOf(index) }); }, 2000);
      this.stops.set(req, (n) => { clearTimeout(fallback); resolve({ lastAvailIdx: n }); });
      if (shard.alive) this.pool.post(shard, { t: 'stop', dev: this.dev, index, req });
      else { this.pool.post(shard, { t: 'stop', dev: this.dev, index, req }); this.stops.get(req)!(this.ringStateOf(index)); this.stops.delete(req); }
    });
  }

  pumpReceive(port: number): void {
    const n = this.host.outgoingBytes(port);
    if (n === 0) return;
    const bytes = new Uint8Array(n);
    const got = this.host.takeOutgoing(port, bytes);
    if (got === 0) return;
    const chunk = bytes.subarray(0, got);
    const u = this.unacked.get(port) ?? { chunks: [], bytes: 0 };
    u.chunks.push(chunk); u.bytes += got;
    this.unacked.set(port, u);
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

  async close(): Promise<void> {
    await Promise.all([...this.indexes].map((i) => this.stop(i)));
    for (const [port, u] of this.unacked) this.host.inFlight(port, -u.bytes);
    this.unacked.clear();
    this.pool.forget(this.dev);
  }

  /** @internal used.idx of queue `index`, read from guest memory (= lastAvailIdx, see pool.ts). */
  ringStateOf(index: number): number {
    const u = this.used.get(index);
    if (!u) return 0;
    const v = u.memory.view(u.usedAddr + 2, 2);
    return v[0]! | (v[1]! << 8);
  }

  /** @internal */
  outstandingOf(port: number): number { return this.uncredited.get(port) ?? 0; }

  /** @internal after shard s restarted: re-send the host→guest bytes it had not confirmed. */
  resend(s: Shard): void {
    for (const [port, u] of this.unacked) {
      if (this.pool.shardFor(this.dev, port) !== s || u.bytes === 0) continue;
      const all = new Uint8Array(u.bytes);
      let off = 0;
      for (const c of u.chunks) { all.set(c, off); off += c.length; }
      this.pool.post(s, { t: 'send', dev: this.dev, port, bytes: all });
    }
  }

  /** @internal */
  onStopped(req: number, lastAvailIdx: number): void {
    const f = this.stops.get(req);
    if (f) { this.stops.delete(req); f(lastAvailIdx); }
  }

  /** @internal */
  onMessage(s: Shard, m: FromWorker): void {
    switch (m.t) {
      case 'rx': {
        const ok = this.host.received(m.port, m.bytes, m.chains);
        if (ok && !this.paused.has(m.port)) this.pool.post(s, { t: 'credit', dev: this.dev, port: m.port, bytes: m.bytes.length });
        else { this.paused.add(m.port); this.uncredited.set(m.port, (this.uncredited.get(m.port) ?? 0) + m.bytes.length); }
        break;
      }
      case 'wrote': {
        const u = this.unacked.get(m.port);
        if (u) {
          let n = m.bytes;
          while (n > 0 && u.chunks.length > 0) {
            const c = u.chunks[0]!;
            if (c.length <= n) { n -= c.length; u.chunks.shift(); } else { u.chunks[0] = c.subarray(n); n = 0; }
          }
          u.bytes -= m.bytes;
        }
        this.host.inFlight(m.port, -m.bytes);
        this.host.wrote(m.port, m.bytes, m.chains);
        break;
      }
      case 'error':
        this.host.queueFailed(m.index, new ConsoleError('QUEUE_BROKEN', `${m.reason}: ${m.message}`, { scope: 'queue' }));
        break;
      default:
        break;
    }
  }
}
