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

/**
 * Pushes shorter than this are copied into a shared tail chunk of TAIL_BYTES. A chunk per push
 * let an attach client's one-byte frames make a million chunks of a 1 MiB backlog (~100 bytes of
 * heap each, and each taken with an O(n) shift: minutes of the main thread). Every chunk but the
 * last is now at least SMALL_PUSH bytes or followed by one that is: ≤ 2 × bytes / SMALL_PUSH + 1.
 */
const SMALL_PUSH = 4096;
const TAIL_BYTES = 16384;

export class Backlog {
  private chunks: Uint8Array[] = [];
  /** Offset into chunks[0] already delivered. */
  private head = 0;
  private _bytes = 0;
  /** When not null, the last chunk is tail[0, tailUsed): small pushes append to it. */
  private tail: Uint8Array | null = null;
  private tailUsed = 0;

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
    this.append(chunk);
    this._bytes += chunk.length;
  }

  /** Copy up to dst.length bytes into dst and consume them; returns the count. */
  takeInto(dst: Uint8Array): number {
    return this.consume(dst.length, dst);
  }

  /** Consume up to n bytes without copying them; returns the count. */
  skip(n: number): number {
    return this.consume(n, null);
  }

  /** Remove and return everything (used when handing the backlog to a worker). */
  takeAll(): Uint8Array {
    const out = new Uint8Array(this._bytes);
    this.takeInto(out);
    return out;
  }

  /** A copy of everything, consuming nothing. */
  peekAll(): Uint8Array {
    const out = new Uint8Array(this._bytes);
    let off = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const c = i === 0 ? this.chunks[0]!.subarray(this.head) : this.chunks[i]!;
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  clear(): number {
    const n = this._bytes;
    this.chunks = []; this.head = 0; this._bytes = 0; this.tail = null;
    return n;
  }

  private append(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n >= SMALL_PUSH) {
      this.chunks.push(chunk.slice());
      this.tail = null;
    } else if (this.tail !== null && this.tailUsed + n <= this.tail.length) {
      this.tail.set(chunk, this.tailUsed);
      this.tailUsed += n;
      this.chunks[this.chunks.length - 1] = this.tail.subarray(0, this.tailUsed);
    } else {
      this.tail = new Uint8Array(TAIL_BYTES);
      this.tail.set(chunk);
      this.tailUsed = n;
      this.chunks.push(this.tail.subarray(0, n));
    }
  }

  /** Consume up to `max` bytes from the front, copying them into dst when given. */
  private consume(max: number, dst: Uint8Array | null): number {
    let n = 0;
    while (n < max && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, max - n);
      dst?.set(c.subarray(this.head, this.head + k), n);
      n += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
        if (this.chunks.length === 0) this.tail = null; // the tail was the last chunk: all of it went
      }
    }
    this._bytes -= n;
    return n;
  }
}
