/**
 * Messages between the main thread (WorkerEngine / ConsoleWorkerPool) and a long-lived servicing
 * task in a piscina worker. Plain structured-clone data: SharedArrayBuffers (guest memory) are
 * shared, byte payloads are transferred.
 * Guest→host bytes do not travel here: they go through the shard's byte ring (byte-ring.ts). Errors travel as ErrorWire (errors.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import type { PortLogOptions } from '../sink/append-log.js';

import type { ErrorWire } from '../errors.js';

export interface RegionInit { guestPhysAddr: number; size: number; buffer: SharedArrayBuffer; offset: number }

export interface QueueConfigMsg { descAddr: number; availAddr: number; usedAddr: number; size: number; eventIdx: boolean; indirect?: boolean }

export type ToWorker =
  /** memGen: which memory table `regions` came from; a new table (even of the same layout) has a new one. */
  | { t: 'start'; dev: number; index: number; port: number; dir: 'receiveq' | 'transmitq'; regions: RegionInit[]; memGen: number; config: QueueConfigMsg; lastAvailIdx: number; usedIdx: number; kickFd: number; callFd: number; window: number; outstanding: number;
      /** Chains after usedIdx may be in the port log already (an earlier engine or worker): reconcile the log first. */
      resumed: boolean }
  | { t: 'stop'; dev: number; index: number; req: number }
  | { t: 'send'; dev: number; port: number; bytes: Uint8Array }
  | { t: 'credit'; dev: number; port: number; bytes: number }
  /** The credit of one ring drain, every port at once: (dev, port, bytes) triples. */
  | { t: 'credits'; list: number[] }
  /** Open (options) or close (null) the port's log; answered with 'logged' (req 0: no answer). */
  | { t: 'log'; dev: number; port: number; options: PortLogOptions | null; req: number }
  /** Bytes for the port's log that did not come through the transmitq (emergency writes). */
  | { t: 'append'; dev: number; port: number; bytes: Uint8Array; at: number }
  | { t: 'forget'; dev: number }
  /** The main thread freed ring space the worker was waiting for. */
  | { t: 'space' }
  /** Test hook: throw on the worker's event loop (an uncaught error ends the worker). */
  | { t: 'die' }
  /** Test hook: block the worker's event loop for `ms` (a hung worker). */
  | { t: 'stall'; ms: number }
  | { t: 'shutdown' };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'wrote'; dev: number; port: number; bytes: number; chains: number }
  /** Queue `index` is broken (BAD_RING); the error keeps its layer's name and reason (errors.ts). */
  | { t: 'error'; dev: number; index: number; error: ErrorWire }
  | { t: 'stopped'; req: number; lastAvailIdx: number }
  | { t: 'logged'; req: number; error: string | null }
  | { t: 'logFailed'; dev: number; port: number; message: string };

export interface ShardTaskData {
  port: MessagePort;
  /** Module specifier exporting eventfdRead/eventfdWrite/watchFd (or { native: … }). */
  nativeModule: string;
  batch: number;
  /**
   * Wake-up coalescing (ms, main-wake.ts): while ports stream, the main thread is woken at most
   * once per interval (or when a port used a quarter of its credit), so a stream costs it (and its
   * sinks) one pass per interval instead of one per chain. A port's first bytes after QUIET_MS of
   * silence, and the first after host→guest bytes on the port (a keystroke echo), wake it at once.
   * 0 = wake per pass.
   */
  coalesceMs: number;
  /** The shard's guest→host byte ring (byte-ring.ts); outlives worker restarts. */
  ring: SharedArrayBuffer;
}
