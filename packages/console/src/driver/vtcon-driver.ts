/**
 * VtconDriver: the seed driver (FreeBSD sys/dev/virtio/console/virtio_console.c, shared/seed/)
 * as a TypeScript model. Each method names the seed function it mirrors; behaviour follows the
 * seed branch by branch, with two options the seed lacks (negotiating F_SIZE / F_EMERG_WRITE)
 * and one documented extension (RESIZE is recorded on console ports instead of ignored, so a
 * simulated guest can report its size).
 *
 * Threading: one driver per VirtioHandle, on one thread. Where the seed busy-polls the control and
 * port transmit queues (virtqueue_poll) this model awaits the used entry, woken by the queue's call
 * eventfd only (no timer poll: a 1 ms fallback tick dominated keystroke p99); one control message
 * and one write per port are in flight at a time, like the seed's VTCON_CTRL_TX_LOCK / port lock.
 */
import { EventEmitter } from 'node:events';
import type { DriverQueue } from '@vtcon/ring';
import {
  CONTROL_HEADER_SIZE, featureBit, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_F_EMERG_WRITE, VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_SIZE, VIRTIO_CONSOLE_PORT_ADD,
  VIRTIO_CONSOLE_PORT_NAME, VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_PORT_READY, VIRTIO_CONSOLE_PORT_REMOVE,
  VIRTIO_CONSOLE_RESIZE, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VTCON_BULK_BUFSZ,
  VTCON_CTRL_BUFSZ, VTCON_MAX_PORTS,
} from '../control/constants.js';
import { decodeControl, encodeControl } from '../control/message.js';
import { decodePortName } from '../control/port-name.js';
import { decodeResize, type ConsoleSize, type ResizeOrder } from '../control/resize.js';
import { decodeConfig, VIRTIO_CONSOLE_CONFIG_SIZE } from '../device/config.js';
import { type Logger, silentLogger } from '../device/logger.js';
import { ConsoleError } from '../errors.js';
import type { DriverQueueBinding, VirtioHandle } from './virtio-handle.js';

/** One encoder for every port's writes (the echo path writes a string per keystroke). */
const utf8 = new TextEncoder();

export const VTCON_PORT_FLAG_GONE = 0x01;
export const VTCON_PORT_FLAG_CONSOLE = 0x02;
export const VTCON_PORT_FLAG_ALIAS = 0x04;
export const VTCON_FLAG_DETACHED = 0x01;
export const VTCON_FLAG_SIZE = 0x02;
export const VTCON_FLAG_MULTIPORT = 0x04;

export interface VtconDriverOptions {
  /** Also negotiate VIRTIO_CONSOLE_F_SIZE / F_EMERG_WRITE (the seed negotiates MULTIPORT only). */
  size?: boolean;
  emergWrite?: boolean;
  /** Order in which RESIZE payloads are read (see control/resize.ts). */
  resizeOrder?: ResizeOrder;
  /** Bytes per transmit chain (seed: VTCON_BULK_BUFSZ, the ttydisc_getc buffer). */
  txChunk?: number;
  /**
   * Transmit chains in flight per port (default 1, the seed: vtcon_port_out polls each chain).
   * Load generators raise it to keep the device's transmitq full.
   */
  txInflight?: number;
  /** Test hook standing in for the seed's allocation failures in vtcon_port_create. */
  failPortCreate?: (id: number) => boolean;
  logger?: Logger;
  /**
   * How long to await a used entry on a transmit queue before failing with QUEUE_STARVED (ms,
   * default 10 000). The only timer in the wait: a used entry the device never signalled is
   * picked up at this bound, not sooner.
   */
  pollTimeoutMs?: number;
}

export interface VtconDriverEvents {
  'port': [port: VtconPort];
  'port-gone': [port: VtconPort];
  'name': [port: VtconPort];
  'console': [port: VtconPort];
  'resize': [port: VtconPort];
  'open': [port: VtconPort, hostOpen: boolean];
  'log': [msg: string];
}

interface ScPort {
  /** vcsp_port */
  port: VtconPort | null;
  invq: DriverQueueBinding;
  outvq: DriverQueueBinding;
  /** Receive buffers this scport's invq owns (kept across ports: the seed drains and reposts). */
  inBufs: number;
  callWatch: { stop(): void } | null;
}

/** One port as the guest's tty layer sees it (struct vtcon_port + its tty). */
export class VtconPort extends EventEmitter<{ data: [bytes: Uint8Array]; gone: [] }> {
  flags = 0;
  name: string | null = null;
  size: ConsoleSize | null = null;
  /** Last PORT_OPEN value from the host (the seed only enables the interrupt). */
  hostOpen = false;
  /** Guest-side open count, like a tty that is open. */
  ttyOpen = false;
  private outChain: Promise<void> = Promise.resolve();

  constructor(readonly driver: VtconDriver, readonly id: number) { super(); }

  get console(): boolean { return (this.flags & VTCON_PORT_FLAG_CONSOLE) !== 0; }
  get gone(): boolean { return (this.flags & VTCON_PORT_FLAG_GONE) !== 0; }

  /** vtcon_tty_open: ENXIO when gone, else PORT_OPEN(1). */
  async open(): Promise<void> {
    if (this.gone) throw new ConsoleError('NO_SUCH_PORT', `port ${this.id} is gone (ENXIO)`);
    this.ttyOpen = true;
    await this.driver.portSubmitEvent(this, VIRTIO_CONSOLE_PORT_OPEN, 1);
  }

  /** vtcon_tty_close: nothing when gone, else PORT_OPEN(0). */
  async close(): Promise<void> {
    if (this.gone) return;
    this.ttyOpen = false;
    await this.driver.portSubmitEvent(this, VIRTIO_CONSOLE_PORT_OPEN, 0);
  }

  /** vtcon_tty_outwakeup: write bytes in txChunk pieces, each awaited like vtcon_port_out. */
  write(bytes: Uint8Array | string): Promise<void> {
    const data = typeof bytes === 'string' ? utf8.encode(bytes) : bytes.slice();
    const p = this.outChain.then(async () => {
      if (this.gone) return;
      await this.driver.portOut(this, data);
    });
    this.outChain = p.catch(() => {});
    return p;
  }
}

export class VtconDriver extends EventEmitter<VtconDriverEvents> {
  features = 0n;
  maxPorts = 0;
  flags = 0;
  private scports: ScPort[] = [];
  private ctrlRxvq: DriverQueueBinding | null = null;
  private ctrlTxvq: DriverQueueBinding | null = null;
  private ctrlCall: { stop(): void } | null = null;
  private ctrlTxLock: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly txChunk: number;
  private txBufs = new Map<number, number[]>();
  private ctrlTxBuf = 0;
  private taskRunning = false;
  private taskAgain = false;
  /**
   * Wake-ups of transmit waiters sleeping on a call eventfd. Teardown (port gone, detach) runs
   * them so the waiters see their abort condition at once instead of at the starvation deadline.
   */
  private readonly wakers = new Set<() => void>();

  constructor(readonly handle: VirtioHandle, readonly opts: VtconDriverOptions = {}) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.txChunk = opts.txChunk ?? VTCON_BULK_BUFSZ;
  }

  get ports(): VtconPort[] { return this.scports.flatMap((s) => (s.port ? [s.port] : [])); }
  portById(id: number): VtconPort | null { return this.scports[id]?.port ?? null; }
  portByName(name: string): VtconPort | null { return this.ports.find((p) => p.name === name) ?? null; }

  private printf(msg: string): void {
    this.log.warn({ driver: 'vtcon' }, msg);
    this.emit('log', msg);
  }

  /** vtcon_attach */
  async attach(): Promise<void> {
    try {
      await this.setupFeatures();
      const concfg = await this.readConfig();
      this.determineMaxPorts(concfg.maxNrPorts);
      await this.allocVirtqueues();
      if (this.flags & VTCON_FLAG_MULTIPORT) {
        this.ctrlInit();
      } else {
        this.portCreate(0);
        if (this.flags & VTCON_FLAG_SIZE) await this.portUpdateConsoleSize();
      }
      this.handle.onConfigChange(() => { void this.configChange(); });
      this.enableInterrupts();
      await this.ctrlSendControl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
    } catch (e) {
      await this.detach();
      throw e instanceof ConsoleError ? e : new ConsoleError('ATTACH_FAILED', String(e), { scope: 'connection', cause: e });
    }
  }

  /** vtcon_detach: mark detached, stop interrupts, drain the control queue, destroy ports. */
  async detach(): Promise<void> {
    this.flags |= VTCON_FLAG_DETACHED;
    this.disableInterrupts();
    this.wakeWaiters();
    this.ctrlRxvq = null;
    this.destroyPorts();
    await this.handle.stop();
  }

  /** vtcon_config_change: only without MULTIPORT, and only with SIZE. */
  async configChange(): Promise<void> {
    if ((this.flags & VTCON_FLAG_MULTIPORT) === 0 && (this.flags & VTCON_FLAG_SIZE)) await this.portUpdateConsoleSize();
  }

  /** vtcon_setup_features / vtcon_negotiate_features */
  async setupFeatures(): Promise<void> {
    let wanted = featureBit(VIRTIO_CONSOLE_F_MULTIPORT) | featureBit(VIRTIO_F_VERSION_1)
      | featureBit(VIRTIO_RING_F_EVENT_IDX) | featureBit(VIRTIO_RING_F_INDIRECT_DESC);
    if (this.opts.size) wanted |= featureBit(VIRTIO_CONSOLE_F_SIZE);
    if (this.opts.emergWrite) wanted |= featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE);
    this.features = await this.handle.negotiate(wanted);
    if (this.features & featureBit(VIRTIO_CONSOLE_F_SIZE)) this.flags |= VTCON_FLAG_SIZE;
    if (this.features & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)) this.flags |= VTCON_FLAG_MULTIPORT;
  }

  /** vtcon_read_config: fields only when their feature was negotiated, else zero. */
  async readConfig(): Promise<{ cols: number; rows: number; maxNrPorts: number }> {
    const c = decodeConfig(await this.handle.readConfig(0, VIRTIO_CONSOLE_CONFIG_SIZE));
    const size = (this.features & featureBit(VIRTIO_CONSOLE_F_SIZE)) !== 0n;
    const mp = (this.features & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n;
    return { cols: size ? c.cols : 0, rows: size ? c.rows : 0, maxNrPorts: mp ? c.maxNrPorts : 0 };
  }

  /** vtcon_determine_max_ports: min(max_nr_ports, 32), 0 → 1; 1 without multiport. */
  determineMaxPorts(maxNrPorts: number): void {
    if (this.flags & VTCON_FLAG_MULTIPORT) {
      this.maxPorts = Math.min(maxNrPorts, VTCON_MAX_PORTS);
      if (this.maxPorts === 0) this.maxPorts = 1;
    } else {
      this.maxPorts = 1;
    }
  }

  /** vtcon_alloc_virtqueues: port0 in/out, then control rx/tx, then port 1.. in/out. */
  async allocVirtqueues(): Promise<void> {
    let nvqs = this.maxPorts * 2;
    if (this.flags & VTCON_FLAG_MULTIPORT) nvqs += 2;
    const qs = await this.handle.allocQueues(nvqs);
    const sc: ScPort[] = [];
    for (let i = 0, idx = 0; i < nvqs / 2; i++, idx += 2) {
      if (i === 1 && (this.flags & VTCON_FLAG_MULTIPORT)) {
        this.ctrlRxvq = qs[idx]!;
        this.ctrlTxvq = qs[idx + 1]!;
        continue;
      }
      sc.push({ port: null, invq: qs[idx]!, outvq: qs[idx + 1]!, inBufs: 0, callWatch: null });
    }
    this.scports = sc;
  }

  // ---- control queue ---------------------------------------------------------------------

  /** vtcon_ctrl_init → vtcon_ctrl_event_populate: fill control rx with 128-byte buffers. */
  ctrlInit(): void {
    const vq = this.ctrlRxvq!;
    let nbufs = 0;
    while (vq.queue.numFree > 0) {
      const addr = this.handle.allocBuffer(VTCON_CTRL_BUFSZ);
      if (vq.queue.addBuffer(addr, VTCON_CTRL_BUFSZ, true, addr) === null) break;
      nbufs++;
    }
    if (nbufs > 0 && vq.queue.kickPrepare()) vq.kick();
  }

  /** vtcon_ctrl_task_cb: dequeue control events, process each, requeue its buffer. */
  ctrlTaskCb(): void {
    const vq = this.ctrlRxvq;
    if (!vq) return;
    if (this.taskRunning) { this.taskAgain = true; return; }
    this.taskRunning = true;
    try {
      for (let round = 0; round < 1000; round++) {
        this.taskAgain = false;
        let n = 0;
        while ((this.flags & VTCON_FLAG_DETACHED) === 0) {
          const u = vq.queue.getUsed();
          if (u === null) break;
          const addr = u.token as number;
          const buf = this.handle.memory.view(addr, VTCON_CTRL_BUFSZ);
          const len = Math.min(u.len, VTCON_CTRL_BUFSZ);
          const control = buf.slice(0, len);
          const data = len > CONTROL_HEADER_SIZE ? control.subarray(CONTROL_HEADER_SIZE) : null;
          this.ctrlProcessEvent(control, data);
          // vtcon_ctrl_event_requeue
          buf.fill(0);
          vq.queue.addBuffer(addr, VTCON_CTRL_BUFSZ, true, addr);
          n++;
        }
        if (this.flags & VTCON_FLAG_DETACHED) return;
        if (n > 0 && vq.queue.kickPrepare()) vq.kick();
        if (!vq.queue.enableCallbacks() && !this.taskAgain) return;
      }
    } finally {
      this.taskRunning = false;
    }
  }

  /** vtcon_ctrl_process_event */
  ctrlProcessEvent(control: Uint8Array, data: Uint8Array | null): void {
    if (control.length < CONTROL_HEADER_SIZE) { this.printf(`ctrl_process_event: short control (${control.length})`); return; }
    const m = decodeControl(control);
    const { id, event } = m;
    if (id >= this.maxPorts) {
      this.printf(`vtcon_ctrl_process_event: event ${event} invalid port ID ${id}`);
      return;
    }
    switch (event) {
      case VIRTIO_CONSOLE_PORT_ADD: this.ctrlPortAddEvent(id); break;
      case VIRTIO_CONSOLE_PORT_REMOVE: this.ctrlPortRemoveEvent(id); break;
      case VIRTIO_CONSOLE_CONSOLE_PORT: this.ctrlPortConsoleEvent(id); break;
      case VIRTIO_CONSOLE_RESIZE: this.ctrlPortResizeEvent(id, data); break;
      case VIRTIO_CONSOLE_PORT_OPEN: this.ctrlPortOpenEvent(id, m.value); break;
      case VIRTIO_CONSOLE_PORT_NAME: this.ctrlPortNameEvent(id, data); break;
      default: this.log.debug({ id, event }, 'unknown control event ignored'); // the seed has no default: ignored
    }
  }

  /** vtcon_ctrl_port_add_event */
  ctrlPortAddEvent(id: number): void {
    if (this.scports[id]!.port !== null) {
      this.printf(`vtcon_ctrl_port_add_event: adding port ${id}, but already exists`);
      return;
    }
    if (!this.portCreate(id)) {
      this.printf(`vtcon_ctrl_port_add_event: cannot create port ${id}`);
      void this.ctrlSendControl(id, VIRTIO_CONSOLE_PORT_READY, 0);
    }
  }

  /** vtcon_ctrl_port_remove_event */
  ctrlPortRemoveEvent(id: number): void {
    const sc = this.scports[id]!;
    const port = sc.port;
    if (port === null) {
      this.printf(`vtcon_ctrl_port_remove_event: remove port ${id}, but does not exist`);
      return;
    }
    sc.port = null;
    this.portTeardown(port);
  }

  /** vtcon_ctrl_port_console_event: mark console, answer PORT_OPEN(1). */
  ctrlPortConsoleEvent(id: number): void {
    const port = this.scports[id]!.port;
    if (port === null) {
      this.printf(`vtcon_ctrl_port_console_event: console port ${id}, but does not exist`);
      return;
    }
    port.flags |= VTCON_PORT_FLAG_CONSOLE;
    port.ttyOpen = true;
    void this.portSubmitEvent(port, VIRTIO_CONSOLE_PORT_OPEN, 1);
    this.emit('console', port);
  }

  /** RESIZE: the seed ignores it (`case VIRTIO_CONSOLE_RESIZE: break;`); we record it on console ports. */
  ctrlPortResizeEvent(id: number, data: Uint8Array | null): void {
    const port = this.scports[id]!.port;
    if (port === null || !port.console || data === null || data.length < 4) return;
    port.size = decodeResize(data, this.opts.resizeOrder ?? 'cols-rows');
    this.emit('resize', port);
  }

  /** vtcon_ctrl_port_open_event: the seed only enables the port interrupt. */
  ctrlPortOpenEvent(id: number, value: number): void {
    const port = this.scports[id]!.port;
    if (port === null) {
      this.printf(`vtcon_ctrl_port_open_event: open port ${id}, but does not exist`);
      return;
    }
    port.hostOpen = value !== 0;
    this.portEnableIntr(this.scports[id]!);
    this.emit('open', port, port.hostOpen);
  }

  /** vtcon_ctrl_port_name_event + vtcon_port_dev_alias */
  ctrlPortNameEvent(id: number, data: Uint8Array | null): void {
    const name = decodePortName(data ?? new Uint8Array());
    if (!name.ok && name.why === 'EMPTY') return;
    const port = this.scports[id]!.port;
    if (port === null) {
      this.printf(`vtcon_ctrl_port_name_event: name port ${id}, but does not exist`);
      return;
    }
    if (port.flags & VTCON_PORT_FLAG_ALIAS) return;
    if (!name.ok) return; // "Port name is UTF-8, but we can only handle ASCII."
    port.name = name.name;
    port.flags |= VTCON_PORT_FLAG_ALIAS;
    this.emit('name', port);
  }

  /** vtcon_ctrl_send_control → vtcon_ctrl_poll: one 8-byte message, awaited until used. */
  ctrlSendControl(portid: number, event: number, value: number): Promise<void> {
    if ((this.flags & VTCON_FLAG_MULTIPORT) === 0) return Promise.resolve();
    const p = this.ctrlTxLock.then(async () => {
      const vq = this.ctrlTxvq;
      if (!vq || (this.flags & VTCON_FLAG_DETACHED)) return;
      if (this.ctrlTxBuf === 0) this.ctrlTxBuf = this.handle.allocBuffer(VTCON_CTRL_BUFSZ);
      this.handle.memory.view(this.ctrlTxBuf, CONTROL_HEADER_SIZE).set(encodeControl(portid, event, value));
      await this.pollOne(vq, this.ctrlTxBuf, CONTROL_HEADER_SIZE);
    });
    this.ctrlTxLock = p.catch(() => {});
    return p;
  }

  /** enqueue one readable buffer, notify, await its used entry (virtqueue_poll). */
  private async pollOne(vq: DriverQueueBinding, addr: number, len: number): Promise<void> {
    if (vq.queue.addBuffer(addr, len, false, addr) === null) throw new ConsoleError('QUEUE_BROKEN', `queue ${vq.index} not empty (KASSERT virtqueue_empty)`, { scope: 'queue' });
    if (vq.queue.kickPrepare()) vq.kick();
    await waitUsed(vq, this.opts.pollTimeoutMs ?? 10_000, () => (this.flags & VTCON_FLAG_DETACHED) !== 0, this.wakers);
  }

  // ---- ports -----------------------------------------------------------------------------

  /** vtcon_port_create: returns false where the seed returns an error. */
  portCreate(id: number): boolean {
    const sc = this.scports[id]!;
    if (this.opts.failPortCreate?.(id)) return false;
    const port = new VtconPort(this, id);
    this.portInitVqs(sc);
    sc.port = port;
    this.portEnableIntr(sc);
    void this.portSubmitEvent(port, VIRTIO_CONSOLE_PORT_READY, 1);
    this.emit('port', port);
    return true;
  }

  /** vtcon_port_init_vqs: drop stale data (vtcon_port_drain) then populate with 128-byte buffers. */
  private portInitVqs(sc: ScPort): void {
    // Completed buffers left by a previous port on this queue pair are discarded and reposted.
    for (;;) {
      const u = sc.invq.queue.getUsed();
      if (u === null) break;
      sc.inBufs--;
      this.portRequeueBuf(sc, u.token as number);
    }
    this.portPopulate(sc);
  }

  /** vtcon_port_populate */
  private portPopulate(sc: ScPort): void {
    let nbufs = 0;
    while (sc.invq.queue.numFree > 0) {
      const addr = this.handle.allocBuffer(VTCON_BULK_BUFSZ);
      if (sc.invq.queue.addBuffer(addr, VTCON_BULK_BUFSZ, true, addr) === null) break;
      sc.inBufs++;
      nbufs++;
    }
    if (nbufs > 0 && sc.invq.queue.kickPrepare()) sc.invq.kick();
  }

  private portRequeueBuf(sc: ScPort, addr: number): void {
    if (sc.invq.queue.addBuffer(addr, VTCON_BULK_BUFSZ, true, addr) !== null) sc.inBufs++;
  }

  /** vtcon_port_enable_intr: the in queue's interrupt (the out queue is polled). */
  private portEnableIntr(sc: ScPort): void {
    if (!sc.callWatch && (this.flags & VTCON_FLAG_DETACHED) === 0) sc.callWatch = sc.invq.watchCall(() => this.portIntr(sc));
    if (sc.invq.queue.enableCallbacks()) setImmediate(() => this.portIntr(sc));
  }

  /** vtcon_port_intr → vtcon_port_in: deliver bytes to the tty, requeue, re-enable. */
  private portIntr(sc: ScPort): void {
    const port = sc.port;
    if (port === null || port.gone || (this.flags & VTCON_FLAG_DETACHED)) return;
    for (let round = 0; round < 1000; round++) {
      let deq = 0;
      for (;;) {
        const u = sc.invq.queue.getUsed();
        if (u === null) break;
        const addr = u.token as number;
        const len = Math.min(u.len, VTCON_BULK_BUFSZ);
        if (len > 0) port.emit('data', this.handle.memory.view(addr, len).slice());
        sc.inBufs--;
        this.portRequeueBuf(sc, addr);
        deq++;
      }
      if (deq > 0 && sc.invq.queue.kickPrepare()) sc.invq.kick();
      if (!sc.invq.queue.enableCallbacks()) return;
    }
  }

  /**
   * vtcon_port_out, once per txChunk: enqueue, notify, await used. With txInflight > 1 up to that
   * many chains are outstanding; the call resolves when every chain of this write was used.
   */
  async portOut(port: VtconPort, data: Uint8Array): Promise<void> {
    const sc = this.scports[port.id]!;
    const inflight = Math.max(1, this.opts.txInflight ?? 1);
    let free = this.txBufs.get(port.id);
    if (free === undefined) {
      free = Array.from({ length: Math.min(inflight, sc.outvq.queue.size) }, () => this.handle.allocBuffer(this.txChunk));
      this.txBufs.set(port.id, free);
    }
    const all = free.length;
    const timeout = this.opts.pollTimeoutMs ?? 10_000;
    const stop = (): boolean => port.gone || (this.flags & VTCON_FLAG_DETACHED) !== 0;
    for (let off = 0; off < data.length; off += this.txChunk) {
      while (free.length === 0) { await reclaimUsed(sc.outvq, free, timeout, stop, this.wakers); if (stop()) return; }
      if (stop()) return;
      const buf = free.pop()!;
      const piece = data.subarray(off, off + this.txChunk);
      this.handle.memory.view(buf, piece.length).set(piece);
      if (sc.outvq.queue.addBuffer(buf, piece.length, false, buf) === null) {
        throw new ConsoleError('QUEUE_BROKEN', `port ${port.id} transmitq full (KASSERT virtqueue_empty)`, { scope: 'queue' });
      }
      if (sc.outvq.queue.kickPrepare()) sc.outvq.kick();
    }
    while (free.length < all && !stop()) await reclaimUsed(sc.outvq, free, timeout, stop, this.wakers);
  }

  /** vtcon_port_submit_event */
  portSubmitEvent(port: VtconPort, event: number, value: number): Promise<void> {
    return this.ctrlSendControl(port.id, event, value);
  }

  /** vtcon_port_teardown: GONE, tty released. */
  private portTeardown(port: VtconPort): void {
    port.flags |= VTCON_PORT_FLAG_GONE;
    port.emit('gone');
    this.emit('port-gone', port);
    this.wakeWaiters();
  }

  private wakeWaiters(): void { for (const w of [...this.wakers]) w(); }

  /** vtcon_port_update_console_size (port 0, single-port mode). */
  async portUpdateConsoleSize(): Promise<void> {
    const c = await this.readConfig();
    const port = this.scports[0]?.port;
    if (port) { port.size = { cols: c.cols, rows: c.rows }; this.emit('resize', port); }
  }

  /** vtcon_enable_interrupts */
  private enableInterrupts(): void {
    if (this.flags & VTCON_FLAG_MULTIPORT) {
      const vq = this.ctrlRxvq!;
      this.ctrlCall = vq.watchCall(() => this.ctrlTaskCb());
      if (vq.queue.enableCallbacks()) setImmediate(() => this.ctrlTaskCb());
    }
    for (const sc of this.scports) if (sc.port) this.portEnableIntr(sc);
  }

  /** vtcon_disable_interrupts */
  private disableInterrupts(): void {
    this.ctrlCall?.stop(); this.ctrlCall = null;
    for (const sc of this.scports) { sc.callWatch?.stop(); sc.callWatch = null; }
  }

  /** vtcon_destroy_ports */
  private destroyPorts(): void {
    for (const sc of this.scports) {
      const port = sc.port;
      if (port) { sc.port = null; this.portTeardown(port); }
    }
  }
}

/**
 * Sleep until the queue's used-buffer interrupt (call eventfd), `wake` (teardown), or the
 * starvation deadline. Interrupt-driven like the seed's vtcon_vq_intr: there is no periodic poll.
 * Callers first re-enable callbacks and re-check "more pending" (virtqueue_enable_intr), and the
 * watch is registered synchronously after that check on this single thread, so a used entry
 * published between the check and the sleep still signals the call eventfd (the device reads
 * used_event / flags after publishing used.idx) and wakes us. The deadline timer is the
 * QUEUE_STARVED bound (pollTimeoutMs), not a poll: it fires only if the device stops answering.
 */
function sleepForCall(vq: DriverQueueBinding, deadline: number, wakers: Set<() => void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(done, Math.max(0, deadline - Date.now()) + 1);
    const w = vq.watchCall(done);
    wakers.add(done);
    function done(): void { clearTimeout(t); w.stop(); wakers.delete(done); resolve(); }
  });
}

/** Collect used transmit buffers into `free`, sleeping on the call eventfd until one arrives. */
async function reclaimUsed(vq: DriverQueueBinding, free: number[], timeoutMs: number, abort: () => boolean, wakers: Set<() => void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let got = 0;
    for (;;) {
      const u = vq.queue.getUsed();
      if (u === null) break;
      free.push(u.token as number);
      got++;
    }
    if (got > 0 || abort()) return;
    if (Date.now() > deadline) throw new ConsoleError('QUEUE_STARVED', `no used entry on queue ${vq.index} after ${timeoutMs} ms`, { scope: 'queue' });
    if (vq.queue.enableCallbacks()) continue; // more pending: raced in while callbacks were stale
    await sleepForCall(vq, deadline, wakers);
  }
}

/** Await one used entry on a queue the seed polls (control transmitq), sleeping on the call eventfd. */
async function waitUsed(vq: DriverQueueBinding, timeoutMs: number, abort: () => boolean, wakers: Set<() => void>): Promise<void> {
  const q: DriverQueue = vq.queue;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (q.getUsed() !== null) return;
    if (abort()) return;
    if (Date.now() > deadline) throw new ConsoleError('QUEUE_STARVED', `no used entry on queue ${vq.index} after ${timeoutMs} ms`, { scope: 'queue' });
    if (q.enableCallbacks()) continue; // more pending: re-check instead of sleeping on a call that may not come
    await sleepForCall(vq, deadline, wakers);
  }
}
