/**
 * ClientFeed: sends one attach client the port's output from the log (LogStreamReader), as fast
 * as its socket takes it: one read into the client's one buffer, one socket write in flight, the
 * next read when that write was handed to the kernel. A slow client lags (its offset stays
 * behind), a fast one catches up; neither is disconnected, and daemon memory per client is one
 * buffer whatever the guest's rate. A client that fell behind what the log still holds gets a
 * visible marker with the count of skipped bytes, then continues at the oldest byte held.
 *
 * Wake-ups: wake() is called once per batch the port delivers (AttachServer.write, deferred to
 * one setImmediate for every client) and by the feed itself after each write; a busy feed
 * ignores it (it reads again when its write completes).
 *
 * Threading: main thread.
 */
import type { Socket } from 'node:net';
import type { LogStreamReader } from './log-stream-reader.js';

/** What a reader sees where bytes were rotated away before it read them. */
export function skippedMarker(bytes: number): Uint8Array {
  return Buffer.from(`\r\n[vtcon: ${bytes} bytes skipped]\r\n`, 'latin1');
}

/**
 * A reader behind `end` that got nothing (a write in flight, or a failed log that stopped
 * growing) looks again after this, doubling up to RETRY_MAX_MS while it keeps getting nothing.
 */
const RETRY_MS = 20;
const RETRY_MAX_MS = 1000;

export interface FeedCounters {
  /** Log bytes handed to the socket. */
  sent(n: number): void;
  skipped(n: number): void;
  failed(err: unknown): void;
}

export class ClientFeed {
  private busy = false;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private retryMs = RETRY_MS;
  constructor(
    private readonly socket: Socket, readonly reader: LogStreamReader, private readonly buf: Buffer, private readonly counters: FeedCounters,
  ) {}

  /** The client's one read buffer (its only memory in the daemon besides the socket's). */
  get bufferBytes(): number {
    return this.buf.length;
  }

  wake(): void {
    if (this.busy || this.closed) return;
    this.busy = true;
    this.step().catch((err: unknown) => {
      this.busy = false;
      if (!this.closed) this.counters.failed(err);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.reader.close();
  }

  private async step(): Promise<void> {
    const { n, skipped } = await this.reader.read(this.buf);
    if (this.closed) return;
    if (skipped > 0) {
      this.counters.skipped(skipped);
      this.socket.write(skippedMarker(skipped));
    }
    if (n === 0) {
      this.busy = false;
      if (this.reader.lag > 0 && !this.retry) {
        this.retry = setTimeout(() => { this.retry = null; this.wake(); }, this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      }
      return;
    }
    this.retryMs = RETRY_MS;
    this.counters.sent(n);
    // The buffer is reused only once the socket handed these bytes to the kernel.
    this.socket.write(this.buf.subarray(0, n), (err) => {
      this.busy = false;
      if (!err) this.wake();
    });
  }
}
