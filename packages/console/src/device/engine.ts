/**
 * PortQueueEngine: who services the port queues (not the control queues, which stay on the main
 * thread with the device). The device talks to one engine per connection: InlineEngine runs the
 * rings on the main thread; the worker engine (../worker/) runs them in piscina workers.
 *
 * Caller contract: all methods are called on the main thread by ConsoleDevice; the engine calls
 * the EngineHost callbacks on the main thread too.
 */
import type { StartedQueueLike } from './vhost-device.js';
import type { PortLogOptions } from '../sink/append-log.js';

export interface EngineHost {
  /**
   * guest→host bytes of port `port`, already pushed used. `bytes` may be a view valid only during
   * the call (a worker's byte ring): copy what must outlive it. Returns false to pause the transmitq.
   */
  received(port: number, bytes: Uint8Array, chains: number): boolean;
  /** Pull up to `max` host→guest bytes for the port (only when the guest may receive). */
  takeOutgoing(port: number, dst: Uint8Array): number;
  outgoingBytes(port: number): number;
  wrote(port: number, bytes: number, chains: number): void;
  queueFailed(index: number, error: unknown): void;
  /** Bytes taken with takeOutgoing but still held by the engine (+) or written/dropped (−). */
  inFlight(port: number, delta: number): void;
  /** The port's log failed (disk full, EIO...): from now on its bytes are not logged. */
  logFailed(port: number, message: string): void;
}

export interface PortQueueEngine {
  start(index: number, q: StartedQueueLike): void;
  stop(index: number): Promise<{ lastAvailIdx: number }> | { lastAvailIdx: number };
  /** There are host→guest bytes for the port: fill what the guest posted. */
  pumpReceive(port: number): void;
  /** A sink drained: consume the port's transmitq again. */
  resumeTransmit(port: number): void;
  /**
   * Open (options) or close (null) the port's log. The thread that services the port's transmitq
   * appends each batch to it before the chains are published used (see port/transmit.ts), so a
   * byte the guest saw acknowledged survives a crash of the daemon. Resolves once the file is open,
   * or closed and fsynced; rejects with the reason it could not be opened.
   */
  setLog(port: number, options: PortLogOptions | null): Promise<void>;
  /** Append bytes that did not come through the transmitq (emergency writes) to the port's log. */
  appendLog(port: number, bytes: Uint8Array, at: number): void;
  /** Stop every queue; close (fsync) every log. */
  close(): Promise<void> | void;
}
