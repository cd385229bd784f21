/**
 * The device's side of its port queues (main thread): the PortQueueEngine that services them,
 * created on a connection's first port queue, and the EngineHost callbacks it calls: host→guest
 * bytes out of the ports' backlogs, guest→host bytes to the ports' sinks with backpressure, and
 * the port logs, which live in the engine.
 */
import { ConsoleError, isConsoleError } from '../errors.js';
import type { ConsolePort } from '../port/port.js';
import type { EngineHost, PortQueueEngine } from './engine.js';
import type { EmitDeviceEvent, GuestWarn } from './events.js';
import { type BindQueue, InlineEngine } from './inline-engine.js';
import type { Logger } from './logger.js';
import type { ConsoleDeviceOptions } from './options.js';
import type { PortTable } from './port-table.js';
import type { StartedQueueLike } from './vhost-device.js';

export interface PortServicingDeps {
  ports: Pick<PortTable, 'get' | 'values'>;
  bind: BindQueue;
  /** Who services port queues; default InlineEngine (main thread). */
  engine: ConsoleDeviceOptions['engine'];
  log: Logger;
  /** Raises 'wrote', 'data' and 'log-failed'. */
  emit: EmitDeviceEvent;
  /** Someone listens to 'data' (it costs a copy of every batch). */
  hasDataListener(): boolean;
  guestWarn: GuestWarn;
  /** VIRTIO_CONSOLE_F_MULTIPORT is in effect. */
  multiport(): boolean;
  /** A port queue broke (the engine stopped it). */
  queueFailed(index: number, error: unknown): void;
}

export class PortServicing {
  private engine: PortQueueEngine | null = null;
  private readonly drainUnsubs = new Map<number, (() => void)[]>();

  constructor(private readonly deps: PortServicingDeps) {}

  start(index: number, q: StartedQueueLike): void {
    this.ensureEngine().start(index, q);
  }

  /** Stop port queue `index`; null when no port queue ran on this connection. */
  stop(index: number): Promise<{ lastAvailIdx: number }> | { lastAvailIdx: number } | null {
    return this.engine ? this.engine.stop(index) : null;
  }

  /** Stop every port queue; resolves once the engine stopped them and closed the port logs. */
  close(): Promise<void> {
    const engine = this.engine;
    this.engine = null;
    return Promise.resolve(engine?.close()).catch((e: unknown) => {
      this.deps.log.error({ err: (e as Error)?.message ?? String(e) }, 'stopping the port queues failed');
    });
  }

  /** There may be host→guest bytes for the port: fill what the guest posted. */
  pump(p: ConsolePort): void {
    if (this.engine && this.mayReceive(p) && p.backlog.bytes > 0) this.engine.pumpReceive(p.id);
  }

  /** A port added at run time: its log opens in the running engine (or with the next one). */
  portAdded(p: ConsolePort): void {
    if (this.engine) this.openLog(this.engine, p);
  }

  /** A port removed: stop waiting for its sinks; the promise (if any) resolves once its log is closed. */
  portRemoved(p: ConsolePort): Promise<void> | null {
    for (const u of this.drainUnsubs.get(p.id) ?? []) u();
    this.drainUnsubs.delete(p.id);
    if (p.log !== null && this.engine) return this.engine.setLog(p.id, null).catch(() => undefined);
    return null;
  }

  /** Bytes that did not come through the transmitq (emergency writes) into the port's log. */
  appendLog(p: ConsolePort, bytes: Uint8Array, at: number): void {
    this.ensureEngine().appendLog(p.id, bytes, at);
  }

  private ensureEngine(): PortQueueEngine {
    if (!this.engine) {
      const { ports } = this.deps;
      const host: EngineHost = {
        received: (port, bytes, chains) => this.received(port, bytes, chains),
        takeOutgoing: (port, dst) => {
          const p = ports.get(port);
          return p && this.mayReceive(p) ? p.backlog.takeInto(dst) : 0;
        },
        outgoingBytes: (port) => {
          const p = ports.get(port);
          return p && this.mayReceive(p) ? p.backlog.bytes : 0;
        },
        wrote: (port, bytes, chains) => {
          const p = ports.get(port);
          if (p) { p.bytesOut += bytes; p.chains += chains; this.deps.emit('wrote', port, bytes); }
        },
        queueFailed: (index, error) => this.deps.queueFailed(index, error),
        inFlight: (port, delta) => {
          const p = ports.get(port);
          if (p) p.backlog.reserved = Math.max(0, p.backlog.reserved + delta);
        },
        logFailed: (port, message) => this.logFailed(port, new ConsoleError('LOG_FAILED', message, { scope: 'none' })),
      };
      const engine = this.deps.engine ? this.deps.engine(host, this.deps.bind) : new InlineEngine(host, this.deps.bind);
      this.engine = engine;
      for (const p of ports.values()) this.openLog(engine, p);
    }
    return this.engine;
  }

  /** Open the port's log in the engine that services its transmitq (before any chain is popped). */
  private openLog(engine: PortQueueEngine, p: ConsolePort): void {
    if (p.log === null) return;
    engine.setLog(p.id, p.log).catch((e: unknown) => {
      const ce = isConsoleError(e) && e.reason === 'LOG_FAILED'
        ? e as ConsoleError
        : new ConsoleError('LOG_FAILED', (e as Error)?.message ?? String(e), { scope: 'none', cause: e });
      this.logFailed(p.id, ce);
    });
  }

  private logFailed(portId: number, error: ConsoleError): void {
    this.deps.log.error({ port: portId, err: error.message }, 'port log failed; the port goes on without it');
    this.deps.emit('log-failed', { port: portId, error });
  }

  /** Linux discards bytes arriving on a port no process has open (in_intr → discard_port_data),
   * so host→guest bytes stay in the backlog until the guest opened the port. */
  private mayReceive(p: ConsolePort): boolean {
    return this.deps.multiport() ? p.guestOpen : true;
  }

  private received(portId: number, bytes: Uint8Array, chains: number): boolean {
    const p = this.deps.ports.get(portId);
    if (!p) {
      // Bytes on a removed port's queue: consumed (the guest may not block forever) and counted.
      this.deps.guestWarn({ port: portId, bytes: bytes.length }, 'guest wrote to a port that does not exist');
      return true;
    }
    p.chains += chains;
    const at = Date.now();
    try {
      p.deliver(bytes, at);
    } catch (e) {
      this.deps.log.error({ port: portId, err: e }, 'sink write failed');
    }
    // `bytes` may be a view into a worker's byte ring, valid only now: listeners get their own copy.
    if (this.deps.hasDataListener()) this.deps.emit('data', portId, bytes.slice());
    if (p.sinksWantMore()) return true;
    if (p.paused) return false; // already waiting for a drain
    // Backpressure: leave the guest's chains in the ring until every sink drained.
    p.paused = true;
    const unsubs: (() => void)[] = [];
    const resume = (): void => {
      if (!p.sinksWantMore() || !p.paused) return;
      p.paused = false;
      for (const u of unsubs) u();
      this.drainUnsubs.delete(portId);
      this.engine?.resumeTransmit(portId);
    };
    for (const s of p.sinks) {
      const u = s.onDrain?.(resume);
      if (u) unsubs.push(u);
    }
    this.drainUnsubs.set(portId, unsubs);
    return false;
  }
}
