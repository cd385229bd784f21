/**
 * What the driver model needs from "the virtio bus": the seam between the seed's driver logic and
 * whatever carries it — our vhost-user frontend over a real socket (frontend-handle.ts) or an
 * in-process loopback to a ConsoleDevice (loopback.ts, for unit tests).
 * Caller contract: one driver per handle, main thread (or one worker) only.
 */
import type { DriverQueue, GuestMemory } from '@vtcon/ring';

export interface DriverQueueBinding {
  readonly index: number;
  readonly queue: DriverQueue;
  /** virtqueue_notify: write the kick eventfd (call only when kickPrepare() said so). */
  kick(): void;
  /** Run cb on each used-buffer interrupt (call eventfd). */
  watchCall(cb: () => void): { stop(): void };
}

export interface VirtioHandle {
  readonly deviceFeatures: bigint;
  /** virtio_negotiate_features + finalize: returns the features both sides have. */
  negotiate(wanted: bigint): Promise<bigint>;
  readConfig(offset: number, size: number): Promise<Uint8Array>;
  /** virtio_alloc_virtqueues: create `count` queues in index order. */
  allocQueues(count: number): Promise<DriverQueueBinding[]>;
  readonly memory: GuestMemory;
  /** Guest-physical memory for a buffer of len bytes (driver-owned, reused). */
  allocBuffer(len: number): number;
  /** virtio_config_change: register the config-change interrupt handler. */
  onConfigChange(cb: () => void): void;
  /** Stop the device (virtio_stop). */
  stop(): Promise<void>;
}
