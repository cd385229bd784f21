/**
 * What a ConsoleDevice is built from: the options of the device and of each port.
 */
import { ConsoleError } from '../errors.js';
import { MAX_NR_PORTS } from '../control/constants.js';
import type { ConsoleSize, ResizeOrder } from '../control/resize.js';
import type { PortSink } from '../port/sink.js';
import type { PortLogOptions } from '../sink/append-log.js';
import type { EngineHost, PortQueueEngine } from './engine.js';
import type { BindQueue } from './inline-engine.js';
import type { LogLimiterOptions } from './log-limiter.js';
import type { Logger } from './logger.js';

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
  /** max_nr_ports in config space; queues = 2 + 2·maxPorts. Default max(ports, 8), at most MAX_NR_PORTS (511). */
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

/** max_nr_ports for these options (default max(ports, 8)); throws BAD_OPTIONS. */
export function checkedMaxPorts(opts: ConsoleDeviceOptions, multiport: boolean): number {
  const nPorts = opts.ports?.length ?? 0;
  const maxPorts = opts.maxPorts ?? Math.max(nPorts, 8);
  if (!Number.isInteger(maxPorts) || maxPorts < 1 || maxPorts > MAX_NR_PORTS) {
    throw new ConsoleError('BAD_OPTIONS', `maxPorts ${maxPorts} must be 1..${MAX_NR_PORTS} (QEMU's limit: 2 + 2 x ${MAX_NR_PORTS} queues = VIRTIO_QUEUE_MAX 1024)`);
  }
  if (!multiport && nPorts > 1) throw new ConsoleError('BAD_OPTIONS', 'more than one port needs multiport');
  if (nPorts > maxPorts) throw new ConsoleError('BAD_OPTIONS', `${nPorts} ports > maxPorts ${maxPorts}`);
  return maxPorts;
}
