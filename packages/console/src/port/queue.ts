/**
 * The slice of @vtcon/ring's DeviceQueue that port servicing uses. Stated structurally so the
 * servicing code runs unchanged on the main thread and inside a piscina worker, and so unit tests
 * can drive it with a scripted queue.
 */
import type { RawChain } from '@vtcon/ring';

export interface ChainLike {
  head: number;
  readable: Uint8Array[];
  writable: Uint8Array[];
  readableBytes: number;
  writableBytes: number;
}

export interface DeviceQueueLike {
  popAvailable(): ChainLike | null;
  /** popAvailable into a reused chain (no allocation): false when the ring is empty. */
  popAvailableInto(out: RawChain): boolean;
  pushUsed(head: number, writtenLen: number): void;
  /** Write a used entry without publishing it (the driver sees it at publishUsed). */
  addUsed(head: number, writtenLen: number): void;
  publishUsed(): void;
  needsNotification(): boolean;
  enableNotification(): boolean;
  disableNotification(): void;
  readonly lastAvailIdx: number;
  readonly usedIdx: number;
}

/** A started queue as the device services it: the ring plus its two eventfds, abstracted. */
export interface QueueBinding {
  readonly index: number;
  readonly queue: DeviceQueueLike;
  /** Signal the driver (write the call eventfd). Throws a ConsoleError (scope 'queue') if it cannot. */
  notify(): void;
  /**
   * Run cb on each kick (the kick eventfd already read); returns a stopper. A kick fd that fails,
   * or a cb that throws, stops the watch and calls onError once (from the poll callback, or at
   * once if the fd cannot be watched at all).
   */
  watchKick(cb: () => void, onError: (e: unknown) => void): { stop(): void };
}
