// The daemon's view of the consoles it serves: the one seam between the CLI/control API and the
// device stack (@vtcon/console's ConsoleDevice behind @vtcon/transport's VhostUserBackend). Every
// control method is implemented against this interface, so the wiring to the real device lives in
// one module (console-fleet.ts) and the control layer can be tested on its own.
//
// Caller contract: all methods run on the daemon's main thread.
import type { PortConfig, VmConfig } from '../config/schema.js';
import { CliError } from '../errors.js';

export type VmState = 'listening' | 'connected' | 'stopped';

export interface PortInfo {
  name: string;
  /** virtio-console port id (0 = the port on queues 0/1). */
  id: number;
  console: boolean;
  /** The guest opened its end (VIRTIO_CONSOLE_PORT_OPEN from the driver). */
  guestOpen: boolean;
  /** guest→host bytes (transmitq). */
  bytesIn: number;
  /** host→guest bytes delivered into receive buffers. */
  bytesOut: number;
  /** host→guest bytes waiting for the guest to post receive buffers. */
  backlog: number;
  /** Bytes refused because the backlog was full. */
  dropped: number;
  attachPath: string;
  logFile: string | null;
  /** Why the port's log file stopped being written (disk full, EIO...), or null while it works. */
  logError: string | null;
  size: { cols: number; rows: number } | null;
  /** Where attach readers get output: 'log' (each follows the port log at its own offset) or 'memory'. */
  readerSource: 'log' | 'memory';
  /** Attach readers and how far each is behind the port's output. */
  readers: ReaderLag[];
}

export interface ReaderLag {
  peer: string;
  /** Bytes the port wrote that this reader has not been sent yet (0 when fed from memory). */
  lagBytes: number;
}

export interface VmInfo {
  name: string;
  socket: string;
  state: VmState;
  /** Negotiated virtio feature names (empty until the frontend sets features). */
  features: string[];
  connectedSince: string | null;
  ports: PortInfo[];
}

export interface AttachedClient {
  role: 'writer' | 'spectator';
  since: string;
  /** Peer description (pid/uid when the sink knows it). */
  peer: string;
  /** Bytes the port wrote that this reader has not been sent yet (see PortInfo.readerSource). */
  lagBytes: number;
  /** Stream offset of the next byte it gets (log mode), else null. */
  offset: number | null;
  /** Bytes rotated out of the log before it read them (each gap marked in its output). */
  skippedBytes: number;
}

export interface WorkerShard { shard: number; queues: number; restarts: number; alive: boolean }

export interface FleetStats {
  at: string;
  /** Piscina shards servicing port queues (daemon.workers of them). */
  workers: WorkerShard[];
  vms: {
    name: string; state: VmState;
    ports: { name: string; bytesIn: number; bytesOut: number; backlog: number; dropped: number; readers: ReaderLag[] }[];
  }[];
}

export type Unsubscribe = () => void;

export interface Fleet {
  list(): VmInfo[];
  /** One port's info (what list() shows for it), without listing the fleet. Throws NOT_FOUND. */
  port(vm: string, port: string): PortInfo;
  addVm(vm: VmConfig): Promise<void>;
  removeVm(name: string): Promise<void>;
  addPort(vm: string, port: PortConfig): Promise<PortInfo>;
  removePort(vm: string, port: string): Promise<void>;
  /** Queue bytes for the guest; returns how many were accepted (the rest hit the backlog bound). */
  send(vm: string, port: string, data: Uint8Array): number;
  resize(vm: string, port: string, cols: number, rows: number): void;
  /** The port's scrollback, oldest byte first; optionally only output since a time or the last N lines. */
  scrollback(vm: string, port: string, opts?: { sinceMs?: number; lastLines?: number }): Uint8Array;
  /** Live guest output for `logs -f`. */
  subscribe(vm: string, port: string, onData: (chunk: Uint8Array) => void): Unsubscribe;
  who(vm: string, port: string): AttachedClient[];
  /** Worker shards servicing port queues. */
  workers?(): WorkerShard[];
  /** Stop accepting, drain queues, flush and close every sink. */
  close(): Promise<void>;
}

/** Look-up helpers every implementation shares; they throw the CliError the API maps to exit 4. */
export function findVm<T>(vms: Map<string, T>, name: string): T {
  const vm = vms.get(name);
  if (!vm) throw new CliError('VM_NOT_FOUND', `no VM named "${name}"`);
  return vm;
}
