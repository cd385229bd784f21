/**
 * The driver's state, like the seed's struct vtcon_softc: every group of seed functions
 * (ctrl-events.ts, ctrl-send.ts, port-io.ts) takes it as its first argument, as the seed's take
 * `sc`. VtconDriver (vtcon-driver.ts) owns one and is its `dev`.
 */
import type { EventEmitter } from 'node:events';
import { VTCON_BULK_BUFSZ } from '../control/constants.js';
import type { ResizeOrder } from '../control/resize.js';
import { type Logger, silentLogger } from '../device/logger.js';
import type { DriverQueueBinding, VirtioHandle } from './virtio-handle.js';
import type { VtconPort, VtconPortDriver } from './vtcon-port.js';

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
  /**
   * The cap on max_nr_ports (default the seed's VTCON_MAX_PORTS, 32). A Linux guest has none: it
   * uses what the device offers, up to QEMU's MAX_NR_PORTS (511); raise it to model that guest.
   */
  maxPorts?: number;
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

/** struct vtcon_softc_port: one port's queue pair, kept across the ports that use it. */
export interface ScPort {
  /** vcsp_port */
  port: VtconPort | null;
  invq: DriverQueueBinding;
  outvq: DriverQueueBinding;
  /** Receive buffers this scport's invq owns (kept across ports: the seed drains and reposts). */
  inBufs: number;
  callWatch: { stop(): void } | null;
}

/**
 * The driver as its softc sees it (vtcon_dev): where events go, its ports' owner, and the public
 * methods the seed functions call through it, so a caller that wraps one on the instance (tests
 * recording control events) sees every call.
 */
export interface VtconDev extends EventEmitter<VtconDriverEvents>, VtconPortDriver {
  ctrlProcessEvent(control: Uint8Array, data: Uint8Array | null): void;
  ctrlPortAddEvent(id: number): void;
  ctrlPortRemoveEvent(id: number): void;
  ctrlPortConsoleEvent(id: number): void;
  ctrlPortResizeEvent(id: number, data: Uint8Array | null): void;
  ctrlPortOpenEvent(id: number, value: number): void;
  ctrlPortNameEvent(id: number, data: Uint8Array | null): void;
  ctrlSendControl(portid: number, event: number, value: number): Promise<void>;
  portCreate(id: number): boolean;
}

export class VtconSoftc {
  features = 0n;
  maxPorts = 0;
  flags = 0;
  scports: ScPort[] = [];
  ctrlRxvq: DriverQueueBinding | null = null;
  ctrlTxvq: DriverQueueBinding | null = null;
  ctrlCall: { stop(): void } | null = null;
  ctrlTxLock: Promise<void> = Promise.resolve();
  readonly log: Logger;
  readonly txChunk: number;
  txBufs = new Map<number, number[]>();
  ctrlTxBuf = 0;
  taskRunning = false;
  taskAgain = false;
  /**
   * Wake-ups of transmit waiters sleeping on a call eventfd. Teardown (port gone, detach) runs
   * them so the waiters see their abort condition at once instead of at the starvation deadline.
   */
  readonly wakers = new Set<() => void>();

  constructor(readonly dev: VtconDev, readonly handle: VirtioHandle, readonly opts: VtconDriverOptions) {
    this.log = opts.logger ?? silentLogger;
    this.txChunk = opts.txChunk ?? VTCON_BULK_BUFSZ;
  }

  /** device_printf */
  printf(msg: string): void {
    this.log.warn({ driver: 'vtcon' }, msg);
    this.dev.emit('log', msg);
  }

  wakeWaiters(): void { for (const w of [...this.wakers]) w(); }
}
