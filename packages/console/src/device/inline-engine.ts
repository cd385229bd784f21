/**
 * InlineEngine: services port queues on the main thread. One kick → one batch pass; passes that
 * hit the batch limit continue on setImmediate so one busy guest cannot starve the event loop.
 * Port logs are AppendLogs on this thread, appended inside the pass before the used entries are
 * published.
 */
import { drainTransmitq } from '../port/transmit.js';
import { AppendLog, type PortLogOptions } from '../sink/append-log.js';
import { fillReceiveq } from '../port/receive.js';
import type { QueueBinding } from '../port/queue.js';
import { roleOf } from './queue-map.js';
import type { EngineHost, PortQueueEngine } from './engine.js';
import type { StartedQueueLike } from './vhost-device.js';

export type BindQueue = (index: number, q: StartedQueueLike) => QueueBinding;

interface Running {
  binding: QueueBinding;
  kick: { stop(): void };
  port: number;
  dir: 'receiveq' | 'transmitq';
  paused: boolean;
  scheduled: boolean;
  failed: boolean;
}

export class InlineEngine implements PortQueueEngine {
  private readonly running = new Map<number, Running>();
  private readonly byPort = new Map<number, { rx?: Running; tx?: Running }>();
  private readonly logs = new Map<number, AppendLog>();

  constructor(private readonly host: EngineHost, private readonly bind: BindQueue, private readonly batch = 256) {}

  start(index: number, q: StartedQueueLike): void {
    const role = roleOf(index);
    if (role.kind !== 'port') throw new Error(`InlineEngine got control queue ${index}`);
    let binding: QueueBinding;
    try {
      binding = this.bind(index, q);
    } catch (e) {
      this.host.queueFailed(index, e); // a ring the device cannot use (misaligned...): BAD_RING
      return;
    }
    const r: Running = { binding, kick: { stop() {} }, port: role.port, dir: role.dir, paused: false, scheduled: false, failed: false };
    r.kick = binding.watchKick(() => this.service(r), (e) => this.fail(r, e));
    this.running.set(index, r);
    const slot = this.byPort.get(role.port) ?? {};
    if (role.dir === 'receiveq') slot.rx = r; else slot.tx = r;
    this.byPort.set(role.port, slot);
    // A queue may start with chains already posted (reconnect, or kicks before start).
    this.service(r);
  }

  stop(index: number): { lastAvailIdx: number } {
    const r = this.running.get(index);
    if (!r) return { lastAvailIdx: 0 };
    r.kick.stop();
    this.running.delete(index);
    const slot = this.byPort.get(r.port);
    if (slot) { if (slot.rx === r) delete slot.rx; if (slot.tx === r) delete slot.tx; }
    r.failed = true; // no more servicing
    return { lastAvailIdx: r.binding.queue.lastAvailIdx };
  }

  pumpReceive(port: number): void {
    const r = this.byPort.get(port)?.rx;
    if (r) this.service(r);
  }

  resumeTransmit(port: number): void {
    const r = this.byPort.get(port)?.tx;
    if (r && r.paused) { r.paused = false; this.service(r); }
  }

  setLog(port: number, options: PortLogOptions | null): Promise<void> {
    this.logs.get(port)?.close();
    this.logs.delete(port);
    if (options === null) return Promise.resolve();
    try {
      this.logs.set(port, AppendLog.open(options, (err) => this.host.logFailed(port, err.message)));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  appendLog(port: number, bytes: Uint8Array, at: number): void {
    this.logs.get(port)?.append([bytes], at);
  }

  close(): void {
    for (const i of [...this.running.keys()]) this.stop(i);
    for (const log of this.logs.values()) log.close();
    this.logs.clear();
  }

  private schedule(r: Running): void {
    if (r.scheduled) return;
    r.scheduled = true;
    setImmediate(() => { r.scheduled = false; this.service(r); });
  }

  private service(r: Running): void {
    if (r.failed) return;
    try {
      if (r.dir === 'transmitq') {
        if (r.paused) return;
        const b = drainTransmitq(r.binding.queue, () => r.binding.notify(), this.batch, this.logs.get(r.port));
        if (b.chains > 0) {
          const more = this.host.received(r.port, b.bytes, b.chains);
          if (b.error !== null) throw b.error;
          if (!more) { r.paused = true; return; }
        }
        if (b.error !== null) throw b.error;
        if (b.more) this.schedule(r);
      } else {
        if (this.host.outgoingBytes(r.port) === 0) return;
        const host = this.host;
        const port = r.port;
        const res = fillReceiveq(r.binding.queue, {
          get bytes() { return host.outgoingBytes(port); },
          takeInto: (dst) => host.takeOutgoing(port, dst),
        }, () => r.binding.notify(), this.batch);
        if (res.chains > 0) this.host.wrote(r.port, res.bytes, res.chains);
        if (!res.starved && this.host.outgoingBytes(r.port) > 0) this.schedule(r);
      }
    } catch (e) {
      this.fail(r, e);
    }
  }

  /** BAD_RING semantics: the queue is broken; stop touching it, keep everything else. */
  private fail(r: Running, e: unknown): void {
    if (r.failed) return;
    r.failed = true;
    r.kick.stop();
    this.host.queueFailed(r.binding.index, e);
  }
}
