/**
 * The interface a vhost-user back-end serves (EchoDevice here, @vtcon/console's ConsoleDevice).
 * One instance per connection (per VM).
 *
 * Caller contract: every method is called on the main thread, in protocol order, never
 * concurrently (the back-end awaits stopQueue before it handles the next request).
 */
import type { GuestMemory, QueueConfig } from '@vtcon/ring';
import type { InflightQueue } from '../memory/inflight.js';
import * as native from '../native.js';

export interface StartedQueue {
  index: number;
  memory: GuestMemory;
  /** Ring addresses already translated to guest-physical. */
  config: QueueConfig;
  /** From SET_VRING_BASE (avail) and the used ring's idx in guest memory (used). */
  lastAvailIdx: number;
  usedIdx: number;
  /**
   * The ring was running under an earlier engine (a held connection taken over): lastAvailIdx is
   * its used index, and chains after it may have been seen (logged) by that engine already.
   */
  resumed?: boolean;
  /**
   * Eventfds, checked by the back-end (real eventfds, kick readable, call writable) and made
   * non-blocking. The back-end owns and closes them, after stopQueue returns. -1 means none:
   * - kickFd -1: the front-end sent SET_VRING_KICK with the no-fd bit — the device polls the
   *   avail ring instead of waiting for kicks (spec "SET_VRING_KICK").
   * - callFd -1: SET_VRING_CALL with the no-fd bit, or none sent — no interrupt: the device must
   *   not signal (the front-end polls the used ring, spec "SET_VRING_CALL"). Use `signalCall(q)`,
   *   which does nothing then.
   * A new SET_VRING_CALL on a started queue restarts it (stopQueue, then startQueue with the new fd).
   */
  kickFd: number;
  callFd: number;
  /** To re-map guest memory in a worker thread if the SABs are not enough. */
  regionFds: { fd: number; size: number; offset: number; guestPhysAddr: number }[];
  /**
   * Inflight tracking, when the front-end gave a buffer (GET/SET_INFLIGHT_FD, protocol feature
   * INFLIGHT_SHMFD), else null/absent (optional so that hand-built StartedQueues stay valid). A device that uses it calls `inflight.popped(head)` after each
   * pop and completes chains with `inflight.pushUsed(dq, …)` / `addUsed`+`publishUsed` instead
   * of the DeviceQueue's own; then a back-end that dies at any point loses and repeats nothing
   * on this queue. Its SharedArrayBuffer stays valid only until stopQueue returns.
   */
  inflight?: InflightQueue | null;
  /**
   * Heads an earlier back-end popped and never used, oldest first (from the inflight region):
   * process them (DeviceQueue.readChain(head); they stay marked inflight) before popping more.
   * lastAvailIdx already counts them. Empty without inflight tracking.
   */
  resubmit?: readonly number[];
}

export interface BackendChannel {
  /** Sends BACKEND_CONFIG_CHANGE_MSG: the front-end re-reads config (GET_CONFIG). */
  configChanged(): void;
}

export interface VhostUserDevice {
  /** Virtio feature bits offered (VERSION_1 etc.). The back-end adds VHOST_USER_F_PROTOCOL_FEATURES. */
  readonly features: bigint;
  /** GET_QUEUE_NUM; SET_VRING_* with an index >= this is rejected. */
  readonly queueCount: number;
  readonly configSize: number;
  getConfig(offset: number, size: number): Uint8Array;
  setConfig?(offset: number, data: Uint8Array): void;
  setFeatures(acked: bigint): void;
  /** A queue became ready: memory known, addresses translated, kick fd set, enabled. */
  startQueue(index: number, q: StartedQueue): void;
  /** Disable / GET_VRING_BASE / disconnect: stop touching the ring and return its state. */
  stopQueue(index: number): Promise<{ lastAvailIdx: number }> | { lastAvailIdx: number };
  reset?(): void;
  attachBackendChannel?(ch: BackendChannel): void;
  /**
   * A held connection that outlived an earlier engine is about to be replayed into this device:
   * `state` is what that engine's device saved (through the holder) for it. Called before any
   * request of the connection.
   */
  adopt?(state: unknown): void;
  /** The connection is gone (after every started queue was stopped). */
  disconnected(): void;
}

/** pino-compatible subset; the default logger is silent. */
export interface Logger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Signal the driver that queue `q` has used buffers: writes 1 to its call eventfd. Returns false
 * (and does nothing) when the front-end gave no call fd (callFd -1: it polls). A saturated
 * counter (EAGAIN: an interrupt is already pending) counts as signalled. Any other failure
 * throws NativeError — call it where a throw ends that queue (e.g. inside a watchFd callback
 * with an onError that marks the queue broken), never the process.
 */
export function signalCall(q: { readonly callFd: number }, ops: { eventfdWrite(fd: number, value?: number): void } = native): boolean {
  if (q.callFd < 0) return false;
  try {
    ops.eventfdWrite(q.callFd, 1);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'EAGAIN') return true;
    throw e;
  }
  return true;
}
