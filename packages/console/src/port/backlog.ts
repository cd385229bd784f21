/**
 * Bounded host→guest backlog of one port.
 *
 * Policy: bytes the host sends wait here while the guest has no receive buffer posted. The backlog
 * accepts a whole `send` or nothing: when `bytes + chunk > limit` the send is refused with
 * ConsoleError('BACKLOG_FULL') so the caller knows; bytes are never dropped silently. Default
 * limit 1 MiB per port (a console at 115200 baud needs 90 s to produce that much).
 */
import { ConsoleError } from '../errors.js';

export const DEFAULT_BACKLOG_LIMIT = 1 << 20;

export class Backlog {
  private chunks: Uint8Array[] = [];
  /** Offset into chunks[0] already delivered. */
  private head = 0;
  private _bytes = 0;

  constructor(readonly limit: number = DEFAULT_BACKLOG_LIMIT) {
    if (!Number.isInteger(limit) || limit < 0) throw new ConsoleError('BAD_OPTIONS', `backlog limit ${limit}`);
  }

  /**
   * Bytes handed on (e.g. to a servicing worker) but not yet written into guest buffers: they
   * still count against the limit, so moving bytes to a worker never raises the bound.
   */
  reserved = 0;

  get bytes(): number { return this._bytes; }
  get empty(): boolean { return this._bytes === 0; }

  /** Accept all of `chunk` (copied) or throw BACKLOG_FULL. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this._bytes + this.reserved + chunk.length > this.limit) {
      throw new ConsoleError('BACKLOG_FULL', `backlog holds ${this._bytes + this.reserved} of ${this.limit} bytes; ${chunk.length} more refused (the guest is not reading)`);
    }
    this.chunks.push(chunk.slice());
    this._bytes += chunk.length;
  }

  /** Copy up to dst.length bytes into dst and consume them; returns the count. */
  takeInto(dst: Uint8Array): number {
    let n = 0;
    while (n < dst.length && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, dst.length - n);
      dst.set(c.subarray(this.head, this.head + k), n);
      n += k;
      this.head += k;
      if (this.head === c.length) { this.chunks.shift(); this.head = 0; }
    }
    this._bytes -= n;
    return n;
  }

  /** Remove and return everything (used when handing the backlog to a worker). */
  takeAll(): Uint8Array {
    const out = new Uint8Array(this._bytes);
    this.takeInto(out);
    return out;
  }

  clear(): number {
    const n = this._bytes;
    this.chunks = []; this.head = 0; this._bytes = 0;
    return n;
  }
}
