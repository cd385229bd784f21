/**
 * ConsoleDevice: the virtio-console device (virtio id 3) behind @vtcon/transport's backend.
 *
 * One instance per VM. The backend creates a connection per QEMU session and calls the
 * VhostUserDevice methods; host-side state (ports, names, sinks, backlog, size, counters) outlives
 * connections, guest-side state (driver ready, port ready/open) is reset on disconnect/reset.
 *
 * This class is the device's two faces, the host API and the VhostUserDevice interface. Behind
 * them, one module per role:
 *   port-table.ts       the ports, by id and name
 *   control-queue.ts    control receiveq/transmitq servicing, the backlog of messages to the driver
 *   control-handler.ts  the control protocol: what the driver's messages mean, the answers
 *   guest-state.ts      driver ready; suspend/resume/reset as the control queues stop and restart
 *   port-servicing.ts   the engine servicing port queues: backlog out, sinks in (backpressure), logs
 * Threads: everything here runs on the main thread. The control queues (2, 3) are serviced here;
 * port queues go to a PortQueueEngine (inline or piscina workers).
 * Bad guest input (unknown events, ids out of range, events for missing ports) is logged and
 * ignored; a broken queue is isolated (stops) and nothing else breaks.
 */
import { EventEmitter } from 'node:events';
import { ConsoleError, isConsoleError } from '../errors.js';
import { VIRTIO_CONSOLE_DEVICE_REMOVE, VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_RESIZE } from '../control/constants.js';
import { checkSize, type ConsoleSize, DEFAULT_RESIZE_ORDER, encodeResize, type ResizeOrder } from '../control/resize.js';
import type { PortStats } from '../port/port.js';
import type { PortSink } from '../port/sink.js';
import * as native from '@vtcon/transport/native';
import { makeBindQueue } from './bind-queue.js';
import { emergencyWriteByte, readConfigRange, VIRTIO_CONSOLE_CONFIG_SIZE } from './config.js';
import { ControlHandler } from './control-handler.js';
import { ControlQueues } from './control-queue.js';
import type { ConsoleDeviceEvents, DeviceStats, EmitDeviceEvent, GuestWarn } from './events.js';
import { multiportInEffect, offeredFeatures } from './features.js';
import { GuestState, type GuestStateWire } from './guest-state.js';
import { LogLimiter } from './log-limiter.js';
import { type Logger, silentLogger } from './logger.js';
import { checkedMaxPorts, type ConsoleDeviceOptions, type ConsolePortOptions } from './options.js';
import { PortServicing } from './port-servicing.js';
import { PortTable } from './port-table.js';
import { CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, queueCount, roleOf } from './queue-map.js';
import type { BackendChannelLike, StartedQueueLike, VhostUserDeviceLike } from './vhost-device.js';

export type { ConsoleDeviceOptions, ConsolePortOptions, PortInfo } from './options.js';
export type { ConsoleDeviceEvents, DeviceStats } from './events.js';

export class ConsoleDevice extends EventEmitter<ConsoleDeviceEvents> implements VhostUserDeviceLike {
  readonly features: bigint;
  readonly queueCount: number;
  readonly configSize = VIRTIO_CONSOLE_CONFIG_SIZE;
  readonly maxPorts: number;
  readonly resizeOrder: ResizeOrder;

  private readonly log: Logger;
  private readonly guestLog: LogLimiter;
  private readonly ports: PortTable;
  private readonly portQueues: PortServicing;
  private readonly control: ControlQueues;
  private readonly guest: GuestState;
  private readonly controlHandler: ControlHandler;
  private acked = 0n;
  private connected = false;
  private size: ConsoleSize;
  private backendChannel: BackendChannelLike | null = null;
  private emergencyBytes = 0;

  constructor(opts: ConsoleDeviceOptions = {}) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.guestLog = new LogLimiter(opts.guestLogLimit === false ? { lines: Infinity } : opts.guestLogLimit);
    const multiport = opts.multiport ?? true;
    this.maxPorts = checkedMaxPorts(opts, multiport);
    this.resizeOrder = opts.resizeOrder ?? DEFAULT_RESIZE_ORDER;
    this.size = opts.size ?? { cols: 80, rows: 24 };
    checkSize(this.size);
    this.queueCount = queueCount(multiport ? this.maxPorts : 1, multiport);
    this.features = offeredFeatures(multiport);
    const bind = opts.bindQueue ?? makeBindQueue(native);
    const emit: EmitDeviceEvent = this.emit.bind(this);
    const guestWarn: GuestWarn = (ctx, msg) => this.guestWarn(ctx, msg);
    const queueFailed = (index: number, error: unknown): void => this.onQueueFailed(index, error);
    const ports = this.ports = new PortTable(this.maxPorts, opts);
    const portQueues = this.portQueues = new PortServicing({
      ports, bind, engine: opts.engine, log: this.log, emit, guestWarn, queueFailed,
      hasDataListener: () => this.listenerCount('data') > 0, multiport: () => this.multiport,
    });
    const pump = portQueues.pump.bind(portQueues);
    const control = this.control = new ControlQueues({
      bind, limit: opts.controlBacklogLimit ?? 4096, log: this.log, guestWarn, failed: queueFailed,
      received: (bytes) => this.controlHandler.handle(bytes),
    });
    const guest = this.guest = new GuestState({ ports, control, resizeOrder: this.resizeOrder, log: this.log, emit, pump });
    this.controlHandler = new ControlHandler({ ports, guest, control, maxPorts: this.maxPorts, resizeOrder: this.resizeOrder, emit, guestWarn, pump });
    for (const p of opts.ports ?? []) ports.create(p, this.size);
    if (!multiport && ports.size === 0) ports.create({ console: true }, this.size);
  }

  // ---- host API ---------------------------------------------------------------------------

  /** Resolve a port by id or name; throws NO_SUCH_PORT. */
  port(ref: number | string): PortStats {
    return this.ports.find(ref).stats();
  }

  /**
   * Queue host→guest bytes on a port. They go straight into posted receive buffers when the guest
   * has the port open; otherwise they wait in the port's bounded backlog. Throws BACKLOG_FULL
   * (nothing of this call accepted) when the backlog cannot take all of it, NO_SUCH_PORT.
   */
  send(ref: number | string, data: Uint8Array | string): void {
    const port = this.ports.find(ref);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    try {
      port.backlog.push(bytes);
    } catch (e) {
      port.refusedSends++;
      throw e;
    }
    this.portQueues.pump(port);
  }

  /** Set a console port's size. Multiport: RESIZE to the guest; single port: config + config change. */
  resize(ref: number | string, cols: number, rows: number): void {
    const port = this.ports.find(ref);
    const size = { cols, rows };
    checkSize(size);
    if (!port.console) throw new ConsoleError('NOT_A_CONSOLE_PORT', `port ${port.id} is not a console port`);
    port.size = size;
    if (this.multiport) {
      if (port.guestReady) this.control.send(port.id, VIRTIO_CONSOLE_RESIZE, 0, encodeResize(size, this.resizeOrder));
    } else {
      this.size = size;
      this.backendChannel?.configChanged();
    }
  }

  /** Add a port at run time (DEVICE_ADD if the guest driver is ready). */
  addPort(p: ConsolePortOptions): PortStats {
    if (!this.multiport) throw new ConsoleError('FEATURE_NOT_NEGOTIATED', 'adding ports needs VIRTIO_CONSOLE_F_MULTIPORT');
    const port = this.ports.create(p, this.size);
    this.portQueues.portAdded(port);
    if (this.guest.driverReady) this.guest.announce(port);
    this.emit('port-added', port.stats());
    return port.stats();
  }

  /** Remove a port (DEVICE_REMOVE to the guest); pending host→guest bytes are discarded and counted. */
  async removePort(ref: number | string): Promise<PortStats> {
    const port = this.ports.find(ref);
    if (port.announced && this.guest.driverReady) this.control.send(port.id, VIRTIO_CONSOLE_DEVICE_REMOVE, 0);
    this.ports.delete(port.id);
    const discarded = port.backlog.clear();
    if (discarded > 0) this.log.warn({ port: port.id, discarded }, 'port removed with undelivered host→guest bytes');
    const logClosed = this.portQueues.portRemoved(port);
    if (logClosed) await logClosed;
    await Promise.all(port.sinks.map((s) => s.close()));
    const st = port.stats();
    this.emit('port-removed', st);
    return st;
  }

  /** Host side open/close of a port (PORT_OPEN to the guest). */
  setHostOpen(ref: number | string, open: boolean): void {
    const port = this.ports.find(ref);
    port.hostOpen = open;
    if (port.guestReady) this.control.send(port.id, VIRTIO_CONSOLE_PORT_OPEN, open ? 1 : 0);
  }

  /** Attach another sink to a port at run time. */
  addSink(ref: number | string, sink: PortSink): void {
    this.ports.find(ref).sinks.push(sink);
  }

  stats(): DeviceStats {
    return {
      connected: this.connected, driverReady: this.guest.driverReady, multiport: this.multiport,
      ackedFeatures: '0x' + this.acked.toString(16), maxPorts: this.maxPorts, size: this.size,
      controlBacklog: this.control.backlog, controlError: this.control.error, controlRejected: this.controlHandler.rejected,
      guestLogSuppressed: this.guestLog.totalSuppressed, emergencyBytes: this.emergencyBytes,
      ports: this.ports.sorted().map((p) => p.stats()),
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
      if (p0.log !== null) this.portQueues.appendLog(p0, bytes, at);
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
      this.control.start(index, q, () => this.guest.controlStarted(q, this.control.bothRunning));
      return;
    }
    this.portQueues.start(index, q);
    // In single-port mode there is no PORT_OPEN: the guest is listening once its queues run.
    if (!this.multiport && role.port === 0) {
      const p0 = this.ports.get(0);
      if (p0) { p0.guestReady = true; p0.guestOpen = true; }
    }
  }

  async stopQueue(index: number): Promise<{ lastAvailIdx: number }> {
    if (index === CONTROL_RECEIVEQ || index === CONTROL_TRANSMITQ) {
      const stopped = this.control.stop(index);
      if (!stopped) return { lastAvailIdx: 0 };
      if (!this.control.anyRunning) this.guest.suspend();
      return stopped;
    }
    // Single-port mode has no control queues: the guest is listening exactly while port 0 runs.
    if (!this.multiport && roleOf(index).kind === 'port') {
      const p0 = this.ports.get(0);
      if (p0) { p0.guestReady = false; p0.guestOpen = false; }
    }
    const stopped = this.portQueues.stop(index);
    if (!stopped) return { lastAvailIdx: 0 };
    return await stopped;
  }

  reset(): void { this.resetGuest(); }

  /** The guest side of the device (driver and port handshake state) for the next engine to adopt. */
  guestState(): GuestStateWire { return this.guest.toWire(); }

  /** A held connection taken over from an earlier engine (VhostUserDevice.adopt): see GuestState.adopt. */
  adopt(state: unknown): void { this.guest.adopt(state); }

  disconnected(): void {
    this.resetGuest();
    this.emit('disconnected');
  }

  // ---- internals ----------------------------------------------------------------------------

  private get multiport(): boolean { return multiportInEffect(this.features, this.acked); }

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
      this.control.error = ce.message;
    }
    this.log.error({ queue: index, port: portId, err: ce.message }, 'virtqueue broken; queue isolated');
    this.emit('queue-error', { index, port: portId, error: ce });
  }

  /** RESET_DEVICE, SET_STATUS 0 or a disconnect: stop servicing, forget the guest side. */
  private resetGuest(): void {
    void this.stopAll();
    this.connected = false;
    this.acked = 0n;
    this.guest.reset();
  }

  /** Stop servicing; resolves once the engine stopped its queues and closed the port logs. */
  private stopAll(): Promise<void> {
    this.control.stopAll();
    return this.portQueues.close();
  }

  /** A log line the guest caused: at most a few per window per device (log-limiter.ts). */
  private guestWarn(ctx: object, msg: string): void {
    const suppressed = this.guestLog.take();
    if (suppressed === null) return;
    if (suppressed === 0) this.log.warn(ctx, msg);
    else this.log.warn({ ...ctx, suppressed }, `${msg} (${suppressed} earlier guest-caused lines suppressed)`);
  }
}
