/**
 * ConsoleDevice: the virtio-console device (virtio id 3) behind @vtcon/transport's backend.
 *
 * One instance per VM. The backend creates a connection per QEMU session and calls the
 * VhostUserDevice methods; host-side state (ports, names, sinks, backlog, size, counters) outlives
 * connections, guest-side state (driver ready, port ready/open) is reset on disconnect/reset.
 *
 * Guest reset on a live connection (see GuestSnapshot below): when a Linux guest unbinds
 * virtio_console or reboots, QEMU 11.1.3 (vhost-user-test-device-pci) sends SET_VRING_ENABLE 0
 * and GET_VRING_BASE for every queue on the same connection and nothing else: no SET_STATUS 0, no
 * RESET_DEVICE, and no PORT_OPEN 0 (the driver resets the device before unplugging its ports).
 * Pausing the VM (stop/cont, snapshot, migration) sends the very same sequence, yet there the
 * driver lives on and will never send DEVICE_READY or PORT_OPEN again. So "every queue stopped"
 * is not "reset" in general, and the transport cannot tell the two apart; only this device knows
 * that its handshake state lives outside the rings. Hence: when both control queues are stopped
 * the driver cannot talk to us, so guest-side state is suspended (reported closed, host→guest
 * bytes wait in the backlog); when a control queue starts again, a ring resuming where it stopped
 * (last avail / used idx not 0) brings the suspended state back, while fresh rings (both control
 * queues at 0/0, what a re-initialised driver sets up) or a DEVICE_READY mean a new driver: the
 * suspended state and pending control output are dropped. An explicit reset (RESET_DEVICE,
 * SET_STATUS 0 → reset()) or a disconnect resets at once.
 *
 * Threads: everything here runs on the main thread. The control queues (2, 3) are serviced here;
 * port queues go to a PortQueueEngine (inline or piscina workers).
 *
 * Control protocol (virtio 1.2 §5.3.6.2, matching what QEMU sends a Linux 6.12 guest, see
 * transport/src/protocol/fixtures/qemu-11.1.3):
 *   guest DEVICE_READY(1)        → DEVICE_ADD(id) for every configured port
 *   guest PORT_READY(id, 1)      → CONSOLE_PORT(id,1) [+ RESIZE] for console ports,
 *                                  PORT_NAME(id) without NUL, PORT_OPEN(id,1) if host side open
 *   guest PORT_OPEN(id, v)       → guestOpen tracking ('port-open' event)
 *   host addPort/removePort      → DEVICE_ADD / DEVICE_REMOVE at run time
 *   host resize                  → RESIZE (multiport, console port) or config cols/rows +
 *                                  BACKEND_CONFIG_CHANGE_MSG (single port)
 * Bad guest input (unknown events, ids out of range, events for missing ports) is logged and
 * ignored; a broken queue is isolated (stops) and nothing else breaks.
 */
import { EventEmitter } from 'node:events';
import { ConsoleError, isConsoleError, type ConsoleErrorReason } from '../errors.js';
import {
  CONTROL_EVENT_NAMES, featureBit, isKnownControlEvent, VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY, VIRTIO_CONSOLE_DEVICE_REMOVE, VIRTIO_CONSOLE_F_EMERG_WRITE, VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE, VIRTIO_CONSOLE_PORT_NAME, VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_RESIZE, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VTCON_MAX_PORTS,
} from '../control/constants.js';
import { decodeControl, encodeControl } from '../control/message.js';
import { checkPortName, encodePortName } from '../control/port-name.js';
import { checkSize, type ConsoleSize, DEFAULT_RESIZE_ORDER, encodeResize, type ResizeOrder } from '../control/resize.js';
import { ConsolePort, type PortStats } from '../port/port.js';
import type { PortSink } from '../port/sink.js';
import type { QueueBinding } from '../port/queue.js';
import { DEFAULT_BACKLOG_LIMIT } from '../port/backlog.js';
import { popReadableChains } from '../port/transmit.js';
import { MAX_CONTROL_CHAIN_BYTES } from '../port/chain-bound.js';
import { emergencyWriteByte, readConfigRange, VIRTIO_CONSOLE_CONFIG_SIZE } from './config.js';
import { CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, queueCount, roleOf } from './queue-map.js';
import type { BackendChannelLike, StartedQueueLike, VhostUserDeviceLike } from './vhost-device.js';
import type { EngineHost, PortQueueEngine } from './engine.js';
import { type BindQueue, InlineEngine } from './inline-engine.js';
import { type Logger, silentLogger } from './logger.js';
import { makeBindQueue } from './bind-queue.js';
import { LogLimiter, type LogLimiterOptions } from './log-limiter.js';
import * as native from '@vtcon/transport/native';
import type { PortLogOptions } from '../sink/append-log.js';

export interface ConsolePortOptions {
  name?: string;
  console?: boolean;
  /** Port id; default: the lowest free id (port 0 first). */
  id?: number;
  /** Host side open (PORT_OPEN(1) sent on PORT_READY). Default true. */
  hostOpen?: boolean;
  /** Sinks for this port in addition to those from sinksFor. */
  sinks?: PortSink[];
  /**
   * The port's log file. Unlike a sink, it is written by the thread that services the port's
   * transmitq, before the guest's chains are marked used: a byte the guest saw acknowledged is in
   * the file even if the daemon is killed the next instant. Open while a guest is connected.
   */
  log?: PortLogOptions;
}

export interface PortInfo { id: number; name: string | null; console: boolean }

export interface ConsoleDeviceOptions {
  ports?: ConsolePortOptions[];
  /** max_nr_ports in config space; queues = 2 + 2·maxPorts. Default max(ports, 8), ≤ 32 useful. */
  maxPorts?: number;
  /** Offer VIRTIO_CONSOLE_F_MULTIPORT (default true). Without it only port 0 exists. */
  multiport?: boolean;
  /** RESIZE payload order for this guest (see control/resize.ts). */
  resizeOrder?: ResizeOrder;
  /** Initial console size (config cols/rows and first RESIZE). Default 80x24. */
  size?: ConsoleSize;
  sinksFor?: (port: PortInfo) => PortSink[];
  /** Per-port host→guest backlog bound in bytes (default 1 MiB). */
  backlogLimit?: number;
  /** Queued control messages while the guest posts no control buffers (default 4096). */
  controlBacklogLimit?: number;
  /**
   * Budget of guest-caused log lines (bad control messages...): default 10 per 10 s, the rest
   * counted. false: none here, because `logger` is rate-limited by the host already (the vtcon
   * daemon limits each VM's lines across its device and its connection, and counts them).
   */
  guestLogLimit?: LogLimiterOptions | false;
  logger?: Logger;
  /** How a StartedQueue becomes a serviceable ring. Default: @vtcon/ring DeviceQueue + eventfds. */
  bindQueue?: BindQueue;
  /** Who services port queues; default InlineEngine (main thread). */
  engine?: (host: EngineHost, bind: BindQueue) => PortQueueEngine;
}

export interface DeviceStats {
  connected: boolean;
  driverReady: boolean;
  multiport: boolean;
  ackedFeatures: string;
  maxPorts: number;
  size: ConsoleSize;
  controlBacklog: number;
  controlError: string | null;
  /** Control messages from the guest refused since the device was created ('control-rejected'). */
  controlRejected: number;
  /** Guest-caused log lines suppressed by the rate limit since the device was created. */
  guestLogSuppressed: number;
  emergencyBytes: number;
  ports: PortStats[];
}

export interface ConsoleDeviceEvents {
  'port-open': [port: PortStats, open: boolean];
  'port-ready': [port: PortStats, ok: boolean];
  'port-added': [port: PortStats];
  'port-removed': [port: PortStats];
  'driver-ready': [];
  'queue-error': [info: { index: number; port: number | null; error: ConsoleError }];
  /** A port's log could not be opened or written; the port goes on without it. */
  'log-failed': [info: { port: number; error: ConsoleError }];
  'emergency-write': [byte: number];
  /**
   * A control message from the guest was refused (unknown event, bad id, DEVICE_READY(0)...); also
   * counted in stats().controlRejected. Its log line is rate-limited (guestLogLimit), this is not.
   */
  'control-rejected': [reason: ConsoleErrorReason];
  'features': [acked: bigint];
  'disconnected': [];
  /** host→guest bytes of a port went into guest buffers: its backlog has room again. */
  'wrote': [port: number, bytes: number];
  /** guest→host bytes of a port, after the sinks got them (a copy the listener owns). */
  'data': [port: number, bytes: Uint8Array];
}

const MAX_CONTROL_BATCH = 256;

interface ControlQueue { b: QueueBinding; kick: { stop(): void } }

/** Guest-side state put aside while both control queues are stopped (see the module header). */
interface GuestSnapshot {
  driverReady: boolean;
  ports: Map<number, { guestReady: boolean; guestOpen: boolean; announced: boolean; hostOpen: boolean; size: ConsoleSize | null }>;
}

export class ConsoleDevice extends EventEmitter<ConsoleDeviceEvents> implements VhostUserDeviceLike {
  readonly features: bigint;
  readonly queueCount: number;
  readonly configSize = VIRTIO_CONSOLE_CONFIG_SIZE;
  readonly maxPorts: number;
  readonly resizeOrder: ResizeOrder;

  private readonly ports = new Map<number, ConsolePort>();
  private readonly log: Logger;
  private readonly opts: ConsoleDeviceOptions;
  private readonly bind: BindQueue;
  private acked = 0n;
  private connected = false;
  private driverReady = false;
  private size: ConsoleSize;
  private backendChannel: BackendChannelLike | null = null;
  private engine: PortQueueEngine | null = null;
  private ctrlRx: ControlQueue | null = null;
  private ctrlTx: ControlQueue | null = null;
  private ctrlOut: Uint8Array[] = [];
  private ctrlError: string | null = null;
  private ctrlTxScheduled = false;
  private emergencyBytes = 0;
  private controlRejected = 0;
  private readonly guestLog: LogLimiter;
  private readonly ctrlLimit: number;
  private readonly drainUnsubs = new Map<number, (() => void)[]>();
  private suspended: GuestSnapshot | null = null;

  constructor(opts: ConsoleDeviceOptions = {}) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.guestLog = new LogLimiter(opts.guestLogLimit === false ? { lines: Infinity } : opts.guestLogLimit);
    const multiport = opts.multiport ?? true;
    const nPorts = opts.ports?.length ?? 0;
    this.maxPorts = opts.maxPorts ?? Math.max(nPorts, 8);
    if (!Number.isInteger(this.maxPorts) || this.maxPorts < 1 || this.maxPorts > 0xffff) {
      throw new ConsoleError('BAD_OPTIONS', `maxPorts ${this.maxPorts} must be 1..65535 (a Linux/FreeBSD guest uses at most ${VTCON_MAX_PORTS})`);
    }
    if (!multiport && nPorts > 1) throw new ConsoleError('BAD_OPTIONS', 'more than one port needs multiport');
    if (nPorts > this.maxPorts) throw new ConsoleError('BAD_OPTIONS', `${nPorts} ports > maxPorts ${this.maxPorts}`);
    this.resizeOrder = opts.resizeOrder ?? DEFAULT_RESIZE_ORDER;
    this.size = opts.size ?? { cols: 80, rows: 24 };
    checkSize(this.size);
    this.ctrlLimit = opts.controlBacklogLimit ?? 4096;
    this.queueCount = queueCount(multiport ? this.maxPorts : 1, multiport);
    this.features = featureBit(VIRTIO_CONSOLE_F_SIZE) | featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE)
      | (multiport ? featureBit(VIRTIO_CONSOLE_F_MULTIPORT) : 0n)
      | featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_RING_F_EVENT_IDX) | featureBit(VIRTIO_RING_F_INDIRECT_DESC);
    this.bind = opts.bindQueue ?? makeBindQueue(native);
    for (const p of opts.ports ?? []) this.createPort(p);
    if (!multiport && this.ports.size === 0) this.createPort({ console: true });
  }

  // ---- host API ---------------------------------------------------------------------------

  /** Resolve a port by id or name; throws NO_SUCH_PORT. */
  port(ref: number | string): PortStats {
    return this.getPort(ref).stats();
  }

  /**
   * Queue host→guest bytes on a port. They go straight into posted receive buffers when the guest
   * has the port open; otherwise they wait in the port's bounded backlog. Throws BACKLOG_FULL
   * (nothing of this call accepted) when the backlog cannot take all of it, NO_SUCH_PORT.
   */
  send(ref: number | string, data: Uint8Array | string): void {
    const port = this.getPort(ref);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    try {
      port.backlog.push(bytes);
    } catch (e) {
      port.refusedSends++;
      throw e;
    }
    this.pump(port);
  }

  /** Set a console port's size. Multiport: RESIZE to the guest; single port: config + config change. */
  resize(ref: number | string, cols: number, rows: number): void {
    const port = this.getPort(ref);
    const size = { cols, rows };
    checkSize(size);
    if (!port.console) throw new ConsoleError('NOT_A_CONSOLE_PORT', `port ${port.id} is not a console port`);
    port.size = size;
    if (this.multiport) {
      if (port.guestReady) this.sendControl(port.id, VIRTIO_CONSOLE_RESIZE, 0, encodeResize(size, this.resizeOrder));
    } else {
      this.size = size;
      this.backendChannel?.configChanged();
    }
  }

  /** Add a port at run time (DEVICE_ADD if the guest driver is ready). */
  addPort(p: ConsolePortOptions): PortStats {
    if (!this.multiport) throw new ConsoleError('FEATURE_NOT_NEGOTIATED', 'adding ports needs VIRTIO_CONSOLE_F_MULTIPORT');
    const port = this.createPort(p);
    if (this.engine) this.openLog(this.engine, port);
    if (this.driverReady) this.announce(port);
    this.emit('port-added', port.stats());
    return port.stats();
  }

  /** Remove a port (DEVICE_REMOVE to the guest); pending host→guest bytes are discarded and counted. */
  async removePort(ref: number | string): Promise<PortStats> {
    const port = this.getPort(ref);
    if (port.announced && this.driverReady) this.sendControl(port.id, VIRTIO_CONSOLE_DEVICE_REMOVE, 0);
    this.ports.delete(port.id);
    const discarded = port.backlog.clear();
    if (discarded > 0) this.log.warn({ port: port.id, discarded }, 'port removed with undelivered host→guest bytes');
    for (const u of this.drainUnsubs.get(port.id) ?? []) u();
    this.drainUnsubs.delete(port.id);
    if (port.log !== null && this.engine) await this.engine.setLog(port.id, null).catch(() => undefined);
    await Promise.all(port.sinks.map((s) => s.close()));
    const st = port.stats();
    this.emit('port-removed', st);
    return st;
  }

  /** Host side open/close of a port (PORT_OPEN to the guest). */
  setHostOpen(ref: number | string, open: boolean): void {
    const port = this.getPort(ref);
    port.hostOpen = open;
    if (port.guestReady) this.sendControl(port.id, VIRTIO_CONSOLE_PORT_OPEN, open ? 1 : 0);
  }

  /** Attach another sink to a port at run time. */
  addSink(ref: number | string, sink: PortSink): void {
    const port = this.getPort(ref);
    port.sinks.push(sink);
  }

  stats(): DeviceStats {
    return {
      connected: this.connected, driverReady: this.driverReady, multiport: this.multiport,
      ackedFeatures: '0x' + this.acked.toString(16), maxPorts: this.maxPorts, size: this.size,
      controlBacklog: this.ctrlOut.length, controlError: this.ctrlError, controlRejected: this.controlRejected,
      guestLogSuppressed: this.guestLog.totalSuppressed, emergencyBytes: this.emergencyBytes,
      ports: [...this.ports.values()].sort((a, b) => a.id - b.id).map((p) => p.stats()),
    };
  }

  /** Stop servicing, close every sink. The device can't be used afterwards. */
  async close(): Promise<void> {
    await this.stopAll(); // the port logs are closed and fsynced when this resolves
    const sinks = [...this.ports.values()].flatMap((p) => p.sinks);
    await Promise.all(sinks.map((s) => s.close()));
  }

  // ---- VhostUserDevice --------------------------------------------------------------------

  getConfig(offset: number, size: number): Uint8Array {
    return readConfigRange({ cols: this.size.cols, rows: this.size.rows, maxNrPorts: this.maxPorts, emergWr: 0 }, offset, size);
  }

  /** Only emerg_wr is writable (§5.3.4): one character to port 0's sinks at once. */
  setConfig(offset: number, data: Uint8Array): void {
    const byte = emergencyWriteByte(offset, data);
    if (byte === null) { this.guestWarn({ offset, size: data.length }, 'guest wrote read-only console config'); return; }
    this.emergencyBytes++;
    const p0 = this.ports.get(0);
    if (p0) {
      const bytes = new Uint8Array([byte]);
      const at = Date.now();
      if (p0.log !== null) this.ensureEngine().appendLog(0, bytes, at);
      p0.deliver(bytes, at);
    }
    this.emit('emergency-write', byte);
  }

  setFeatures(acked: bigint): void {
    this.acked = acked;
    this.connected = true;
    this.emit('features', acked);
  }

  attachBackendChannel(ch: BackendChannelLike): void { this.backendChannel = ch; }

  startQueue(index: number, q: StartedQueueLike): void {
    this.connected = true;
    const role = roleOf(index);
    if (role.kind === 'control') {
      let b: QueueBinding;
      try { b = this.bind(index, q); } catch (e) { this.onQueueFailed(index, e); return; } // a bad ring: BAD_RING
      const c: ControlQueue = { b, kick: { stop() {} } };
      if (role.dir === 'transmitq') this.ctrlTx = c; else this.ctrlRx = c;
      // Decide before servicing: a DEVICE_READY waiting in a fresh transmitq must meet reset state.
      if (this.suspended) {
        if (q.lastAvailIdx !== 0 || q.usedIdx !== 0) this.resumeGuest();
        else if (this.ctrlRx && this.ctrlTx) this.dropSuspended('both control queues restarted from index 0');
      }
      const service = role.dir === 'transmitq' ? (): void => this.serviceControlTx() : (): void => this.flushControl();
      // A kick fd that cannot be watched fails at once (breakControl): service only a live queue.
      c.kick = b.watchKick(service, (e) => this.breakControl(c, index, e));
      if (this.ctrlTx === c || this.ctrlRx === c) service();
      return;
    }
    this.ensureEngine().start(index, q);
    // In single-port mode there is no PORT_OPEN: the guest is listening once its queues run.
    if (!this.multiport && role.port === 0) {
      const p0 = this.ports.get(0);
      if (p0) { p0.guestReady = true; p0.guestOpen = true; }
    }
  }

  async stopQueue(index: number): Promise<{ lastAvailIdx: number }> {
    if (index === CONTROL_RECEIVEQ || index === CONTROL_TRANSMITQ) {
      const c = index === CONTROL_RECEIVEQ ? this.ctrlRx : this.ctrlTx;
      if (!c) return { lastAvailIdx: 0 };
      c.kick.stop();
      if (index === CONTROL_RECEIVEQ) this.ctrlRx = null; else this.ctrlTx = null;
      if (!this.ctrlRx && !this.ctrlTx) this.suspendGuest();
      return { lastAvailIdx: c.b.queue.lastAvailIdx };
    }
    // Single-port mode has no control queues: the guest is listening exactly while port 0 runs.
    if (!this.multiport && roleOf(index).kind === 'port') {
      const p0 = this.ports.get(0);
      if (p0) { p0.guestReady = false; p0.guestOpen = false; }
    }
    if (!this.engine) return { lastAvailIdx: 0 };
    return await this.engine.stop(index);
  }

  reset(): void { this.resetGuest(); }

  disconnected(): void {
    this.resetGuest();
    this.emit('disconnected');
  }

  // ---- internals ----------------------------------------------------------------------------

  private get multiport(): boolean { return (this.features & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n && (this.acked === 0n || (this.acked & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n); }

  private ensureEngine(): PortQueueEngine {
    if (!this.engine) {
      const host: EngineHost = {
        received: (port, bytes, chains) => this.onReceived(port, bytes, chains),
        takeOutgoing: (port, dst) => {
          const p = this.ports.get(port);
          return p && this.mayReceive(p) ? p.backlog.takeInto(dst) : 0;
        },
        outgoingBytes: (port) => {
          const p = this.ports.get(port);
          return p && this.mayReceive(p) ? p.backlog.bytes : 0;
        },
        wrote: (port, bytes, chains) => {
          const p = this.ports.get(port);
          if (p) { p.bytesOut += bytes; p.chains += chains; this.emit('wrote', port, bytes); }
        },
        queueFailed: (index, error) => this.onQueueFailed(index, error),
        inFlight: (port, delta) => {
          const p = this.ports.get(port);
          if (p) p.backlog.reserved = Math.max(0, p.backlog.reserved + delta);
        },
        logFailed: (port, message) => this.onLogFailed(port, new ConsoleError('LOG_FAILED', message, { scope: 'none' })),
      };
      const engine = this.opts.engine ? this.opts.engine(host, this.bind) : new InlineEngine(host, this.bind);
      this.engine = engine;
      for (const p of this.ports.values()) this.openLog(engine, p);
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
      this.onLogFailed(p.id, ce);
    });
  }

  private onLogFailed(portId: number, error: ConsoleError): void {
    this.log.error({ port: portId, err: error.message }, 'port log failed; the port goes on without it');
    this.emit('log-failed', { port: portId, error });
  }

  /** Linux discards bytes arriving on a port no process has open (in_intr → discard_port_data),
   * so host→guest bytes stay in the backlog until the guest opened the port. */
  private mayReceive(p: ConsolePort): boolean {
    return this.multiport ? p.guestOpen : true;
  }

  private pump(p: ConsolePort): void {
    if (this.engine && this.mayReceive(p) && p.backlog.bytes > 0) this.engine.pumpReceive(p.id);
  }

  private onReceived(portId: number, bytes: Uint8Array, chains: number): boolean {
    const p = this.ports.get(portId);
    if (!p) {
      // Bytes on a removed port's queue: consumed (the guest may not block forever) and counted.
      this.guestWarn({ port: portId, bytes: bytes.length }, 'guest wrote to a port that does not exist');
      return true;
    }
    p.chains += chains;
    const at = Date.now();
    try {
      p.deliver(bytes, at);
    } catch (e) {
      this.log.error({ port: portId, err: e }, 'sink write failed');
    }
    // `bytes` may be a view into a worker's byte ring, valid only now: listeners get their own copy.
    if (this.listenerCount('data') > 0) this.emit('data', portId, bytes.slice());
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

  private onQueueFailed(index: number, error: unknown): void {
    const role = roleOf(index);
    const portId = role.kind === 'port' ? role.port : null;
    // One wrapping: the message names the queue and carries the cause's own "REASON: detail".
    const ce = isConsoleError(error) && error.reason === 'QUEUE_BROKEN' ? error
      : new ConsoleError('QUEUE_BROKEN', `queue ${index} stopped: ${(error as Error)?.message ?? String(error)}`, { scope: 'queue', cause: error });
    if (portId !== null) {
      const p = this.ports.get(portId);
      if (p) p.error = ce.message;
    } else {
      this.ctrlError = ce.message;
    }
    this.log.error({ queue: index, port: portId, err: ce.message }, 'virtqueue broken; queue isolated');
    this.emit('queue-error', { index, port: portId, error: ce });
  }

  private getPort(ref: number | string): ConsolePort {
    if (typeof ref === 'number') {
      const p = this.ports.get(ref);
      if (p) return p;
    } else {
      for (const p of this.ports.values()) if (p.name === ref) return p;
      if (/^\d+$/.test(ref)) { const p = this.ports.get(Number(ref)); if (p) return p; }
    }
    throw new ConsoleError('NO_SUCH_PORT', `no port ${JSON.stringify(ref)}`);
  }

  private createPort(o: ConsolePortOptions): ConsolePort {
    if (o.name !== undefined) {
      checkPortName(o.name);
      for (const p of this.ports.values()) if (p.name === o.name) throw new ConsoleError('PORT_EXISTS', `port name ${o.name} in use by port ${p.id}`);
    }
    let id = o.id;
    if (id === undefined) {
      id = 0;
      while (this.ports.has(id)) id++;
    }
    if (!Number.isInteger(id) || id < 0 || id >= this.maxPorts) {
      throw new ConsoleError('PORT_ID_OUT_OF_RANGE', `port id ${id} outside 0..${this.maxPorts - 1}`);
    }
    if (this.ports.has(id)) throw new ConsoleError('PORT_EXISTS', `port ${id} exists`);
    const info: PortInfo = { id, name: o.name ?? null, console: o.console ?? false };
    const sinks = [...(this.opts.sinksFor?.(info) ?? []), ...(o.sinks ?? [])];
    const port = new ConsolePort(id, info.name, info.console, o.hostOpen ?? true, sinks,
      this.opts.backlogLimit ?? DEFAULT_BACKLOG_LIMIT, info.console ? { ...this.size } : null);
    port.log = o.log ?? null;
    this.ports.set(id, port);
    return port;
  }

  private announce(p: ConsolePort): void {
    p.announced = true;
    this.sendControl(p.id, VIRTIO_CONSOLE_DEVICE_ADD, 1);
  }

  /** Both control queues stopped: the driver may be gone (reset) or only paused; see the header. */
  private suspendGuest(): void {
    if (this.suspended) return;
    const snap: GuestSnapshot = { driverReady: this.driverReady, ports: new Map() };
    for (const p of this.ports.values()) {
      snap.ports.set(p.id, { guestReady: p.guestReady, guestOpen: p.guestOpen, announced: p.announced, hostOpen: p.hostOpen, size: p.size ? { ...p.size } : null });
    }
    this.suspended = snap;
    this.driverReady = false;
    for (const p of this.ports.values()) {
      const wasOpen = p.guestOpen;
      p.resetGuestState();
      if (wasOpen) this.emit('port-open', p.stats(), false);
    }
    this.log.info({ driverReady: snap.driverReady }, 'control queues stopped: guest-side state suspended until the driver resumes or starts afresh');
  }

  /** A control ring resumed where it stopped: the same driver is back (VM resumed, memory re-mapped). */
  private resumeGuest(): void {
    const snap = this.suspended;
    if (!snap) return;
    this.suspended = null;
    this.driverReady = snap.driverReady;
    const opened: ConsolePort[] = [];
    for (const [id, s] of snap.ports) {
      const p = this.ports.get(id);
      if (!p) {
        // Removed while suspended: tell the driver it still knows about it.
        if (s.announced && snap.driverReady) this.sendControl(id, VIRTIO_CONSOLE_DEVICE_REMOVE, 0);
        continue;
      }
      p.guestReady = s.guestReady; p.guestOpen = s.guestOpen; p.announced = s.announced;
      if (p.guestOpen) opened.push(p);
      // Host-side changes made while suspended could not be sent then.
      if (p.guestReady && p.hostOpen !== s.hostOpen) this.sendControl(p.id, VIRTIO_CONSOLE_PORT_OPEN, p.hostOpen ? 1 : 0);
      if (p.guestReady && p.console && p.size && (s.size?.cols !== p.size.cols || s.size?.rows !== p.size.rows)) {
        this.sendControl(p.id, VIRTIO_CONSOLE_RESIZE, 0, encodeResize(p.size, this.resizeOrder));
      }
    }
    if (this.driverReady) for (const p of this.ports.values()) if (!p.announced) this.announce(p);
    this.log.info({ driverReady: this.driverReady }, 'control queues resumed: guest-side state restored');
    for (const p of opened) { this.emit('port-open', p.stats(), true); this.pump(p); }
  }

  /** A new driver instance: what the old one was told or had pending is void. */
  private dropSuspended(why: string): void {
    if (!this.suspended) return;
    this.suspended = null;
    this.ctrlOut = [];
    this.ctrlError = null;
    for (const p of this.ports.values()) p.error = null;
    this.log.info({ why }, 'guest driver restarted: suspended guest-side state dropped');
  }

  private resetGuest(): void {
    this.suspended = null;
    void this.stopAll();
    this.driverReady = false;
    this.connected = false;
    this.acked = 0n;
    this.ctrlOut = [];
    this.ctrlError = null;
    for (const p of this.ports.values()) { p.resetGuestState(); p.error = null; }
  }

  /** Stop servicing; resolves once the engine stopped its queues and closed the port logs. */
  private stopAll(): Promise<void> {
    this.ctrlRx?.kick.stop(); this.ctrlRx = null;
    this.ctrlTx?.kick.stop(); this.ctrlTx = null;
    const engine = this.engine;
    this.engine = null;
    return Promise.resolve(engine?.close()).catch((e: unknown) => {
      this.log.error({ err: (e as Error)?.message ?? String(e) }, 'stopping the port queues failed');
    });
  }

  /** Queue a device→driver control message and push it into posted control buffers. */
  private sendControl(id: number, event: number, value: number, payload?: Uint8Array): void {
    if (this.ctrlOut.length >= this.ctrlLimit) {
      this.log.error({ id, event: CONTROL_EVENT_NAMES[event], pending: this.ctrlOut.length }, 'control backlog full: the guest posts no control buffers; message refused');
      this.ctrlError = 'control backlog full';
      return;
    }
    this.ctrlOut.push(encodeControl(id, event, value, payload));
    this.flushControl();
  }

  private flushControl(): void {
    const c = this.ctrlRx;
    if (!c || this.ctrlOut.length === 0) return;
    try {
      const q = c.b.queue;
      let n = 0;
      while (this.ctrlOut.length > 0) {
        const chain = q.popAvailable();
        if (chain === null) {
          if (q.enableNotification()) continue;
          break;
        }
        const msg = this.ctrlOut.shift()!;
        let off = 0;
        for (const seg of chain.writable) {
          if (off >= msg.length) break;
          const k = Math.min(seg.length, msg.length - off);
          seg.set(msg.subarray(off, off + k));
          off += k;
        }
        if (off < msg.length) this.guestWarn({ need: msg.length, got: off }, 'control buffer too small; message truncated');
        q.pushUsed(chain.head, off);
        n++;
      }
      if (n > 0 && q.needsNotification()) c.b.notify();
    } catch (e) {
      this.breakControl(c, CONTROL_RECEIVEQ, e);
    }
  }

  /** BAD_RING for a control queue: stop watching it, forget it, report it once. */
  private breakControl(c: ControlQueue, index: number, e: unknown): void {
    c.kick.stop();
    if (this.ctrlRx === c) this.ctrlRx = null;
    else if (this.ctrlTx === c) this.ctrlTx = null;
    else return; // already stopped or broken
    this.onQueueFailed(index, e);
  }

  private serviceControlTx(): void {
    const c = this.ctrlTx;
    if (!c) return;
    let batch: ReturnType<typeof popReadableChains>;
    try {
      batch = popReadableChains(c.b.queue, MAX_CONTROL_BATCH, MAX_CONTROL_CHAIN_BYTES);
      c.b.queue.publishUsed();
    } catch (e) {
      this.breakControl(c, CONTROL_TRANSMITQ, e);
      return;
    }
    const { copies: msgs, more, error } = batch;
    try {
      if (msgs.length > 0 && c.b.queue.needsNotification()) c.b.notify();
    } catch (e) {
      this.breakControl(c, CONTROL_TRANSMITQ, e);
    }
    // The messages before a malformed chain (or a failed interrupt) were used: they count.
    if (error !== null) this.breakControl(c, CONTROL_TRANSMITQ, error);
    for (const m of msgs) this.handleControl(m);
    if (more && !this.ctrlTxScheduled) {
      // A guest flooding the control queue gets batches, with the event loop in between.
      this.ctrlTxScheduled = true;
      setImmediate(() => { this.ctrlTxScheduled = false; this.serviceControlTx(); });
    }
  }

  /** Bad guest input: counted, reported ('control-rejected'), logged within the guest's log budget. */
  private reject(reason: ConsoleErrorReason, msg: string, ctx: object): void {
    this.controlRejected++;
    this.emit('control-rejected', reason);
    this.guestWarn({ reason, ...ctx }, msg);
  }

  /** A log line the guest caused: at most a few per window per device (log-limiter.ts). */
  private guestWarn(ctx: object, msg: string): void {
    const suppressed = this.guestLog.take();
    if (suppressed === null) return;
    if (suppressed === 0) this.log.warn(ctx, msg);
    else this.log.warn({ ...ctx, suppressed }, `${msg} (${suppressed} earlier guest-caused lines suppressed)`);
  }

  /** One driver→device control message (§5.3.6.2 device requirements). */
  private handleControl(bytes: Uint8Array): void {
    let m;
    try { m = decodeControl(bytes); } catch (e) {
      this.reject('CONTROL_TOO_SHORT', 'short control message from guest ignored', { len: bytes.length, err: String(e) });
      return;
    }
    const ctx = { id: m.id, event: CONTROL_EVENT_NAMES[m.event] ?? m.event, value: m.value };
    if (!isKnownControlEvent(m.event)) return this.reject('UNKNOWN_EVENT', 'unknown control event from guest ignored', ctx);
    if (m.event === VIRTIO_CONSOLE_DEVICE_READY) {
      if (m.value !== 1) return this.reject('DRIVER_INIT_FAILED', 'guest driver reports it failed to initialise', ctx);
      // Only a driver that (re)initialised sends DEVICE_READY: whatever was suspended is void.
      this.dropSuspended('DEVICE_READY');
      if (this.driverReady) this.guestWarn(ctx, 'second DEVICE_READY; announcing ports again');
      this.driverReady = true;
      this.emit('driver-ready');
      for (const p of [...this.ports.values()].sort((a, b) => a.id - b.id)) this.announce(p);
      return;
    }
    if (m.event !== VIRTIO_CONSOLE_PORT_READY && m.event !== VIRTIO_CONSOLE_PORT_OPEN) {
      return this.reject('UNKNOWN_EVENT', 'device→driver event sent by the guest ignored', ctx);
    }
    if (m.id >= this.maxPorts) return this.reject('PORT_ID_OUT_OF_RANGE', 'control event for port id out of range ignored', ctx);
    const p = this.ports.get(m.id);
    if (!p) return this.reject('NO_SUCH_PORT', 'control event for a port that does not exist ignored', ctx);
    if (m.event === VIRTIO_CONSOLE_PORT_READY) {
      if (m.value !== 1) {
        p.guestReady = false;
        this.guestWarn(ctx, 'guest could not create port');
        this.emit('port-ready', p.stats(), false);
        return;
      }
      p.guestReady = true;
      if (p.console) {
        this.sendControl(p.id, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        // Linux ignores config-space size with MULTIPORT; tell it on ready and on every change.
        if (p.size) this.sendControl(p.id, VIRTIO_CONSOLE_RESIZE, 0, encodeResize(p.size, this.resizeOrder));
      }
      if (p.name !== null) this.sendControl(p.id, VIRTIO_CONSOLE_PORT_NAME, 1, encodePortName(p.name));
      if (p.hostOpen) this.sendControl(p.id, VIRTIO_CONSOLE_PORT_OPEN, 1);
      this.emit('port-ready', p.stats(), true);
      return;
    }
    // PORT_OPEN
    const open = m.value !== 0;
    const changed = open !== p.guestOpen;
    p.guestOpen = open;
    if (changed) this.emit('port-open', p.stats(), open);
    if (open) this.pump(p);
  }
}
