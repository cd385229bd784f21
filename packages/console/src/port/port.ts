/**
 * ConsolePort: the host-side state of one virtio-console port, owned by the main thread.
 * It outlives guest connections: name, console flag, sinks, host-open state, size, backlog and
 * counters survive a guest reboot or reconnect; the guest-side flags are reset on disconnect.
 */
import { Backlog, DEFAULT_BACKLOG_LIMIT } from './backlog.js';
import type { PortSink } from './sink.js';
import type { ConsoleSize } from '../control/resize.js';
import type { PortLogOptions } from '../sink/append-log.js';

export interface PortStats {
  id: number;
  name: string | null;
  console: boolean;
  /** The guest's PORT_OPEN state (true in single-port mode once the queue runs). */
  guestOpen: boolean;
  /** The guest answered PORT_READY(1). */
  guestReady: boolean;
  hostOpen: boolean;
  /** guest→host bytes handed to sinks. */
  bytesIn: number;
  /** host→guest bytes written into guest receive buffers. */
  bytesOut: number;
  backlogBytes: number;
  /** Chains consumed on the transmitq + chains filled on the receiveq. */
  chains: number;
  /** sends refused with BACKLOG_FULL. */
  refusedSends: number;
  /** true while a sink holds the transmitq (backpressure). */
  paused: boolean;
  /** queue failure, if the port's queues are isolated. */
  error: string | null;
  size: ConsoleSize | null;
}

export class ConsolePort {
  readonly backlog: Backlog;
  guestReady = false;
  guestOpen = false;
  /** DEVICE_ADD was sent to the current guest. */
  announced = false;
  bytesIn = 0;
  bytesOut = 0;
  chains = 0;
  refusedSends = 0;
  paused = false;
  error: string | null = null;
  size: ConsoleSize | null;
  /** The port's log (written before used by the engine), or null. */
  log: PortLogOptions | null = null;

  constructor(
    readonly id: number,
    readonly name: string | null,
    readonly console: boolean,
    public hostOpen: boolean,
    readonly sinks: PortSink[],
    backlogLimit = DEFAULT_BACKLOG_LIMIT,
    size: ConsoleSize | null = null,
  ) {
    this.backlog = new Backlog(backlogLimit);
    this.size = size;
  }

  /** True while every sink accepts more bytes. */
  sinksWantMore(): boolean {
    return this.sinks.every((s) => s.wantsMore === undefined || s.wantsMore());
  }

  deliver(bytes: Uint8Array, at: number): void {
    this.bytesIn += bytes.length;
    for (const s of this.sinks) s.write(bytes, at);
  }

  resetGuestState(): void {
    this.guestReady = false;
    this.guestOpen = false;
    this.announced = false;
  }

  stats(): PortStats {
    return {
      id: this.id, name: this.name, console: this.console, guestOpen: this.guestOpen, guestReady: this.guestReady,
      hostOpen: this.hostOpen, bytesIn: this.bytesIn, bytesOut: this.bytesOut, backlogBytes: this.backlog.bytes + this.backlog.reserved,
      chains: this.chains, refusedSends: this.refusedSends, paused: this.paused, error: this.error, size: this.size,
    };
  }
}
