/**
 * VtconDriver: the seed driver (FreeBSD sys/dev/virtio/console/virtio_console.c, shared/seed/)
 * as a TypeScript model. Each method names the seed function it mirrors; behaviour follows the
 * seed branch by branch, with two options the seed lacks (negotiating F_SIZE / F_EMERG_WRITE)
 * and one documented extension (RESIZE is recorded on console ports instead of ignored, so a
 * simulated guest can report its size).
 *
 * Layout follows the seed's sections: this module is the device (attach/detach, features,
 * config, virtqueues, interrupts); the driver's state is softc.ts; the control queue's events
 * are ctrl-events.ts and its transmit side ctrl-send.ts; the vtcon_port_* functions port-io.ts;
 * the tty side (struct vtcon_port, vtcon_tty_*) vtcon-port.ts.
 *
 * Threading: one driver per VirtioHandle, on one thread. Where the seed busy-polls the control and
 * port transmit queues (virtqueue_poll) this model awaits the used entry, woken by the queue's call
 * eventfd only (no timer poll: a 1 ms fallback tick dominated keystroke p99); one control message
 * and one write per port are in flight at a time, like the seed's VTCON_CTRL_TX_LOCK / port lock.
 */
import { EventEmitter } from 'node:events';
import {
  featureBit, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_SIZE, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC, VTCON_MAX_PORTS,
} from '../control/constants.js';
import { decodeConfig, VIRTIO_CONSOLE_CONFIG_SIZE } from '../device/config.js';
import { ConsoleError } from '../errors.js';
import {
  ctrlInit, ctrlPortAddEvent, ctrlPortConsoleEvent, ctrlPortNameEvent, ctrlPortOpenEvent, ctrlPortRemoveEvent,
  ctrlPortResizeEvent, ctrlProcessEvent, ctrlTaskCb,
} from './ctrl-events.js';
import { ctrlSendControl } from './ctrl-send.js';
import { portCreate, portEnableIntr, portOut, portTeardown } from './port-io.js';
import {
  VTCON_FLAG_DETACHED, VTCON_FLAG_MULTIPORT, VTCON_FLAG_SIZE, VtconSoftc, type ScPort, type VtconDriverEvents,
  type VtconDriverOptions,
} from './softc.js';
import type { VirtioHandle } from './virtio-handle.js';
import type { VtconPort } from './vtcon-port.js';

export { VTCON_FLAG_DETACHED, VTCON_FLAG_MULTIPORT, VTCON_FLAG_SIZE, type VtconDriverEvents, type VtconDriverOptions } from './softc.js';
export { VTCON_PORT_FLAG_ALIAS, VTCON_PORT_FLAG_CONSOLE, VTCON_PORT_FLAG_GONE, VtconPort } from './vtcon-port.js';

export class VtconDriver extends EventEmitter<VtconDriverEvents> {
  private readonly sc: VtconSoftc;

  constructor(readonly handle: VirtioHandle, readonly opts: VtconDriverOptions = {}) {
    super();
    this.sc = new VtconSoftc(this, handle, opts);
  }

  get features(): bigint { return this.sc.features; }
  set features(v: bigint) { this.sc.features = v; }
  get maxPorts(): number { return this.sc.maxPorts; }
  set maxPorts(v: number) { this.sc.maxPorts = v; }
  get flags(): number { return this.sc.flags; }
  set flags(v: number) { this.sc.flags = v; }

  /** The queue pairs (vtcon_softc's vtcon_ports), as tests inspect them. */
  private get scports(): ScPort[] { return this.sc.scports; }

  get ports(): VtconPort[] { return this.scports.flatMap((s) => (s.port ? [s.port] : [])); }
  portById(id: number): VtconPort | null { return this.scports[id]?.port ?? null; }
  portByName(name: string): VtconPort | null { return this.ports.find((p) => p.name === name) ?? null; }

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
    this.sc.wakeWaiters();
    this.sc.ctrlRxvq = null;
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

  /**
   * vtcon_determine_max_ports: min(max_nr_ports, 32), 0 → 1; 1 without multiport. The cap is
   * opts.maxPorts when given (a Linux guest's, up to QEMU's 511).
   */
  determineMaxPorts(maxNrPorts: number): void {
    if (this.flags & VTCON_FLAG_MULTIPORT) {
      this.maxPorts = Math.min(maxNrPorts, this.opts.maxPorts ?? VTCON_MAX_PORTS);
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
    const scports: ScPort[] = [];
    for (let i = 0, idx = 0; i < nvqs / 2; i++, idx += 2) {
      if (i === 1 && (this.flags & VTCON_FLAG_MULTIPORT)) {
        this.sc.ctrlRxvq = qs[idx]!;
        this.sc.ctrlTxvq = qs[idx + 1]!;
        continue;
      }
      scports.push({ port: null, invq: qs[idx]!, outvq: qs[idx + 1]!, inBufs: 0, callWatch: null });
    }
    this.sc.scports = scports;
  }

  // ---- control queue (ctrl-events.ts, ctrl-send.ts) -------------------------------------

  /** vtcon_ctrl_init → vtcon_ctrl_event_populate: fill control rx with 128-byte buffers. */
  ctrlInit(): void { ctrlInit(this.sc); }
  /** vtcon_ctrl_task_cb: dequeue control events, process each, requeue its buffer. */
  ctrlTaskCb(): void { ctrlTaskCb(this.sc); }
  /** vtcon_ctrl_process_event */
  ctrlProcessEvent(control: Uint8Array, data: Uint8Array | null): void { ctrlProcessEvent(this.sc, control, data); }
  /** vtcon_ctrl_port_add_event */
  ctrlPortAddEvent(id: number): void { ctrlPortAddEvent(this.sc, id); }
  /** vtcon_ctrl_port_remove_event */
  ctrlPortRemoveEvent(id: number): void { ctrlPortRemoveEvent(this.sc, id); }
  /** vtcon_ctrl_port_console_event: mark console, answer PORT_OPEN(1). */
  ctrlPortConsoleEvent(id: number): void { ctrlPortConsoleEvent(this.sc, id); }
  /** RESIZE: recorded on console ports (the seed ignores it). */
  ctrlPortResizeEvent(id: number, data: Uint8Array | null): void { ctrlPortResizeEvent(this.sc, id, data); }
  /** vtcon_ctrl_port_open_event: the seed only enables the port interrupt. */
  ctrlPortOpenEvent(id: number, value: number): void { ctrlPortOpenEvent(this.sc, id, value); }
  /** vtcon_ctrl_port_name_event + vtcon_port_dev_alias */
  ctrlPortNameEvent(id: number, data: Uint8Array | null): void { ctrlPortNameEvent(this.sc, id, data); }
  /** vtcon_ctrl_send_control → vtcon_ctrl_poll: one 8-byte message, awaited until used. */
  ctrlSendControl(portid: number, event: number, value: number): Promise<void> { return ctrlSendControl(this.sc, portid, event, value); }

  // ---- ports (port-io.ts) ----------------------------------------------------------------

  /** vtcon_port_create: returns false where the seed returns an error. */
  portCreate(id: number): boolean { return portCreate(this.sc, id); }
  /** vtcon_port_out, once per txChunk (see port-io.ts). */
  portOut(port: VtconPort, data: Uint8Array): Promise<void> { return portOut(this.sc, port, data); }
  /** vtcon_port_submit_event */
  portSubmitEvent(port: VtconPort, event: number, value: number): Promise<void> { return this.ctrlSendControl(port.id, event, value); }

  /** vtcon_port_update_console_size (port 0, single-port mode). */
  async portUpdateConsoleSize(): Promise<void> {
    const c = await this.readConfig();
    const port = this.sc.scports[0]?.port;
    if (port) { port.size = { cols: c.cols, rows: c.rows }; this.emit('resize', port); }
  }

  /** vtcon_enable_interrupts */
  private enableInterrupts(): void {
    if (this.flags & VTCON_FLAG_MULTIPORT) {
      const vq = this.sc.ctrlRxvq!;
      this.sc.ctrlCall = vq.watchCall(() => this.ctrlTaskCb());
      if (vq.queue.enableCallbacks()) setImmediate(() => this.ctrlTaskCb());
    }
    for (const scport of this.sc.scports) if (scport.port) portEnableIntr(this.sc, scport);
  }

  /** vtcon_disable_interrupts */
  private disableInterrupts(): void {
    this.sc.ctrlCall?.stop(); this.sc.ctrlCall = null;
    for (const scport of this.sc.scports) { scport.callWatch?.stop(); scport.callWatch = null; }
  }

  /** vtcon_destroy_ports */
  private destroyPorts(): void {
    for (const scport of this.sc.scports) {
      const port = scport.port;
      if (port) { scport.port = null; portTeardown(this.sc, port); }
    }
  }
}
